"""SPEC §13 at the service layer: the record of when environments ran, what they cost, the
monthly budget — on in-memory fakes of the ports and the fake clock (PostgreSQL for the race).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fakes import _Service
from support import FakeWorld, postgres_schema

from bot.adapters.store import SqlJobStore
from bot.domain import cost as C
from bot.domain import events as ev
from bot.domain.cost import Size
from bot.domain.naming import service_name
from bot.domain.requester import Requester
from bot.errors import RefusedError
from bot.orchestrator.jobs import Job, JobKind, JobState, TtlParams
from bot.orchestrator.models import JobRequest

PR = 36121
HOURLY = Decimal("0.03413")  # the bundled task definition at list prices, public IPv4


def sha7(world: FakeWorld, pr: int = PR) -> str:
    return world.gh.head_sha(pr)[:7]


def periods(world: FakeWorld) -> list[C.Period]:
    return world.store.environment_periods(datetime(2000, 1, 1, tzinfo=UTC))


def hours(count: float) -> float:
    return timedelta(hours=count).total_seconds()


def extend(world: FakeWorld, pr: int = PR) -> Job:
    return world.run(
        JobRequest(
            kind=JobKind.TTL,
            pr=pr,
            requester=Requester.slack("U1", "one"),
            params=TtlParams(extend=True),
        )
    )


def succeeded(world: FakeWorld, job: Job) -> ev.Succeeded:
    (event,) = [e for e in world.events_of(job.id) if isinstance(e, ev.Succeeded)]
    return event


# ----- the record of when environments ran ------------------------------------------------


def test_a_start_opens_a_period_of_its_size_and_a_stop_closes_it(fake_world: FakeWorld) -> None:
    world = fake_world
    world.start()
    (period,) = periods(world)
    name = service_name(PR, sha7(world))
    assert (period.service, period.pr, period.sha) == (name, PR, sha7(world))
    assert period.size == Size(512, 2048, public_ip=True)
    assert period.running and period.expires == period.started + timedelta(hours=48)

    world.clock.advance(hours(5))
    world.stop()
    (period,) = periods(world)
    assert period.stopped is not None and period.stopped - period.started >= timedelta(hours=5)
    # Stopped ones count in this month's spend.
    spend = world.orchestrator.queries.overview().spend
    assert spend.running == 0 and spend.hourly == 0 and spend.committed == 0
    assert spend.spent == HOURLY * C.hours(period.started, period.stopped)
    assert C.money(spend.spent) == "$0.17"


def test_rolling_updates_redeploys_and_failed_deploys_keep_the_record_right(
    fake_world: FakeWorld,
) -> None:
    world = fake_world
    world.start()
    first = sha7(world)
    world.clock.advance(hours(1))
    world.start()  # redeploy in place: a new task definition, the same service
    world.gh.push_commit(PR)
    world.clock.advance(hours(1))
    world.start()  # rolling update: the previous SHA retires
    second = sha7(world)
    world.gh.push_commit(PR)
    assert world.probe is not None
    world.probe.status = lambda url: 503
    failed = world.start()  # never healthy: its undo deletes what it created
    assert failed.state is JobState.FAILED
    third = sha7(world)

    record = [(p.sha, p.running) for p in periods(world)]
    assert record == [(first, False), (first, False), (second, True), (third, False)]
    one, redeployed, rolled, broken = periods(world)
    assert one.stopped == redeployed.started  # no gap, no overlap
    assert redeployed.stopped is not None and redeployed.stopped >= rolled.started
    assert broken.stopped is not None and broken.stopped > broken.started


def test_a_month_counts_only_its_own_part_of_an_environment(fake_world: FakeWorld) -> None:
    world = fake_world
    world.clock.advance(
        (datetime(2026, 3, 31, 20, 0, tzinfo=UTC) - world.clock.now()).total_seconds()
    )
    world.start()
    (period,) = periods(world)
    world.clock.advance(
        (datetime(2026, 4, 1, 6, 0, tzinfo=UTC) - world.clock.now()).total_seconds()
    )
    spend = world.orchestrator.queries.overview().spend
    assert spend.month == datetime(2026, 4, 1, tzinfo=UTC)
    assert spend.spent == HOURLY * 6  # March's four hours are March's
    assert spend.hourly == HOURLY and spend.running == 1
    assert spend.committed == C.cost(HOURLY, world.clock.now(), period.expires or world.clock.now())


def test_the_sweeper_records_what_runs_without_the_bot_and_what_went_without_it(
    fake_world: FakeWorld,
) -> None:
    world = fake_world
    assert world.aws is not None
    world.start()
    # The superset-showtime CLI runs #36122 on a bigger task definition, unknown to the bot.
    arn = "arn:aws:ecs:us-west-2:000000000000:task-definition/superset-ci-cli:7"
    world.aws.sizes[arn] = Size(1024, 4096)
    created = world.clock.now() - timedelta(hours=3)
    name = service_name(36122, "c1c1c1c")
    world.aws._services[name] = _Service(
        name, 36122, "c1c1c1c", Requester.github("cli"), created, task_definition=arn
    )
    world.orchestrator.sweep()
    cli = next(p for p in periods(world) if p.pr == 36122)
    assert (cli.size, cli.started, cli.running) == (Size(1024, 4096, True), created, True)
    # Its estimate in `list`: 1 vCPU, 4 GB, one IPv4 = 0.04048 + 0.01778 + 0.005 an hour.
    views = {v.pr: v for v in world.orchestrator.queries.overview().environments}
    assert views[36122].estimate is not None
    assert views[36122].estimate.hourly == Decimal("0.06326")
    assert views[PR].estimate is not None and views[PR].estimate.hourly == HOURLY

    # Someone deletes ours in the console: the next sweep ends its period.
    world.aws.delete_service(service_name(PR, sha7(world)))
    world.clock.advance(hours(1))
    world.orchestrator.sweep()
    ours = next(p for p in periods(world) if p.pr == PR)
    assert not ours.running


# ----- what it costs, where people look ----------------------------------------------------


def test_cost_on_the_outcome_in_status_in_list_and_in_the_expiry_warning(
    fake_world: FakeWorld,
) -> None:
    world = fake_world
    job = world.start()
    estimate = succeeded(world, job).estimate
    assert estimate is not None and estimate.hourly == HOURLY
    assert C.money(estimate.until_expiry or Decimal(0)) == "$1.64"  # 48 h from 📅, less seconds
    assert estimate.text().startswith("≈ $0.034/h · $0.00 so far · $1.6")

    world.clock.advance(hours(12))
    (view,) = world.orchestrator.queries.status(PR).environments
    assert view.estimate is not None
    assert view.estimate.text() == "≈ $0.034/h · $0.41 so far · $1.23 more until it expires"
    (listed,) = world.orchestrator.queries.overview().environments
    assert listed.estimate == view.estimate

    world.clock.advance(hours(35.5))
    world.orchestrator.sweep()
    (notice,) = world.recorder.notices
    assert "≈ $0.034/h · $1.62 so far · $0.02 more until it expires" in notice.text
    assert "Extend to 72h: adds ≈ $0.82 ($0.034/h)" in notice.text


def test_extend_says_what_it_adds_and_the_record_follows(fake_world: FakeWorld) -> None:
    world = fake_world
    world.start()
    job = extend(world)
    assert job.state is JobState.SUCCEEDED
    outcome = succeeded(world, job)
    assert outcome.text.endswith("TTL is now 72h (`🎪 ⌛ 72h`): adds ≈ $0.82 ($0.034/h)")
    (period,) = periods(world)
    assert period.expires == datetime(2026, 3, 5, 9, 0, tzinfo=UTC)  # 📅 09:00 on the 2nd + 72 h
    extend(world)  # 1w: Extend stops there (SPEC §17); close only when asked for
    last = world.run(
        JobRequest(
            kind=JobKind.TTL,
            pr=PR,
            requester=Requester.slack("U1", "one"),
            params=TtlParams(ttl="close"),
        )
    )
    assert (
        "no expiry now: ≈ $0.82 a day ($0.034/h) until the PR closes" in succeeded(world, last).text
    )
    assert periods(world)[0].expires is None
    estimate = succeeded(world, last).estimate
    assert estimate is not None and estimate.closes and "no expiry (TTL close)" in estimate.text()


# ----- the monthly budget -------------------------------------------------------------------


@pytest.mark.parametrize("world_settings", [{"showtime_monthly_budget": "3"}])
def test_a_start_past_the_budget_is_refused_with_the_figures_and_changes_nothing(
    fake_world: FakeWorld, world_settings: dict[str, Any]
) -> None:
    world = fake_world
    assert world.start(PR).state is JobState.SUCCEEDED  # $1.64 of $3.00
    with pytest.raises(RefusedError) as refused:
        world.start(36122)
    message = refused.value.message
    assert message.startswith(
        "#36122: this month's estimated spend would reach $3.28, past the $3.00 monthly budget (SHOWTIME_MONTHLY_BUDGET): "
    )
    assert (
        "$0.00 spent so far + $1.64 more for the 1 running environment until it expires" in message
    )
    assert "+ $1.64 for this environment (48h at ≈ $0.034/h)" in message
    assert "`/showtime start 36122 ttl=24h`" in refused.value.next_action
    assert "SHOWTIME_MONTHLY_BUDGET" in refused.value.next_action
    assert world.labels(36122) == [] and world.service_names() == [service_name(PR, sha7(world))]
    # A shorter TTL fits: 24 h is $0.82.
    assert world.start(36122, ttl="24h").state is JobState.SUCCEEDED


@pytest.mark.parametrize("world_settings", [{"showtime_monthly_budget": "1"}])
def test_redeploys_and_rolling_updates_are_never_refused(
    fake_world: FakeWorld, world_settings: dict[str, Any]
) -> None:
    world = fake_world
    assert world.start(PR, ttl="24h").state is JobState.SUCCEEDED  # $0.82 of $1.00
    with pytest.raises(RefusedError, match="monthly budget"):
        world.start(36122, ttl="24h")
    redeploy = world.start(PR)
    assert redeploy.state is JobState.SUCCEEDED and redeploy.record.mode == "redeploy"
    world.gh.push_commit(PR)
    rolling = world.start(PR)
    assert rolling.state is JobState.SUCCEEDED and rolling.record.mode == "rolling"


@pytest.mark.parametrize("world_settings", [{"showtime_monthly_budget": "2"}])
def test_an_extend_past_the_budget_is_refused_and_the_ttl_stays(
    fake_world: FakeWorld, world_settings: dict[str, Any]
) -> None:
    world = fake_world
    world.start()
    with pytest.raises(RefusedError) as refused:
        extend(world)
    assert "+ $0.82 for the extension to 72h (≈ $0.034/h)" in refused.value.message
    assert "past the $2.00 monthly budget" in refused.value.message
    assert "keeps its current TTL" in refused.value.next_action
    assert "🎪 ⌛ 48h" in world.labels()
    # Shortening always fits.
    shorter = world.run(
        JobRequest(
            kind=JobKind.TTL, pr=PR, requester=Requester.slack("U1"), params=TtlParams(ttl="24h")
        )
    )
    assert shorter.state is JobState.SUCCEEDED
    assert re.search(r"≈ \$0\.82 less", succeeded(world, shorter).text)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def two_replicas(request: pytest.FixtureRequest, fake_world: FakeWorld) -> Iterator[list[Any]]:
    """Two orchestrators (replicas) on one job store: SQLite's file, or a PostgreSQL schema."""
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = fake_world.settings.showtime_db_url
        else:
            url = stack.enter_context(postgres_schema())
        fake_world.orchestrator.shutdown(5)  # the fixture's own: the replicas replace it
        stores = [SqlJobStore(url, clock=fake_world.clock) for _ in range(2)]
        orchestrators = []
        for store in stores:
            fake_world.store = store
            orchestrators.append(fake_world.build_orchestrator())
        try:
            yield orchestrators
        finally:
            for orchestrator in orchestrators:
                orchestrator.shutdown(5)
            for store in stores:
                store.close()


