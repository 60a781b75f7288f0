"""SPEC §12 at the service layer: fencing, atomic limits, cleanup that does not trust search,
failed deploys finished by the sweeper, and infrastructure details kept from people.

Each test reproduces a defect found in review (issue 10) and fails without its fix.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from support import World, age_jobs, at_once, postgres_schema

from bot.adapters.store import SqlJobStore
from bot.domain import events as ev
from bot.domain.requester import Requester
from bot.errors import RefusedError
from bot.orchestrator.jobs import Job, JobKind, JobState, TtlParams
from bot.orchestrator.models import JobRequest

PR = 36121


def sha7(world: World, pr: int = PR) -> str:
    return world.github_standin.head_sha(pr)[:7]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def shared_store_url(request: pytest.FixtureRequest, world: World) -> Iterator[str]:
    """One job store two orchestrators share: the world's SQLite file, or a PostgreSQL schema."""
    if request.param == "sqlite":
        yield world.settings.showtime_db_url
        return
    with postgres_schema() as url:
        yield url


# ----- 1. two replicas, one job: the one that lost it undoes nothing ----------------------


def test_a_replica_that_lost_its_job_stops_and_undoes_nothing(
    world: World, shared_store_url: str
) -> None:
    first_store = SqlJobStore(shared_store_url, clock=world.clock)
    second_store = SqlJobStore(shared_store_url, clock=world.clock)
    world.store = first_store
    first = world.build_orchestrator()
    world.store = second_store
    second = world.build_orchestrator()

    # The first replica's health check is where it "pauses" (GC, VM freeze, failover).
    paused, resume = threading.Event(), threading.Event()
    health_calls: list[str] = []

    def health(url: str) -> int:
        health_calls.append(url)
        if len(health_calls) == 1:
            paused.set()
            resume.wait(30)
        return 200

    world.health = health
    job = first.jobs.begin(
        JobRequest(kind=JobKind.START, pr=PR, requester=Requester.slack("U1", "one"))
    )
    first.jobs.run(job)
    assert paused.wait(30), "the first replica never reached its health check"

    # Past the orphan limit without a heartbeat: the second replica adopts and finishes it.
    age_jobs(second_store, 31)
    assert [j.id for j in second.resume_orphans(30)] == [job.id]
    done = second.wait(job.id, 60)
    assert done is not None and done.state is JobState.SUCCEEDED, done and done.outcome
    assert done.owner == second.owner

    resume.set()  # the first replica wakes up, mid-job
    assert first.jobs.runner.wait_idle(30)

    sha = sha7(world)
    assert [s["serviceName"] for s in world.services()] == [f"pr-{PR}-{sha}-service"]
    assert world.ecs_standin.calls["DeleteService"] == 0
    labels = world.labels()
    assert f"🎪 {sha} 🚦 running" in labels
    assert not any("failed" in name for name in labels), labels
    final = second_store.get(job.id)
    assert final is not None and final.state is JobState.SUCCEEDED and final.owner == second.owner
    assert not [e for e in world.events_of(job.id) if isinstance(e, ev.Failed)]
    for store in (first_store, second_store):
        store.close()


# ----- the environment limit, atomically ----------------------------------------------------


def test_two_simultaneous_starts_cannot_exceed_the_environment_limit(world: World) -> None:
    world.settings = world.settings.model_copy(update={"showtime_max_environments": 1})
    orchestrator = world.build_orchestrator()

    def begin(pr: int) -> Callable[[], Job]:
        request = JobRequest(kind=JobKind.START, pr=pr, requester=Requester.slack("U1"))
        return lambda: orchestrator.jobs.begin(request)

    results = at_once([begin(36121), begin(36122)], RefusedError)
    refused = [r for r in results if isinstance(r, RefusedError)]
    assert len(results) == 2 and len(refused) == 1, results
    assert "the limit is 1" in refused[0].message
    # The hold ends with its job: once the winner stops, the other PR may start.
    [winner] = [r for r in results if isinstance(r, Job)]
    orchestrator.jobs.run(winner)
    orchestrator.wait(winner.id, 60)
    assert winner.pr is not None
    world.stop(winner.pr)
    other = 36122 if winner.pr == 36121 else 36121
    assert world.start(other).state is JobState.SUCCEEDED


