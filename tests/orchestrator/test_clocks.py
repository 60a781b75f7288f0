"""One clock semantics: a job's wait ends the same way under a test's ``FakeClock`` as under
the system clock.

A deploy waits out a DRAINING service (150 s here); at that moment it is marked lost (another
replica adopted it), cancelled, or the process shuts down. Whatever the clock, the wait ends
at once — no fake time passes, no real second goes by — and ends the way its cause says: a
lost or interrupted job stays live and undoes nothing, a cancelled one undoes and ends
cancelled. Were ``FakeClock`` to run the wait to its deadline instead, the fake variant would
see 150 s pass and the deploy go on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import DRAIN_SECONDS, SLACK_USER, WORLD_START, FakeWorld, fake_world_on

from bot.clock import Clock, FakeClock, SystemClock
from bot.domain import events as ev
from bot.domain.requester import Requester
from bot.orchestrator.jobs import JobKind, JobState
from bot.orchestrator.models import JobRequest, Started

PR = 36121
HELD_SECONDS = 10.0  # how long a test waits for the job at most (real time)


@pytest.fixture(params=["fake clock", "system clock"])
def clocked(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FakeWorld]:
    """The orchestrator on fakes, on either clock; services are stable at once (a system
    clock would otherwise wait for real) but DRAINING lasts ``DRAIN_SECONDS``."""
    clock: Clock = FakeClock(WORLD_START) if request.param == "fake clock" else SystemClock()
    world = fake_world_on(clock, tmp_path, {}, stable_seconds=0)
    try:
        yield world
    finally:
        world.close()


class HeldAtDraining:
    """Holds a job's thread where it reports "DRAINING", until the test has acted."""

    def __init__(self, world: FakeWorld) -> None:
        self.reached = threading.Event()
        self.release = threading.Event()
        world.recorder.hooks.append(self._hook)

    def _hook(self, job: object, event: ev.Event) -> None:
        if isinstance(event, ev.Waiting) and event.state == "DRAINING":
            self.reached.set()
            assert self.release.wait(HELD_SECONDS), "the test never let the job go"


def deploy_into_draining(world: FakeWorld) -> tuple[str, HeldAtDraining]:
    """A start of a PR whose service was just stopped: it waits out DRAINING, held there."""
    world.start(PR)
    world.stop(PR)
    held = HeldAtDraining(world)
    answer = world.orchestrator.submit(
        JobRequest(kind=JobKind.START, pr=PR, requester=Requester.slack(SLACK_USER, "one"))
    )
    assert isinstance(answer, Started), answer
    assert held.reached.wait(HELD_SECONDS), "the start never reached the DRAINING wait"
    return answer.job.id, held


def seconds_until_it_stops(world: FakeWorld, job_id: str, held: HeldAtDraining) -> float:
    """Let the held job go into its wait; how long (on the world's clock) its work then ran."""
    began = world.clock.monotonic()
    held.release.set()
    assert world.orchestrator.jobs.runner.wait(job_id, HELD_SECONDS), "the job did not stop"
    return world.clock.monotonic() - began


def outcomes(world: FakeWorld, job_id: str) -> list[ev.Event]:
    return [e for e in world.events_of(job_id) if isinstance(e, ev.Outcome)]


def deploying(world: FakeWorld) -> bool:
    return f"🎪 {world.gh.head_sha(PR)[:7]} 🚦 deploying" in world.labels(PR)


def test_a_lost_jobs_draining_wait_ends_at_once_with_job_lost(
    clocked: FakeWorld, caplog: pytest.LogCaptureFixture
) -> None:
    world = clocked
    job_id, held = deploy_into_draining(world)
    world.orchestrator.jobs.runner.mark_lost(job_id)
    with caplog.at_level(logging.WARNING, logger="bot.orchestrator.execution"):
        assert seconds_until_it_stops(world, job_id, held) < 1.0
    assert "job lost to another process" in caplog.text
    # Another replica owns it now: this one said nothing, recorded nothing, undid nothing.
    job = world.store.get(job_id)
    assert job is not None and job.live and job.step == "task_definition"
    assert outcomes(world, job_id) == []
    assert deploying(world)
    assert world.service_names(status="DRAINING") == [
        f"pr-{PR}-{world.gh.head_sha(PR)[:7]}-service"
    ]


def test_a_cancel_ends_the_draining_wait_at_once_and_the_job_ends_cancelled(
    clocked: FakeWorld,
) -> None:
    world = clocked
    job_id, held = deploy_into_draining(world)
    assert world.orchestrator.jobs.runner.cancel(job_id, f"slack:{SLACK_USER}")
    assert seconds_until_it_stops(world, job_id, held) < 1.0
    job = world.store.get(job_id)
    assert job is not None and job.state is JobState.CANCELLED
    assert [type(e) for e in outcomes(world, job_id)] == [ev.Cancelled]
    assert not deploying(world)  # the claim was undone
    assert world.service_names() == []


def test_shutdown_ends_the_draining_wait_at_once_and_the_job_stays_to_resume(
    clocked: FakeWorld, caplog: pytest.LogCaptureFixture
) -> None:
    world = clocked
    job_id, held = deploy_into_draining(world)
    finished: list[bool] = []
    shutdown = threading.Thread(target=lambda: finished.append(world.orchestrator.shutdown(10)))
    with caplog.at_level(logging.INFO, logger="bot.orchestrator.execution"):
        shutdown.start()
        stopping = world.orchestrator.lifecycle.stopping
        assert stopping.wait(HELD_SECONDS), "shutdown never began"
        assert seconds_until_it_stops(world, job_id, held) < 1.0
        shutdown.join(HELD_SECONDS)
    assert finished == [True]
    assert "job paused by shutdown" in caplog.text
    job = world.store.get(job_id)
    assert job is not None and job.live and job.step == "task_definition"
    assert outcomes(world, job_id) == []
    assert deploying(world)


def test_the_same_wait_runs_to_its_end_when_nothing_stops_it(fake_world: FakeWorld) -> None:
    """The control: unstopped, the deploy waits DRAINING out (on the fake clock, in no real
    time), so the waits above did end early."""
    world = fake_world
    world.start(PR)
    world.stop(PR)
    began = world.clock.monotonic()
    done = world.start(PR)
    assert done.state is JobState.SUCCEEDED, done.outcome
    assert world.clock.monotonic() - began >= DRAIN_SECONDS
