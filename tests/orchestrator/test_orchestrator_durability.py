"""Nothing lost: restarts resume from the last finished step; sweeps and cleanup find leftovers."""

from __future__ import annotations

import re
from datetime import timedelta

from support import World

from bot.domain import events as ev
from bot.orchestrator.models import JobRequest

PR = 36121


def interrupt_when(world: World, predicate: object) -> None:
    """Stop the current orchestrator (as SIGTERM or a crash would) when an event matches."""
    orchestrator = world.orchestrator

    def listener(context: object, event: ev.Event) -> None:
        if predicate(event):  # type: ignore[operator]
            orchestrator.stopping.set()

    orchestrator.add_listener(listener)


def begin_and_run(world: World) -> str:
    job = world.orchestrator.begin(
        JobRequest(kind="start", pr=PR, requester="U1", requester_name="one")
    )
    world.orchestrator.run(job.id)
    world.orchestrator.wait(job.id, 30)
    return job.id


def test_restart_mid_draining_wait_resumes_with_one_service(world: World) -> None:
    world.start()
    world.stop()
    interrupt_when(world, lambda e: isinstance(e, ev.Waiting) and "DRAINING" in e.text)
    job_id = begin_and_run(world)
    cut = world.store.get(job_id)
    assert cut is not None and cut.live and cut.step == "task_definition"
    assert f"🎪 {world.github_standin.head_sha(PR)[:7]} 🚦 deploying" in world.labels()

    restarted = world.build_orchestrator()
    adopted = restarted.resume_orphans()
    assert [j.id for j in adopted] == [job_id]
    done = restarted.wait(job_id, 30)
    assert done is not None and done.state.value == "succeeded", done.outcome
    assert any(isinstance(e, ev.Resumed) for e in world.events_of(job_id))
    assert len(world.services()) == 1
    sha = world.github_standin.head_sha(PR)[:7]
    assert f"🎪 {sha} 🚦 running" in world.labels()


def test_restart_after_create_neither_creates_again_nor_deletes(world: World) -> None:
    interrupt_when(world, lambda e: isinstance(e, ev.StepStarted) and e.step == "wait_stable")
    job_id = begin_and_run(world)
    cut = world.store.get(job_id)
    assert cut is not None and cut.live and cut.step == "create_service"
    before = world.ecs_standin.calls.copy()

    restarted = world.build_orchestrator()
    restarted.resume_orphans()
    done = restarted.wait(job_id, 30)
    assert done is not None and done.state.value == "succeeded", done.outcome
    calls = world.ecs_standin.calls - before
    assert calls["CreateService"] == 0 and calls["DeleteService"] == 0
    assert len(world.services()) == 1


def test_job_cut_off_before_validation_is_closed_not_resumed(world: World) -> None:
    job = world.store.create_job(
        kind="start", requester="U1", lock_key=f"pr:{PR}", pr=PR, owner="dead-process"
    )
    restarted = world.build_orchestrator()
    restarted.resume_orphans()
    closed = world.store.get(job.id)
    assert closed is not None and closed.state.value == "failed"
    assert world.store.live_job(f"pr:{PR}") is None


def test_sweeper_stops_expired_and_keeps_close(world: World) -> None:
    world.start(36121)
    world.start(36122, ttl="close")
    world.clock.advance(timedelta(hours=49).total_seconds())
    world.orchestrator.sweep()
    world.orchestrator.runner.wait_idle(30)
    assert world.showtime_labels(36121) == []
    assert any("🚦 running" in n for n in world.labels(36122))
    assert [s["serviceName"].split("-")[1] for s in world.services()] == ["36122"]


def test_sweeper_warns_once_within_the_last_hour(world: World) -> None:
    world.start()
    world.clock.advance(timedelta(hours=47, minutes=30).total_seconds())
    world.orchestrator.sweep()
    world.orchestrator.sweep()
    warnings = [e for _, e in world.events if isinstance(e, ev.ExpiryWarning)]
    assert len(warnings) == 1 and warnings[0].pr == PR
    assert re.search(r"expires in (29|30)m; press Extend", warnings[0].text)