@pytest.mark.parametrize("world_settings", [{"showtime_monthly_budget": "2"}])
def test_two_starts_at_once_cannot_both_slip_under_the_budget(
    fake_world: FakeWorld, two_replicas: list[Any], world_settings: dict[str, Any]
) -> None:
    """$2.00 has room for one 48 h environment ($1.64), not two, however they race."""
    # Both read this month's spend before either holds anything: the worst interleaving.
    gate = threading.Barrier(2, timeout=10)
    for orchestrator in two_replicas:
        store = orchestrator.jobs.store
        read = store.environment_periods

        def periods_after_the_other(since: datetime, read: Any = read) -> list[C.Period]:
            found = read(since)
            gate.wait()
            return found

        store.environment_periods = periods_after_the_other
    for _round in range(3):
        results, began = _start_both_at_once(two_replicas)
        refused = [r for r in results if isinstance(r, RefusedError)]
        assert len(results) == 2 and len(refused) == 1, results
        assert (
            "monthly budget" in refused[0].message
            and "$1.64 for this environment" in refused[0].message
        )
        # The winner's hold ends with its job; nothing ran, so the next round starts even.
        winner = next(r for r in results if isinstance(r, Job))
        began[winner.id].jobs.abandon(winner.id, "test round over")


def _start_both_at_once(replicas: list[Any]) -> tuple[list[object], dict[str, Any]]:
    """A start of #36122 on one replica and of #36123 on the other, released together."""
    barrier = threading.Barrier(2)
    results: list[object] = []
    began: dict[str, Any] = {}

    def attempt(orchestrator: Any, pr: int) -> None:
        barrier.wait()
        try:
            job = orchestrator.jobs.begin(
                JobRequest(kind=JobKind.START, pr=pr, requester=Requester.slack("U1"))
            )
            began[job.id] = orchestrator
            results.append(job)
        except RefusedError as exc:
            results.append(exc)

    threads = [
        threading.Thread(target=attempt, args=(o, pr))
        for o, pr in zip(replicas, (36122, 36123), strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results, began