# ----- cleanup and the sweeper decide from the PR's own labels ------------------------------


def test_cleanup_right_after_a_deploy_keeps_it_although_search_lags(world: World) -> None:
    world.github_standin.pause_search_index()  # search has not seen the deploy's labels yet
    world.start()
    world.clock.advance(11 * 60)  # old enough to be an orphan if it had no labels
    world.orchestrator.sweeper.cleanup(dry_run=False)
    assert [s["serviceName"] for s in world.services()] == [f"pr-{PR}-{sha7(world)}-service"]
    assert f"🎪 {sha7(world)} 🚦 running" in world.labels()


def test_a_service_younger_than_ten_minutes_is_never_an_orphan(world: World) -> None:
    world.start()
    # The labels are not there (yet): the CLI creates the service before it labels.
    world.github_standin.set_labels(PR, [])
    dry = world.orchestrator.sweeper.cleanup(dry_run=True)
    assert "without labels" not in dry.text
    world.orchestrator.sweeper.cleanup(dry_run=False)
    assert len(world.services()) == 1
    world.clock.advance(11 * 60)
    world.orchestrator.sweeper.cleanup(dry_run=False)
    assert world.services() == []


def test_the_sweeper_does_not_cut_short_a_ttl_search_has_not_seen(world: World) -> None:
    world.start()  # ⌛ 48h
    world.github_standin.pause_search_index()
    world.run(
        JobRequest(
            kind=JobKind.TTL, pr=PR, requester=Requester.slack("U1"), params=TtlParams(ttl="1w")
        )
    )
    world.clock.advance(timedelta(hours=49).total_seconds())  # 48h is over, 1w is not
    world.orchestrator.sweep()
    world.orchestrator.jobs.runner.wait_idle(30)
    assert len(world.services()) == 1
    assert f"🎪 {sha7(world)} 🚦 running" in world.labels()


def test_the_sweeper_finishes_a_failed_deploy_whose_undo_failed(world: World) -> None:
    world.settings = world.settings.model_copy(update={"showtime_health_timeout_seconds": 30.0})
    world.build_orchestrator()
    world.health = lambda url: 503
    # Every DeleteService is throttled: the failed deploy cannot remove its own service.
    world.ecs_standin.throttle("DeleteService", 1.0)
    job = world.start()
    assert job.state is JobState.FAILED
    assert len(world.services()) == 1  # left running behind 🚦 failed
    assert f"🎪 {sha7(world)} 🚦 failed" in world.labels()

    world.ecs_standin.throttle("DeleteService", 0.0)  # AWS calms down
    world.orchestrator.sweep()
    world.orchestrator.jobs.runner.wait_idle(30)
    assert world.services() == []


# ----- what people see -----------------------------------------------------------------------


ARN_MESSAGE = (
    "User: arn:aws:sts::123456789012:assumed-role/showtime-bot/i-0abc is not authorized to "
    "perform: ecs:CreateService on resource: "
    "arn:aws:ecs:us-west-2:123456789012:service/superset-ci/pr-36121-abc1234-service"
)


def test_aws_messages_reach_people_without_arns_or_account_ids(world: World) -> None:
    world.settings = world.settings.model_copy(update={"showtime_pr_comments": True})
    world.build_orchestrator()
    world.ecs_standin.fail_next("CreateService", "AccessDeniedException", ARN_MESSAGE)
    job = world.start()
    assert job.state is JobState.FAILED
    failed = [e for e in world.events_of(job.id) if isinstance(e, ev.Failed)]
    shown = [failed[0].reason, failed[0].next_action, *world.github_standin.comments(PR)]
    assert "AccessDeniedException" in failed[0].reason
    for text_ in shown:
        assert "arn:" not in text_ and "123456789012" not in text_, text_


def test_finished_jobs_leave_the_orchestrators_memory(world: World) -> None:
    world.start()
    world.stop()
    world.start()
    assert world.orchestrator.jobs.cached() == 0
