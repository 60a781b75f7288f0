"""Control while it waits (SPEC §16): Cancel from inside any wait, and a queue of one per PR.

On the in-memory fakes and the fake clock: a cancel is pressed (``Jobs.cancel``) from inside
the wait itself — the listener that sees the wait's ``Waiting`` event presses it — so these
tests show the job stops *in* the wait, not after it, and how much fake time that took.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from support import SLACK_USER, FakeWorld, a_job

from bot.domain import events as ev
from bot.domain import labels as L
from bot.domain.requester import Requester
from bot.orchestrator.jobs import Job, JobKind, JobState, StartParams, StartRecord
from bot.orchestrator.models import (
    Busy,
    Cancelling,
    DroppedQueued,
    JobRequest,
    NothingToCancel,
    Queued,
    Reporting,
    Started,
)

PR = 36121
CANCELLER = Requester.slack("U0CANCELLER", "canceller")


def start_request(sha: str | None = None, user: str = SLACK_USER) -> JobRequest:
    return JobRequest(
        kind=JobKind.START,
        pr=PR,
        sha=sha,
        requester=Requester.slack(user, user.lower()),
        params=StartParams(),
        reporting=Reporting.in_pr_thread(),
    )


def cancel_when(world: FakeWorld, predicate: Callable[[ev.Event], bool]) -> dict[str, float]:
    """Press Cancel from inside the first wait whose event matches; when it was pressed."""
    pressed: dict[str, float] = {}

    def hook(job: Job, event: ev.Event) -> None:
        if "at" not in pressed and job.kind is JobKind.START and predicate(event):
            pressed["at"] = world.clock.monotonic()
            answer = world.orchestrator.jobs.cancel(PR, CANCELLER)
            assert isinstance(answer, Cancelling), answer

    world.recorder.hooks.append(hook)
    return pressed


def waiting_in(step: str) -> Callable[[ev.Event], bool]:
    return lambda event: isinstance(event, ev.Waiting) and event.step == step


def run_start(world: FakeWorld, request: JobRequest | None = None) -> Job:
    answer = world.orchestrator.submit(request or start_request())
    assert isinstance(answer, Started), answer
    done = world.orchestrator.wait(answer.job.id, 30)
    assert done is not None and not done.live
    return done


@pytest.mark.parametrize("wait", ["clear_name", "wait_stable", "health_check"])
def test_cancel_from_inside_each_wait_stops_the_job_and_leaves_nothing(
    fake_world: FakeWorld, wait: str
) -> None:
    world = fake_world
    assert world.aws is not None and world.probe is not None
    if wait == "clear_name":
        world.start()
        world.stop()  # the name is DRAINING now: the next start waits it out
        world.recorder.hooks.clear()
    before = world.showtime_labels()
    if wait == "health_check":
        world.probe.status = lambda url: 503  # Superset not up yet: it waits
    times: list[float] = []
    world.recorder.hooks.append(
        lambda job, event: (
            times.append(world.clock.monotonic()) if isinstance(event, ev.Cancelled) else None
        )
    )
    pressed = cancel_when(world, waiting_in(wait))

    job = run_start(world)

    assert job.state is JobState.CANCELLED, job.outcome
    assert "cancelled by slack:U0CANCELLER" in (job.outcome or "")
    assert times and times[0] - pressed["at"] <= 5.0  # SPEC §10, in the wait's own clock
    assert world.service_names() == []  # what it created is gone (or was never made)
    assert world.showtime_labels() == before  # the claim is undone
    assert world.aws.deregistered  # its task definition went too
    outcome = next(e for e in world.events_of(job.id) if isinstance(e, ev.Cancelled))
    assert outcome.by == CANCELLER.stored


def deploy_held(world: FakeWorld, *, health: int) -> tuple[Started, threading.Event]:
    """A deploy of the PR held inside its health check until the event is set; the check
    then answers ``health``."""
    assert world.probe is not None
    holding, let_go = threading.Event(), threading.Event()

    def status(url: str) -> int:
        holding.set()
        let_go.wait(10)
        return health

    world.probe.status = status
    started = world.orchestrator.submit(start_request())
    assert isinstance(started, Started) and holding.wait(10)
    return started, let_go


def test_cancelling_a_rolling_update_leaves_the_old_environment_running(
    fake_world: FakeWorld,
) -> None:
    world = fake_world
    world.start()
    old = world.gh.head_sha(PR)[:7]
    labels_before = world.showtime_labels()
    world.gh.push_commit(PR)
    new = world.gh.head_sha(PR)[:7]
    cancel_when(world, waiting_in("wait_stable"))

    job = run_start(world)

    assert job.state is JobState.CANCELLED
    assert world.service_names() == [f"pr-{PR}-{old}-service"]
    labels = world.showtime_labels()
    assert labels == labels_before and L.active_label(old) in labels
    assert not L.labels_of_sha(labels, new)


def test_a_cancel_too_late_is_said_and_the_environment_stays(fake_world: FakeWorld) -> None:
    world = fake_world
    job = world.start()
    answer = world.orchestrator.jobs.cancel(PR, CANCELLER)
    assert isinstance(answer, NothingToCancel) and job.state is JobState.SUCCEEDED
    assert len(world.service_names()) == 1


def test_a_cancel_pressed_on_another_replica_reaches_the_job(fake_world: FakeWorld) -> None:
    """The press lands on a replica that does not run the job: the store carries it, the
    owner passes it on (its cancels ticker) and the job's wait ends."""
    world = fake_world
    owner = world.orchestrator
    # The owner is busy in its health check, in real time.
    answer, let_go = deploy_held(world, health=503)

    other = world.build_orchestrator()  # a second replica on the same store and ports
    pressed = other.jobs.cancel(PR, CANCELLER)
    assert isinstance(pressed, Cancelling)
    assert owner.jobs.runner.control(answer.job.id).cancelled_by is None  # not told directly
    owner.jobs.pass_on_cancels()  # the owner's ticker, once a second
    let_go.set()

    done = owner.wait(answer.job.id, 30)
    assert done is not None and done.state is JobState.CANCELLED
    assert world.service_names() == []