def test_sweeper_stops_environments_of_closed_prs(world: World) -> None:
    world.start()
    world.github_standin.close_pr(PR)
    world.orchestrator.sweep()
    world.orchestrator.runner.wait_idle(30)
    assert world.showtime_labels() == [] and world.services() == []


def test_cleanup_finds_each_kind_of_leftover(world: World) -> None:
    world.start(36121)  # healthy: must be left alone
    world.start(36122)
    world.start(36123)
    sha22 = world.github_standin.head_sha(36122)[:7]
    sha23 = world.github_standin.head_sha(36123)[:7]
    # 36122: labels say running, but the service is gone (labels without a service).
    import boto3

    boto3.client("ecs", region_name=world.network.region).delete_service(
        cluster=world.network.cluster, service=f"pr-36122-{sha22}-service", force=True
    )
    # 36123: someone removed the labels, the service still runs (an orphan service).
    world.orchestrator.github.remove_labels(
        36123, [n for n in world.showtime_labels(36123) if "⌛" not in n]
    )
    # A SHA label definition nobody carries.
    world.github_standin.define_label("🎪 abcdef0 🚦 running", "28a745", "stray")
    # A service without labels is an orphan only once older than 10 minutes (its labels
    # may be on their way): look later.
    world.clock.advance(11 * 60)

    dry = world.orchestrator.cleanup(dry_run=True)
    text = dry.text
    assert "#36122" in text and "no service" in text
    assert "#36123" in text and "without labels" in text
    assert "unattached" in text and "🎪 abcdef0 🚦 running" in text
    assert "#36121" not in text
    assert len(world.services()) == 2  # dry run changed nothing

    report = world.orchestrator.cleanup(dry_run=False)
    assert all(a.done for a in report.actions), report.text
    assert [s["serviceName"].split("-")[1] for s in world.services()] == ["36121"]
    # Nothing of 36122 ran any more: all its labels went, ⌛ included, as a stop does.
    assert world.showtime_labels(36122) == []
    assert "🎪 abcdef0 🚦 running" not in world.github_standin.label_definitions()
    assert f"pr-36123-{sha23}-service" not in [s["serviceName"] for s in world.services()]


def test_cleanup_stops_expired_and_closed(world: World) -> None:
    world.start(36121)
    world.start(36122)
    world.github_standin.close_pr(36122)
    world.clock.advance(timedelta(hours=50).total_seconds())
    report = world.orchestrator.cleanup(dry_run=False)
    text = report.text
    assert "#36121 expired" in text and "#36122 is closed" in text
    assert world.services() == []


def test_cleanup_never_deletes_under_a_job_that_started_after_its_plan(world: World) -> None:
    from bot.orchestrator.cleanup import plan_cleanup, run_cleanup

    world.start(36123)
    names = [n for n in world.showtime_labels(36123) if "⌛" not in n]
    world.orchestrator.github.remove_labels(36123, names)  # the service is now an orphan
    world.clock.advance(11 * 60)
    plan = plan_cleanup(world.orchestrator)
    assert any(p.kind == "delete_service" and p.pr == 36123 for p in plan)
    # Someone starts a deploy of 36123 between the plan and its execution.
    job = world.store.create_job(
        kind="start", requester="U1", lock_key="pr:36123", pr=36123, owner="another-replica"
    )
    actions = run_cleanup(world.orchestrator, plan, parent=None)
    refused = [a for a in actions if a.pr == 36123]
    assert refused and refused[0].error and "busy" in refused[0].error
    assert [s["serviceName"].split("-")[1] for s in world.services()] == ["36123"]
    assert world.store.live_job("pr:36123").id == job.id  # type: ignore[union-attr]
