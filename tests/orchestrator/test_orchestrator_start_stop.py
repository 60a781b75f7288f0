"""Service layer: start, redeploy, rolling update, stop — through the GitHub and ECS stand-ins."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from support import World

from bot.domain import events as ev
from bot.domain import labels as L
from bot.domain.requester import Requester
from bot.errors import RefusedError, UserInputError
from bot.orchestrator.jobs import DuplicateRequestError, JobBusyError, JobKind, TtlParams
from bot.orchestrator.models import JobRequest

PR = 36121


def head7(world: World, pr: int = PR) -> str:
    return world.github_standin.head_sha(pr)[:7]


def test_fresh_start_runs_labels_and_one_service(world: World) -> None:
    world.github_standin.define_label("🎪 ⌛ 48h", "fff9c4")  # as in any repo that used showtime
    world.github_standin.reset_counts()
    job = world.start()
    sha = head7(world)
    assert job.state.value == "succeeded", job.outcome
    assert world.showtime_labels() == sorted(
        [
            f"🎪 {sha} 🚦 running",
            f"🎪 {sha} 📅 2026-03-02T09-00",
            f"🎪 {sha} 🌐 203.0.113.10:8080",
            f"🎪 {sha} 🤡 maintainer",
            f"🎪 🎯 {sha}",
            "🎪 ⌛ 48h",
        ]
    )
    services = world.services()
    assert [s["serviceName"] for s in services] == [f"pr-{PR}-{sha}-service"]
    assert world.health_urls[-1] == "http://203.0.113.10:8080/health"
    # The claim's definitions (🚦 deploying, 🏗️) do not pile up.
    assert f"🎪 🏗️ {sha}" not in world.github_standin.label_definitions()
    assert f"🎪 {sha} 🚦 deploying" not in world.github_standin.label_definitions()
    # SPEC §10 allows 14; we measured 9 with a cold label cache: GET the PR, GET the ⌛
    # definition (it exists), 2 definition creates (🚦 deploying; 🚦 running, made while ECS
    # works), POST the claim, GET + PUT running, 2 definition DELETEs (the claim's, once the
    # URL is announced). Fail if it grows.
    assert world.github_standin.total() <= 9, world.github_standin.counts()
    assert world.github_standin.total(method="GET") == 3
    kinds = [type(e).__name__ for e in world.events_of(job.id)]
    assert kinds[-2:] == ["Succeeded", "Ended"]
    steps = [e.step for e in world.events_of(job.id) if isinstance(e, ev.StepStarted)]
    assert steps == [
        "claim",
        "task_definition",
        "clear_name",
        "create_service",
        "wait_stable",
        "health",
        "labels_running",
    ]
    succeeded = [e for e in world.events_of(job.id) if isinstance(e, ev.Succeeded)]
    assert [e.url for e in succeeded] == ["http://203.0.113.10:8080"]


def test_task_definition_carries_feature_flags_and_image(world: World) -> None:
    world.start()
    import boto3

    ecs = boto3.client("ecs", region_name=world.network.region)
    service = world.services()[0]
    definition = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])[
        "taskDefinition"
    ]
    container = definition["containerDefinitions"][0]
    assert container["image"] == f"apache/superset:pr-{PR}-{head7(world)}-ci"
    env = {e["name"]: e["value"] for e in container["environment"]}
    assert env["SUPERSET_FEATURE_ALERT_REPORTS"] in ("True", "true")
    assert env["SUPERSET_FEATURE_DASHBOARD_RBAC"] in ("False", "false")


def test_stop_removes_service_labels_and_sha_definitions(world: World) -> None:
    world.start()
    world.github_standin.reset_counts()
    job = world.stop()
    assert job.state.value == "succeeded", job.outcome
    assert world.showtime_labels() == []
    assert world.services() == []
    assert [s["status"] for s in world.services(status=None)] == ["DRAINING"]
    assert world.sha_definitions() == []
    # Static definitions stay (they are shared with the CLI and people).
    assert "🎪 ⌛ 48h" in world.github_standin.label_definitions()
    # SPEC: ≤ 1 + labels removed (6: 🚦 📅 🌐 🤡 🎯 ⌛) + SHA definitions deleted (5) = 12.
    # Measured 8: GET the PR, GET + PUT the labels, 5 definition DELETEs.
    assert world.github_standin.total() <= 8, world.github_standin.counts()


def test_stop_then_start_waits_out_draining(world: World) -> None:
    world.start()
    world.stop()
    job = world.start()
    assert job.state.value == "succeeded", job.outcome
    waits = [e for e in world.events_of(job.id) if isinstance(e, ev.Waiting)]
    assert any("DRAINING" in e.text for e in waits), waits
    assert len(world.services()) == 1


def test_redeploy_of_running_sha_updates_in_place(world: World) -> None:
    world.start()
    before = world.ecs_standin.calls.copy()
    job = world.start()
    assert job.state.value == "succeeded", job.outcome
    assert job.record.mode == "redeploy"
    calls = world.ecs_standin.calls - before
    assert calls["UpdateService"] == 1
    assert calls["CreateService"] == 0 and calls["DeleteService"] == 0
    sha = head7(world)
    assert f"🎪 {sha} 🚦 running" in world.labels()
    assert f"🎪 🎯 {sha}" in world.labels()


def test_rolling_update_keeps_old_serving_until_new_is_healthy(world: World) -> None:
    world.start()
    old = head7(world)
    new = world.github_standin.push_commit(PR)[:7]
    seen_old_status: list[list[str]] = []

    def health(url: str) -> int:
        seen_old_status.append([s["serviceName"] for s in world.services()])
        return 200

    world.health = health
    world.github_standin.reset_counts()
    job = world.start()
    assert job.state.value == "succeeded", job.outcome
    assert job.record.mode == "rolling"
    assert world.github_standin.total() <= 13, world.github_standin.counts()  # the CLI: 44
    # While the new one was health-checked, the old one still served.
    assert f"pr-{PR}-{old}-service" in seen_old_status[0]
    assert [s["serviceName"] for s in world.services()] == [f"pr-{PR}-{new}-service"]
    labels = world.labels()
    assert f"🎪 🎯 {new}" in labels and f"🎪 🎯 {old}" not in labels
    assert not L.labels_of_sha(labels, old)
    assert not [d for d in world.sha_definitions() if old in d]


def test_start_of_explicit_sha_must_be_a_pr_commit(world: World) -> None:
    with pytest.raises(UserInputError, match="not a commit of #36121"):
        world.start(sha="deadbee")
    assert world.showtime_labels() == [] and world.services() == []


def test_blocked_pr_refuses_every_change(world: World) -> None:
    world.github_standin.add_pr(36130, "blocked one", "", labels=[L.BLOCKED])
    world.ecs_standin.reset()
    for kind in (JobKind.START, JobKind.STOP, JobKind.FREEZE, JobKind.TTL):
        with pytest.raises(RefusedError, match="showtime-blocked"):
            world.run(
                JobRequest(
                    kind=kind,
                    pr=36130,
                    requester=Requester.slack("U1"),
                    params=TtlParams(ttl="24h"),
                )
            )
    assert world.labels(36130) == [L.BLOCKED]
    assert world.services() == []
    assert sum(world.ecs_standin.calls.values()) == 0  # refused before any AWS call


def test_closed_pr_is_refused(world: World) -> None:
    with pytest.raises(UserInputError, match="merged"):
        world.start(pr=36000)
    assert world.services() == []


def test_unknown_pr_says_so(world: World) -> None:
    with pytest.raises(UserInputError, match="does not exist"):
        world.start(pr=99999)


def test_concurrent_starts_make_one_job(world: World) -> None:
    results: list[object] = []
    barrier = threading.Barrier(10)

    def attempt() -> None:
        barrier.wait()
        try:
            results.append(
                world.orchestrator.jobs.begin(
                    JobRequest(kind=JobKind.START, pr=PR, requester=Requester.slack("U1", "one"))
                )
            )
        except JobBusyError as exc:
            results.append(exc)

    threads = [threading.Thread(target=attempt) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    jobs = [r for r in results if not isinstance(r, JobBusyError)]
    busy = [r for r in results if isinstance(r, JobBusyError)]
    assert len(jobs) == 1 and len(busy) == 9
    assert all(b.job.id == jobs[0].id and "is busy" in str(b) for b in busy)  # type: ignore[union-attr]


def test_same_idempotency_key_makes_one_job(world: World) -> None:
    request = JobRequest(
        kind=JobKind.START,
        pr=PR,
        requester=Requester.slack("U1"),
        idempotency_key="slash:trigger-1",
    )
    job = world.orchestrator.jobs.begin(request)
    with pytest.raises(DuplicateRequestError) as caught:
        world.orchestrator.jobs.begin(request)
    assert caught.value.job.id == job.id


def test_stale_claim_is_taken_over_and_said_so(world: World) -> None:
    sha = head7(world)
    old = (world.clock.now() - timedelta(hours=3)).strftime("%Y-%m-%dT%H-%M")
    world.github_standin.add_pr(
        36140,
        "stale",
        "",
        labels=[f"🎪 {sha} 🚦 building", f"🎪 🏗️ {sha}", f"🎪 {sha} 📅 {old}", "🎪 ⌛ 24h"],
    )
    world.github_standin.push_commit(36140, world.github_standin.head_sha(PR))
    job = world.start(pr=36140)
    assert job.state.value == "succeeded", job.outcome
    warnings = [e.text for e in world.events_of(job.id) if isinstance(e, ev.Warning)]
    assert any("took over a stale claim" in w for w in warnings)
    assert f"🎪 {sha} 🚦 running" in world.labels(36140)


def test_fresh_claim_by_another_tool_is_refused(world: World) -> None:
    sha = head7(world)
    recent = world.clock.now().strftime("%Y-%m-%dT%H-%M")
    world.github_standin.add_pr(
        36141, "busy", "", labels=[f"🎪 {sha} 🚦 deploying", f"🎪 {sha} 📅 {recent}"]
    )
    world.github_standin.push_commit(36141, world.github_standin.head_sha(PR))
    with pytest.raises(RefusedError, match="already being deployed"):
        world.start(pr=36141)


@pytest.mark.parametrize("world_settings", [{"showtime_max_environments": 1}])
def test_max_environments_refuses_a_new_one_but_not_a_redeploy(
    world: World, world_settings: dict[str, Any]
) -> None:
    world.start(36121)
    with pytest.raises(RefusedError, match="limit is 1"):
        world.start(36122)
    assert world.start(36121).state.value == "succeeded"


def test_missing_image_fails_fast_and_retry_works(world: World) -> None:
    sha = head7(world)
    image = f"apache/superset:pr-{PR}-{sha}-ci"
    world.ecs_standin.mark_image_missing(image)
    job = world.start()
    assert job.state.value == "failed"
    assert "image not built yet" in (job.outcome or "")
    failed = next(e for e in world.events_of(job.id) if isinstance(e, ev.Failed))
    assert image in failed.reason
    assert world.services() == []  # the failed deploy deleted the service it created
    assert f"🎪 {sha} 🚦 failed" in world.labels()
    assert f"🎪 {sha} 🚦 deploying" not in world.labels()
    world.ecs_standin.mark_image_present(image)
    retry = world.start(sha=sha)
    assert retry.state.value == "succeeded", retry.outcome
    assert f"🎪 {sha} 🚦 running" in world.labels()
    assert f"🎪 {sha} 🚦 failed" not in world.labels()


def test_ttl_freeze_and_extend(world: World) -> None:
    world.start()
    world.run(
        JobRequest(
            kind=JobKind.TTL, pr=PR, requester=Requester.slack("U1"), params=TtlParams(ttl="72h")
        )
    )
    assert [n for n in world.labels() if "⌛" in n] == ["🎪 ⌛ 72h"]
    world.run(
        JobRequest(
            kind=JobKind.TTL, pr=PR, requester=Requester.slack("U1"), params=TtlParams(extend=True)
        )
    )
    assert [n for n in world.labels() if "⌛" in n] == ["🎪 ⌛ 1w"]
    world.run(JobRequest(kind=JobKind.FREEZE, pr=PR, requester=Requester.slack("U1")))
    assert L.FREEZE in world.labels()
    world.run(JobRequest(kind=JobKind.UNFREEZE, pr=PR, requester=Requester.slack("U1")))
    assert L.FREEZE not in world.labels()


def test_an_unfreeze_names_the_commit_pushed_while_frozen_and_deploys_nothing(
    world: World,
) -> None:
    world.start()
    running = head7(world)
    world.run(JobRequest(kind=JobKind.FREEZE, pr=PR, requester=Requester.slack("U1")))
    unchanged = world.run(JobRequest(kind=JobKind.UNFREEZE, pr=PR, requester=Requester.slack("U1")))
    assert unchanged.outcome == f"#{PR} is unfrozen"  # nothing new: nothing more to say
    world.run(JobRequest(kind=JobKind.FREEZE, pr=PR, requester=Requester.slack("U1")))
    newer = world.github_standin.push_commit(PR)[:7]

    job = world.run(JobRequest(kind=JobKind.UNFREEZE, pr=PR, requester=Requester.slack("U1")))

    assert job.outcome == (
        f"#{PR} is unfrozen; it runs `{running}`, and its newest commit `{newer}` is not "
        "deployed: press *Redeploy* to deploy it"
    )
    assert [s["serviceName"] for s in world.services()] == [f"pr-{PR}-{running}-service"]


@pytest.mark.parametrize("world_settings", [{"showtime_pr_comments": True}])
def test_pr_comments_when_enabled(world: World) -> None:
    world.start()
    world.stop()
    comments = world.github_standin.comments(PR)
    assert len(comments) == 2
    assert "runs" in comments[0] and "stopped" in comments[1]


def test_no_pr_comments_by_default(world: World) -> None:
    world.start()
    assert world.github_standin.comments(PR) == []


@pytest.mark.parametrize("world_settings", [{"showtime_job_workers": 1}])
def test_a_job_that_must_queue_says_so(world: World, world_settings: dict[str, Any]) -> None:
    orchestrator = world.orchestrator
    first = orchestrator.jobs.begin(
        JobRequest(kind=JobKind.START, pr=36121, requester=Requester.slack("U1"))
    )
    second = orchestrator.jobs.begin(
        JobRequest(kind=JobKind.START, pr=36122, requester=Requester.slack("U1"))
    )
    orchestrator.jobs.run(first)
    orchestrator.jobs.run(second)
    orchestrator.jobs.runner.wait_idle(30)
    queued = [e for e in world.events_of(second.id) if isinstance(e, ev.Queued)]
    assert queued and "1 job(s) ahead" in queued[0].text
    assert world.store.get(second.id).state.value == "succeeded"  # type: ignore[union-attr]


def test_failed_rolling_update_leaves_the_old_one_serving(world: World) -> None:
    world.start()
    old = head7(world)
    new = world.github_standin.push_commit(PR)[:7]
    world.ecs_standin.mark_image_missing(f"apache/superset:pr-{PR}-{new}-ci")
    job = world.start()
    assert job.state.value == "failed"
    assert [s["serviceName"] for s in world.services()] == [f"pr-{PR}-{old}-service"]
    labels = world.labels()
    assert f"🎪 🎯 {old}" in labels and f"🎪 {old} 🚦 running" in labels
    assert f"🎪 {new} 🚦 failed" in labels
    warnings = [e.text for e in world.events_of(job.id) if isinstance(e, ev.Warning)]
    assert any(f"{old} still serves" in w for w in warnings)


def test_permanent_aws_error_fails_fast_with_the_code(world: World) -> None:
    world.ecs_standin.fail_next(
        "DescribeServices",
        "AccessDeniedException",
        "User is not authorized to perform ecs:DescribeServices",
    )
    before = world.clock.monotonic()
    job = world.start()
    assert job.state.value == "failed"
    assert "AccessDeniedException" in (job.outcome or "") and "DescribeServices" in (
        job.outcome or ""
    )
    assert world.clock.monotonic() - before < 60  # no silent ten-minute wait
    assert world.services(status=None) == []
    sha = head7(world)
    assert f"🎪 {sha} 🚦 failed" in world.labels()
    failed = next(e for e in world.events_of(job.id) if isinstance(e, ev.Failed))
    assert failed.next_action


@pytest.mark.parametrize("world_settings", [{"showtime_drain_timeout_seconds": 60}])
def test_draining_that_outlasts_the_timeout_fails_with_retry_advice(world: World) -> None:
    world.start()
    world.stop()
    creates = world.ecs_standin.calls["CreateService"]
    job = world.start()
    assert job.state.value == "failed"
    assert "DRAINING" in (job.outcome or "")
    assert world.ecs_standin.calls["CreateService"] == creates  # no create attempted
    failed = next(e for e in world.events_of(job.id) if isinstance(e, ev.Failed))
    assert "retry" in (failed.reason + failed.next_action).lower()