def test_stop_during_a_deploy_cancels_it_then_stops(fake_world: FakeWorld) -> None:
    world = fake_world
    deploy, let_go = deploy_held(world, health=503)
    stop = world.orchestrator.submit(
        JobRequest(
            kind=JobKind.STOP, pr=PR, requester=CANCELLER, reporting=Reporting.in_pr_thread()
        )
    )
    assert isinstance(stop, Queued) and stop.entry.kind is JobKind.STOP
    let_go.set()

    done = world.orchestrator.wait(deploy.job.id, 30)
    assert done is not None and done.state is JobState.CANCELLED
    world.orchestrator.jobs.runner.wait_idle(30)
    stops = [j for j in world.store.recent(pr=PR) if j.kind is JobKind.STOP]
    assert [j.state for j in stops] == [JobState.SUCCEEDED]
    assert world.service_names() == [] and world.showtime_labels() == []
    # The cancel left nothing to stop: the thread says so, not that the stop was refused.
    told = [n.text for n in world.recorder.notices]
    assert any("had nothing left to do" in t for t in told) and not any(
        "refused" in t for t in told
    )


def test_a_newer_start_replaces_the_queued_one_and_its_asker_is_told(
    fake_world: FakeWorld,
) -> None:
    world = fake_world
    first, let_go = deploy_held(world, health=200)
    # Nobody is told "busy": the same commit is already being deployed …
    again = world.orchestrator.submit(start_request(user="U0SECOND"))
    assert isinstance(again, Busy) and again.job.id == first.job.id
    # … a new one waits, pinned to its SHA, and a newer request replaces it.
    second_sha = world.gh.push_commit(PR)
    second = world.orchestrator.submit(start_request(user="U0SECOND"))
    assert isinstance(second, Queued) and second.entry.sha == second_sha
    third_sha = world.gh.push_commit(PR)
    third = world.orchestrator.submit(start_request(user="U0THIRD"))
    assert isinstance(third, Queued) and third.replaced is not None
    assert third.replaced.id == second.entry.id
    told = [n for n in world.recorder.notices if n.to == Requester.slack("U0SECOND", "u0second")]
    assert told and "replaced by a newer request" in told[0].text
    # Replacing one's own queued request needs no notice: the answer says so.
    fourth = world.orchestrator.submit(start_request(user="U0THIRD"))
    assert isinstance(fourth, Queued) and fourth.replaced is not None
    assert not [n for n in world.recorder.notices if n.to is not None and n.to.id == "U0THIRD"]
    let_go.set()

    world.orchestrator.jobs.runner.wait_idle(30)
    starts = [j for j in world.store.recent(pr=PR) if j.kind is JobKind.START]
    deployed = [j.record.sha for j in reversed(starts)]  # type: ignore[union-attr]
    assert deployed == [first.job.record.sha, third_sha]  # type: ignore[union-attr]
    assert second_sha not in deployed
    assert world.service_names() == [f"pr-{PR}-{third_sha[:7]}-service"]


