"""Nothing lost: restarts resume from the last finished step; sweeps and cleanup find leftovers.

On in-memory fakes of the ports and the fake clock: these are about what the orchestrator
does across restarts and sweeps, not about wire formats (tests on the stand-ins cover those).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

from support import FakeWorld

from bot.domain import events as ev
from bot.domain.requester import CLEANUP, Requester
from bot.orchestrator.jobs import Job, JobKind, JobState, StartParams
from bot.orchestrator.models import JobRequest
from bot.orchestrator.sweeper import Action, Planned, Why

PR = 36121


def interrupt_when(world: FakeWorld, predicate: Callable[[ev.Event], bool]) -> None:
    """Stop the current orchestrator (as SIGTERM or a crash would) when an event matches."""
    orchestrator = world.orchestrator

    def hook(job: Job, event: ev.Event) -> None:
        if predicate(event):
            orchestrator.lifecycle.stopping.set()

    world.recorder.hooks.append(hook)


def begin_and_run(world: FakeWorld) -> str:
    job = world.orchestrator.jobs.begin(
        JobRequest(kind=JobKind.START, pr=PR, requester=Requester.slack("U1", "one"))
    )
    world.orchestrator.jobs.run(job)
    world.orchestrator.wait(job.id, 30)
    return job.id


def sha7(world: FakeWorld, pr: int = PR) -> str:
    return world.gh.head_sha(pr)[:7]


def test_restart_mid_draining_wait_resumes_with_one_service(fake_world: FakeWorld) -> None:
    world = fake_world
    world.start()
    world.stop()
    interrupt_when(world, lambda e: isinstance(e, ev.Waiting) and e.state == "DRAINING")
    job_id = begin_and_run(world)
    cut = world.store.get(job_id)
    assert cut is not None and cut.live and cut.step == "task_definition"
    assert f"🎪 {sha7(world)} 🚦 deploying" in world.labels()

    world.recorder.hooks.clear()
    restarted = world.build_orchestrator()
    adopted = restarted.resume_orphans()
    assert [j.id for j in adopted] == [job_id]
    done = restarted.wait(job_id, 30)
    assert done is not None and done.state is JobState.SUCCEEDED, done.outcome
    assert any(isinstance(e, ev.Resumed) for e in world.events_of(job_id))
    assert world.service_names() == [f"pr-{PR}-{sha7(world)}-service"]
    assert f"🎪 {sha7(world)} 🚦 running" in world.labels()


def test_restart_after_create_neither_creates_again_nor_deletes(fake_world: FakeWorld) -> None:
    world = fake_world
    interrupt_when(world, lambda e: isinstance(e, ev.StepStarted) and e.step == "wait_stable")
    job_id = begin_and_run(world)
    cut = world.store.get(job_id)
    assert cut is not None and cut.live and cut.step == "create_service"
    assert world.aws is not None
    before = world.aws.calls.copy()

    world.recorder.hooks.clear()
    restarted = world.build_orchestrator()
    restarted.resume_orphans()
    done = restarted.wait(job_id, 30)
    assert done is not None and done.state is JobState.SUCCEEDED, done.outcome
    calls = world.aws.calls - before
    assert calls["create_service"] == 0 and calls["delete_service"] == 0
    assert len(world.service_names()) == 1


def test_a_resumed_claim_reads_the_labels_again(fake_world: FakeWorld) -> None:
    """Labels may have moved while the job was cut off after validation: the claim uses
    what the PR carries now, not what was read before the restart."""
    world = fake_world
    job = world.orchestrator.jobs.begin(
        JobRequest(kind=JobKind.START, pr=PR, requester=Requester.slack("U1"))
    )
    world.gh.set_labels(PR, [*world.labels(), "🎪 🧊 showtime-freeze"])  # someone froze it
    restarted = world.build_orchestrator()  # the first process died before running it
    restarted.resume_orphans()
    done = restarted.wait(job.id, 30)
    assert done is not None and done.state is JobState.SUCCEEDED, done.outcome
    assert "🎪 🧊 showtime-freeze" in world.labels()


def test_job_cut_off_before_validation_is_closed_not_resumed(fake_world: FakeWorld) -> None:
    world = fake_world
    job = world.store.create_job(
        kind=JobKind.START,
        requester=Requester.slack("U1"),
        lock_key=f"pr:{PR}",
        pr=PR,
        owner="dead-process",
    )
    restarted = world.build_orchestrator()
    restarted.resume_orphans()
    closed = world.store.get(job.id)
    assert closed is not None and closed.state is JobState.FAILED
    assert world.store.live_job(f"pr:{PR}") is None


def test_sweeper_stops_expired_and_keeps_close(fake_world: FakeWorld) -> None:
    world = fake_world
    world.start(36121)
    world.start(36122, ttl="close")
    world.clock.advance(timedelta(hours=49).total_seconds())
    world.orchestrator.sweep()
    world.orchestrator.jobs.runner.wait_idle(30)
    assert world.showtime_labels(36121) == []
    assert any("🚦 running" in n for n in world.labels(36122))
    assert [n.split("-")[1] for n in world.service_names()] == ["36122"]


def test_sweeper_warns_once_within_the_last_hour(fake_world: FakeWorld) -> None:
    world = fake_world
    world.start()
    world.clock.advance(timedelta(hours=47, minutes=30).total_seconds())
    world.orchestrator.sweep()
    world.orchestrator.sweep()
    warnings = world.recorder.notices
    assert len(warnings) == 1 and warnings[0].pr == PR and warnings[0].offer == "extend"
    assert re.search(r"expires in (29|30)m; press Extend", warnings[0].text)


def test_at_the_longest_ttl_the_warning_offers_no_extend(fake_world: FakeWorld) -> None:
    world = fake_world
    world.start(ttl="1w")
    world.clock.advance(timedelta(days=7, minutes=-30).total_seconds())
    world.orchestrator.sweep()
    (warning,) = world.recorder.notices
    assert warning.offer == "none" and "Extend" not in warning.text
    assert f"`/showtime ttl {PR} close` keeps it until the PR closes" in warning.text


def test_sweeper_stops_environments_of_closed_prs(fake_world: FakeWorld) -> None:
    world = fake_world
    world.start()
    world.gh.close_pr(PR)
    world.orchestrator.sweep()
    world.orchestrator.jobs.runner.wait_idle(30)
    assert world.showtime_labels() == [] and world.service_names() == []


def test_cleanup_finds_each_kind_of_leftover(fake_world: FakeWorld) -> None:
    world = fake_world
    assert world.aws is not None
    world.start(36121)  # healthy: must be left alone
    world.start(36122)
    world.start(36123)
    sha22, sha23 = sha7(world, 36122), sha7(world, 36123)
    # 36122: labels say running, but the service is gone (labels without a service).
    world.aws.delete_service(f"pr-36122-{sha22}-service")
    # 36123: someone removed the labels, the service still runs (an orphan service).
    world.gh.set_labels(36123, [n for n in world.labels(36123) if "⌛" in n])
    # A SHA label definition nobody carries.
    world.gh.definitions.add("🎪 abcdef0 🚦 running")
    # A service without labels is an orphan only once older than 10 minutes.
    world.clock.advance(11 * 60)

    dry = world.orchestrator.sweeper.cleanup(dry_run=True)
    text = dry.text
    assert "#36122" in text and "no service" in text
    assert "#36123" in text and "without labels" in text
    assert "unattached" in text and "🎪 abcdef0 🚦 running" in text
    assert "#36121" not in text
    assert len(world.service_names()) == 2  # dry run changed nothing

    report = world.orchestrator.sweeper.cleanup(dry_run=False)
    assert all(a.done for a in report.actions), report.text
    assert world.service_names() == [f"pr-36121-{sha7(world, 36121)}-service"]
    assert f"pr-36123-{sha23}-service" not in world.service_names()
    # Nothing of 36122 ran any more: all its labels went, ⌛ included, as a stop does.
    assert world.showtime_labels(36122) == []
    assert "🎪 abcdef0 🚦 running" not in world.gh.definitions


def test_cleanup_stops_expired_and_closed(fake_world: FakeWorld) -> None:
    world = fake_world
    world.start(36121)
    world.start(36122)
    world.gh.close_pr(36122)
    world.clock.advance(timedelta(hours=50).total_seconds())
    report = world.orchestrator.sweeper.cleanup(dry_run=False)
    text = report.text
    assert "#36121 expired" in text and "#36122 is closed" in text
    assert world.service_names() == []


def test_cleanup_never_deletes_under_a_job_that_started_after_its_plan(
    fake_world: FakeWorld,
) -> None:
    world = fake_world
    world.start(36123)
    world.gh.set_labels(36123, [n for n in world.labels(36123) if "⌛" in n])  # an orphan now
    world.clock.advance(11 * 60)
    plan = world.orchestrator.sweeper.plan()
    assert (
        Planned(
            Action.DELETE_SERVICE,
            Why.UNLABELLED,
            36123,
            f"#36123: delete `pr-36123-{sha7(world, 36123)}-service`, which runs without labels",
            (f"pr-36123-{sha7(world, 36123)}-service",),
        )
        in plan
    )
    # Someone starts a deploy of 36123 between the plan and its execution.
    job = world.store.create_job(
        kind=JobKind.START,
        requester=Requester.slack("U1"),
        lock_key="pr:36123",
        pr=36123,
        owner="another-replica",
        params=StartParams(),
    )
    actions = world.orchestrator.sweeper.execute(plan, requester=CLEANUP)
    refused = [a for a in actions if a.pr == 36123]
    assert refused and refused[0].error and "busy" in refused[0].error
    assert len(world.service_names()) == 1
    assert world.store.live_job("pr:36123").id == job.id  # type: ignore[union-attr]


def test_cleanup_with_a_single_worker_runs_its_stops_without_deadlock(
    fake_world: FakeWorld,
) -> None:
    """Cleanup's stops run in cleanup's own thread: with one worker it used to wait forever
    for stop jobs queued behind itself."""
    world = fake_world
    world.start(36121)
    world.start(36122)
    world.gh.close_pr(36121)
    world.gh.close_pr(36122)
    world.settings = world.settings.model_copy(update={"showtime_job_workers": 1})
    orchestrator = world.build_orchestrator()
    job = orchestrator.jobs.begin(JobRequest(kind=JobKind.CLEANUP, requester=Requester.slack("U1")))
    orchestrator.jobs.run(job)
    done = orchestrator.wait(job.id, 10)
    assert done is not None and done.state is JobState.SUCCEEDED, done and done.outcome
    assert world.service_names() == []