def test_cancel_queued_removes_it_before_it_runs(fake_world: FakeWorld) -> None:
    world = fake_world
    _, let_go = deploy_held(world, health=200)
    world.gh.push_commit(PR)
    queued = world.orchestrator.submit(start_request(user="U0SECOND"))
    assert isinstance(queued, Queued)
    dropped = world.orchestrator.jobs.cancel(PR, CANCELLER, queued_id=queued.entry.id)
    assert isinstance(dropped, DroppedQueued)
    let_go.set()
    world.orchestrator.jobs.runner.wait_idle(30)
    assert [j.kind for j in world.store.recent(pr=PR)] == [JobKind.START]


def test_the_queue_survives_a_restart(fake_world: FakeWorld) -> None:
    """A process that dies while a job runs and another waits: the next process adopts the
    job, and when it ends the waiting one runs — the queue lives in the store."""
    world = fake_world
    _, let_go = deploy_held(world, health=200)
    queued_sha = world.gh.push_commit(PR)
    assert isinstance(world.orchestrator.submit(start_request(user="U0SECOND")), Queued)
    world.orchestrator.lifecycle.stopping.set()  # the process goes away mid-health-check
    let_go.set()
    world.orchestrator.jobs.runner.wait_idle(30)
    assert world.store.queued_prs() == [PR]

    restarted = world.build_orchestrator()
    restarted.resume_orphans()
    restarted.jobs.runner.wait_idle(30)
    restarted.jobs.runner.wait_idle(30)
    assert world.store.queued_prs() == []
    assert world.service_names() == [f"pr-{PR}-{queued_sha[:7]}-service"]


def test_a_start_of_the_head_during_a_start_that_has_not_read_the_pr_yet_is_not_queued(
    fake_world: FakeWorld,
) -> None:
    """Two presses a moment apart: the first job exists but has not read the PR yet (its
    record has no SHA). Both deploy the head: the second is told it runs, not queued to
    redeploy the same commit afterwards."""
    just_begun = a_job(state=JobState.RUNNING, sha=None, record=StartRecord(), pr=PR)
    answer = fake_world.orchestrator.jobs.queue.enqueue(start_request(user="U0SECOND"), just_begun)
    assert isinstance(answer, Busy) and answer.job is just_begun
    assert fake_world.store.queued(PR) is None
    # A pinned commit that is not the one being deployed still waits its turn.
    pinned = fake_world.gh.push_commit(PR)
    request = start_request(user="U0SECOND")
    answer = fake_world.orchestrator.jobs.queue.enqueue(
        JobRequest(
            kind=request.kind,
            pr=PR,
            sha=pinned,
            requester=request.requester,
            params=request.params,
            reporting=request.reporting,
        ),
        a_job(state=JobState.RUNNING, sha=None, record=StartRecord(sha="0" * 40), pr=PR),
    )
    assert isinstance(answer, Queued) and answer.entry.sha == pinned
