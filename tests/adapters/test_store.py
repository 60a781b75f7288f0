"""The job store on SQLite (a tmp file) and, when SHOWTIME_TEST_PG_URL is set, PostgreSQL.

Each PostgreSQL test gets its own schema (dropped afterwards), so tests stay independent of order
and of anything else using the database.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from support import age_jobs, postgres_schema

from bot.adapters.store import SqlJobStore
from bot.adapters.store_schema import normalise_url, safe_url
from bot.clock import FakeClock
from bot.domain.cost import Period, Size
from bot.domain.modes import DeployMode
from bot.domain.requester import SWEEPER, Requester
from bot.orchestrator.jobs import (
    DuplicateRequestError,
    Job,
    JobBusyError,
    JobKind,
    JobState,
    LostJobError,
    StartParams,
    StartRecord,
    StopRecord,
    StoreError,
)

MakeStore = Callable[..., SqlJobStore]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty database on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'jobs.db'}"
        return
    with postgres_schema() as url:
        yield url


@pytest.fixture
def make_store(store_url: str, clock: FakeClock) -> Iterator[MakeStore]:
    """Opens stores on the test's database; several stores stand for several processes."""
    opened: list[SqlJobStore] = []

    def make(**kwargs: Any) -> SqlJobStore:
        kwargs.setdefault("clock", clock)
        store = SqlJobStore(store_url, **kwargs)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(make_store: MakeStore) -> SqlJobStore:
    return make_store()


def run_at_once(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` on ``count`` threads released together; returns results or exceptions."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    return results


def start_job(store: SqlJobStore, pr: int = 36121, **kwargs: Any) -> Job:
    kwargs.setdefault("requester", Requester.slack("U123"))
    return store.create_job(kind=JobKind.START, lock_key=f"pr:{pr}", pr=pr, **kwargs)


# --- a job's life --------------------------------------------------------------------------------


def test_a_job_is_recorded_from_creation_to_its_outcome(
    store: SqlJobStore, clock: FakeClock
) -> None:
    created = store.create_job(
        kind=JobKind.START,
        requester=Requester.slack("U123", "maxime"),
        lock_key="pr:36121",
        pr=36121,
        sha="abc1234",
        params=StartParams(response_url="https://hooks.slack.test/1", ttl="48h"),
    )
    assert created.state is JobState.QUEUED and created.live
    assert len(created.id) == 32 and created.correlation_id == created.id[:8]
    assert store.get(created.id) == created

    clock.advance(1)
    store.set_thread(created.id, "C1", "1700000000.000100")
    running = store.mark_running(created.id, owner="web.1:42")
    assert running.state is JobState.RUNNING and running.owner == "web.1:42"

    clock.advance(5)
    registered = StartRecord(sha7="abc1234", mode=DeployMode.ROLLING, task_definition="arn:td/1")
    store.record_step(created.id, "task_definition", owner="web.1:42", record=registered)
    created_service = StartRecord(
        sha7="abc1234",
        mode=DeployMode.ROLLING,
        task_definition="arn:td/1",
        created_service=True,
        labels=("🎪 abc1234 🚦 deploying",),
    )
    stepped = store.record_step(
        created.id, "create_service", owner="web.1:42", record=created_service
    )
    assert stepped.step == "create_service"
    assert stepped.record == created_service
    assert store.get(created.id).record == created_service  # type: ignore[union-attr]

    clock.advance(60)
    finished = store.finish(created.id, JobState.SUCCEEDED, "running at http://10.0.0.1:8080")
    assert store.get(created.id) == finished
    assert finished.state is JobState.SUCCEEDED and not finished.live
    assert finished.outcome == "running at http://10.0.0.1:8080"
    assert (finished.channel, finished.thread_ts) == ("C1", "1700000000.000100")
    assert finished.params == StartParams(response_url="https://hooks.slack.test/1", ttl="48h")
    assert finished.created_at == datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
    assert finished.finished_at == finished.created_at + timedelta(seconds=66)
    assert store.live_job("pr:36121") is None


def test_times_come_back_timezone_aware_utc(make_store: MakeStore) -> None:
    paris = timezone(timedelta(hours=1))
    store = make_store(clock=FakeClock(start=datetime(2026, 3, 1, 9, 30, tzinfo=paris)))
    job = store.create_job(kind=JobKind.CLEANUP, requester=SWEEPER, owner="p1")
    reread = store.get(job.id)
    assert reread is not None
    for moment in (reread.created_at, reread.updated_at):
        assert moment == datetime(2026, 3, 1, 8, 30, tzinfo=UTC)
        assert moment is not None and moment.utcoffset() == timedelta(0)
    # Heartbeats are on the database's clock on PostgreSQL: only aware UTC is certain.
    assert reread.heartbeat_at is not None and reread.heartbeat_at.utcoffset() == timedelta(0)


def test_a_finished_job_cannot_change_again(store: SqlJobStore) -> None:
    job = start_job(store)
    store.finish(job.id, JobState.FAILED, "ECS said no")
    with pytest.raises(StoreError, match="already failed"):
        store.finish(job.id, JobState.SUCCEEDED, "fine after all")
    with pytest.raises(StoreError, match="failed"):
        store.record_step(job.id, "late_step", owner="U123-worker", record=StartRecord())
    assert store.get(job.id).outcome == "ECS said no"  # type: ignore[union-attr]


def test_unknown_jobs_and_wrong_states_are_refused(store: SqlJobStore) -> None:
    assert store.get("0" * 32) is None
    with pytest.raises(StoreError, match="not in the job store"):
        store.mark_running("0" * 32, owner="p1")
    job = start_job(store)
    with pytest.raises(ValueError):
        store.finish(job.id, JobState.RUNNING, "still going")
    with pytest.raises(ValueError):
        store.create_job(
            kind=JobKind.START, requester=Requester.slack("U1"), state=JobState.SUCCEEDED
        )


# --- idempotency ---------------------------------------------------------------------------------


def test_an_idempotency_key_is_used_once(store: SqlJobStore) -> None:
    first = start_job(store, idempotency_key="slack:trigger-1")
    with pytest.raises(DuplicateRequestError) as raised:
        start_job(store, pr=1, idempotency_key="slack:trigger-1")
    assert raised.value.job == first
    assert first.correlation_id in str(raised.value)

    store.finish(first.id, JobState.SUCCEEDED, "done")
    with pytest.raises(DuplicateRequestError) as again:
        start_job(store, idempotency_key="slack:trigger-1")
    assert again.value.job.id == first.id
    assert [job.id for job in store.recent()] == [first.id]


def test_a_retried_request_is_a_duplicate_not_busy(store: SqlJobStore) -> None:
    first = start_job(store, idempotency_key="k1")
    with pytest.raises(DuplicateRequestError):
        start_job(store, idempotency_key="k1")  # same PR, lock held by the same request
    with pytest.raises(JobBusyError) as busy:
        start_job(store, idempotency_key="k2")
    assert busy.value.job.id == first.id


def test_concurrent_requests_with_one_idempotency_key_make_one_job(store: SqlJobStore) -> None:
    results = run_at_once(
        10,
        lambda i: store.create_job(
            kind=JobKind.STOP, requester=Requester.slack(f"U{i}"), idempotency_key="same"
        ),
    )
    made = [r for r in results if isinstance(r, Job)]
    duplicates = [r for r in results if isinstance(r, DuplicateRequestError)]
    assert len(made) == 1 and len(duplicates) == 9, results
    assert {d.job.id for d in duplicates} == {made[0].id}


# --- one live job per lock key -------------------------------------------------------------------


def test_ten_threads_racing_for_a_pr_make_exactly_one_job(store: SqlJobStore) -> None:
    results = run_at_once(10, lambda i: start_job(store, requester=Requester.slack(f"U{i}")))
    made = [r for r in results if isinstance(r, Job)]
    busy = [r for r in results if isinstance(r, JobBusyError)]
    assert len(made) == 1 and len(busy) == 9, results
    winner = made[0]
    assert {b.job.id for b in busy} == {winner.id}
    assert all(b.job.lock_key == "pr:36121" and b.job.id == winner.id for b in busy)
    assert store.live_job("pr:36121") == winner
    assert [job.id for job in store.recent()] == [winner.id]


def test_two_processes_racing_for_a_pr_make_exactly_one_job(make_store: MakeStore) -> None:
    stores = [make_store() for _ in range(4)]
    results = run_at_once(8, lambda i: start_job(stores[i % 4], requester=Requester.slack(f"U{i}")))
    made = [r for r in results if isinstance(r, Job)]
    assert len(made) == 1
    assert all(isinstance(r, JobBusyError) for r in results if r is not made[0]), results


def test_after_finish_the_pr_takes_a_new_job(store: SqlJobStore) -> None:
    first = start_job(store)
    with pytest.raises(JobBusyError):
        store.create_job(
            kind=JobKind.STOP, requester=Requester.slack("U2"), lock_key="pr:36121", pr=36121
        )
    store.finish(first.id, JobState.FAILED, "boom")
    second = store.create_job(
        kind=JobKind.STOP, requester=Requester.slack("U2"), lock_key="pr:36121", pr=36121
    )
    assert second.live and store.live_job("pr:36121") == second


def test_jobs_with_other_keys_or_no_key_run_side_by_side(store: SqlJobStore) -> None:
    start_job(store, pr=1)
    start_job(store, pr=2)
    store.create_job(kind=JobKind.CLEANUP, requester=Requester.system("cli"), lock_key="cleanup")
    store.create_job(kind=JobKind.CLEANUP, requester=SWEEPER)
    store.create_job(kind=JobKind.CLEANUP, requester=SWEEPER)
    assert len(store.recent()) == 5
    assert store.live_job("pr:3") is None


# --- heartbeats and orphans ----------------------------------------------------------------------


def test_adopt_takes_a_job_with_an_old_heartbeat_and_leaves_a_fresh_one(
    make_store: MakeStore, clock: FakeClock
) -> None:
    web1, web2 = make_store(), make_store()
    stale = start_job(web1, pr=1, owner="web.1")
    web1.mark_running(stale.id, owner="web.1")
    mine = start_job(web2, pr=3, owner="web.2")  # as old as the stale one, and web.2's own
    age_jobs(web1, 40)
    fresh = start_job(web1, pr=2, owner="web.1")
    web1.mark_running(fresh.id, owner="web.1")
    before = web1.get(stale.id).heartbeat_at  # type: ignore[union-attr]

    # web.2 runs `mine` right now (keep): only the stale job of web.1 changes hands.
    adopted = web2.adopt_orphans("web.2", stale_after_seconds=30, keep=[mine.id])

    assert [job.id for job in adopted] == [stale.id]
    assert adopted[0].owner == "web.2" and adopted[0].heartbeat_at > before  # type: ignore[operator]
    assert adopted[0].state is JobState.RUNNING
    assert web2.get(fresh.id).owner == "web.1"  # type: ignore[union-attr]
    assert web2.adopt_orphans("web.2", stale_after_seconds=30, keep=[mine.id]) == []


def test_a_stale_job_of_its_own_is_adopted_too(make_store: MakeStore) -> None:
    """A job this process began but never ran (its intake failed) must not hold its PR."""
    store = make_store()
    stranded = start_job(store, pr=4, owner="web.1")
    age_jobs(store, 40)
    assert [j.id for j in store.adopt_orphans("web.1", stale_after_seconds=30)] == [stranded.id]


def test_heartbeats_keep_a_job_and_only_its_owner_can_send_them(
    make_store: MakeStore, clock: FakeClock
) -> None:
    web1, web2 = make_store(), make_store()
    job = start_job(web1, owner="web.1")
    for _ in range(6):  # a minute of heartbeats every 10 s
        clock.advance(10)
        assert web1.heartbeat("web.1", [job.id]) == {job.id}
    assert web2.adopt_orphans("web.2", stale_after_seconds=30) == []

    age_jobs(web1, 31)
    assert web2.heartbeat("web.2", [job.id]) == set()  # not web.2's job: no effect
    assert [j.id for j in web2.adopt_orphans("web.2", stale_after_seconds=30)] == [job.id]
    # web.1 lost it: its heartbeat changes nothing and tells it so.
    assert web1.heartbeat("web.1", [job.id]) == set()
    assert web1.get(job.id).owner == "web.2"  # type: ignore[union-attr]
    assert web1.heartbeat("web.1", []) == set()


def test_only_the_owner_records_steps_and_finishes(make_store: MakeStore) -> None:
    """Fencing: a process that lost its job cannot write to it any more."""
    web1, web2 = make_store(), make_store()
    job = start_job(web1, owner="web.1")
    web1.mark_running(job.id, owner="web.1")
    web1.record_step(job.id, "claim", owner="web.1", record=StartRecord(labels=("a",)))
    age_jobs(web1, 31)
    web2.adopt_orphans("web.2", stale_after_seconds=30)

    with pytest.raises(LostJobError):
        web1.record_step(
            job.id, "task_definition", owner="web.1", record=StartRecord(task_definition="x")
        )
    with pytest.raises(LostJobError):
        web1.finish(job.id, JobState.FAILED, "boom", owner="web.1")
    with pytest.raises(LostJobError):
        web1.check_owner(job.id, "web.1")
    with pytest.raises(LostJobError):
        web1.mark_running(job.id, owner="web.1")
    web2.check_owner(job.id, "web.2")
    record = StartRecord(labels=("a",), task_definition="y")
    web2.record_step(job.id, "task_definition", owner="web.2", record=record)
    done = web2.finish(job.id, JobState.SUCCEEDED, "ok", owner="web.2")
    assert (done.step, done.record, done.outcome) == ("task_definition", record, "ok")


def test_records_of_another_bot_version_are_read_without_their_unknown_keys(
    store: SqlJobStore,
) -> None:
    job = store.create_job(
        kind=JobKind.STOP, requester=Requester.slack("U1"), lock_key="pr:1", pr=1
    )
    with store.engine.begin() as conn:
        conn.execute(
            text("UPDATE jobs SET data = :data WHERE id = :id"),
            {"data": '{"deleted": ["pr-1-abc1234-service"], "from_the_future": 1}', "id": job.id},
        )
    assert store.get(job.id).record == StopRecord(deleted=("pr-1-abc1234-service",))  # type: ignore[union-attr]


def test_finished_jobs_are_never_adopted(store: SqlJobStore, clock: FakeClock) -> None:
    job = start_job(store, owner="web.1")
    store.finish(job.id, JobState.SUCCEEDED, "done")
    age_jobs(store, 3600)
    assert store.adopt_orphans("web.2", stale_after_seconds=30) == []


def test_at_startup_stale_after_zero_takes_every_unfinished_job(
    store: SqlJobStore, clock: FakeClock
) -> None:
    """SQLite means one process: whatever it finds unfinished at start-up is an orphan."""
    queued = start_job(store, pr=1)  # never picked up: no owner, no heartbeat
    running = start_job(store, pr=2, owner="pid-41")
    done = start_job(store, pr=3, owner="pid-41")
    store.finish(done.id, JobState.SUCCEEDED, "ok")

    adopted = store.adopt_orphans("pid-42", stale_after_seconds=0)

    assert [job.id for job in adopted] == [queued.id, running.id]
    assert all(job.owner == "pid-42" for job in adopted)


def test_a_queued_job_without_heartbeat_is_orphaned_only_once_stale(
    store: SqlJobStore, clock: FakeClock
) -> None:
    job = start_job(store)
    assert store.adopt_orphans("web.2", stale_after_seconds=30) == []
    age_jobs(store, 31)
    assert [j.id for j in store.adopt_orphans("web.2", stale_after_seconds=30)] == [job.id]


def test_concurrent_adopters_never_adopt_the_same_job(
    make_store: MakeStore, clock: FakeClock
) -> None:
    dead = make_store()
    orphans = {start_job(dead, pr=pr, owner="dead").id for pr in range(1, 21)}
    age_jobs(dead, 60)
    adopters = [make_store() for _ in range(4)]

    results = run_at_once(4, lambda i: adopters[i].adopt_orphans(f"web.{i}", 30))

    assert not [r for r in results if isinstance(r, Exception)], results
    claimed = [job.id for adopted in results for job in adopted]
    assert sorted(claimed) == sorted(orphans)  # each orphan exactly once
    for i, adopted in enumerate(results):
        for job in adopted:
            assert dead.get(job.id).owner == f"web.{i}"  # type: ignore[union-attr]


# --- audit log, threads, once-only keys ----------------------------------------------------------


def test_recent_lists_newest_first(store: SqlJobStore, clock: FakeClock) -> None:
    a = start_job(store, pr=1)
    clock.advance(1)
    b = start_job(store, pr=2)
    c = store.create_job(kind=JobKind.CLEANUP, requester=SWEEPER)  # same instant as b
    clock.advance(1)
    d = store.create_job(kind=JobKind.STOP, requester=Requester.slack("U1"), lock_key="pr:1x", pr=1)

    assert [j.id for j in store.recent()] == [d.id, c.id, b.id, a.id]
    assert [j.id for j in store.recent(limit=2)] == [d.id, c.id]
    assert [j.id for j in store.recent(pr=1)] == [d.id, a.id]


def test_latest_thread_is_the_newest_job_of_the_pr_with_a_thread(
    store: SqlJobStore, clock: FakeClock
) -> None:
    assert store.latest_thread(36121) is None
    first = start_job(store)
    store.set_thread(first.id, "C1", "111.1")
    store.finish(first.id, JobState.SUCCEEDED, "ok")
    clock.advance(1)
    second = start_job(store)
    store.set_thread(second.id, "C2", "222.2")
    store.finish(second.id, JobState.FAILED, "no")
    clock.advance(1)
    start_job(store)  # newest, but its status message is not posted yet
    start_job(store, pr=1)

    assert store.latest_thread(36121) == ("C2", "222.2")
    assert store.latest_thread(99) is None


def test_remember_once(make_store: MakeStore) -> None:
    web1, web2 = make_store(), make_store()
    assert web1.remember_once("warn:36121:abc1234:2026-01-17T12:00") is True
    assert web1.remember_once("warn:36121:abc1234:2026-01-17T12:00") is False
    assert web2.remember_once("warn:36121:abc1234:2026-01-17T12:00") is False
    assert web2.remember_once("warn:36121:abc1234:2026-01-18T12:00") is True


def test_remember_once_under_a_race_says_true_once(store: SqlJobStore) -> None:
    results = run_at_once(8, lambda i: store.remember_once("warn:1:abc:x"))
    assert sorted(results) == [False] * 7 + [True]


def test_a_second_store_on_the_same_database_sees_the_same_jobs(make_store: MakeStore) -> None:
    job = start_job(make_store())
    assert make_store().live_job("pr:36121") == job


# --- when environments ran (SPEC §13) --------------------------------------------------------------

SIZE = Size(512, 2048, True)
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_periods_open_close_and_are_read_from_a_moment_on(make_store: MakeStore) -> None:
    web1, web2 = make_store(), make_store()
    name = "pr-36121-abc1234-service"
    expires = T0 + timedelta(hours=48)
    assert web1.environment_started(Period(name, 36121, "abc1234", SIZE, T0, expires=expires))
    other = Period("pr-2-bbbbbbb-service", 2, "bbbbbbb", Size(1024, 4096), T0 - timedelta(days=40))
    web1.environment_started(other)
    assert web2.environment_stopped(other.service, T0 - timedelta(days=35))
    assert not web2.environment_stopped(other.service, T0)  # nothing open any more
    # A month that began after the second stopped sees only the first, still running.
    periods = web2.environment_periods(since=T0 - timedelta(days=1))
    assert periods == [Period(name, 36121, "abc1234", SIZE, T0, None, expires)]
    assert periods[0].started.tzinfo is not None and periods[0].running
    web2.set_environment_expiry(name, None)  # extended to close
    web2.environment_stopped(name, T0 + timedelta(hours=5))
    assert web1.environment_periods(since=T0) == [
        Period(name, 36121, "abc1234", SIZE, T0, T0 + timedelta(hours=5), None)
    ]
    assert len(web1.environment_periods(since=T0 - timedelta(days=365))) == 2


def test_a_new_period_of_a_service_ends_the_open_one_unless_only_adopting(
    store: SqlJobStore,
) -> None:
    name = "pr-1-aaaaaaa-service"
    store.environment_started(Period(name, 1, "aaaaaaa", SIZE, T0))
    bigger = Period(name, 1, "aaaaaaa", Size(1024, 4096, True), T0 + timedelta(hours=2))
    assert store.environment_started(bigger)  # a redeploy onto a bigger task definition
    # The sweeper finding it running records nothing more.
    assert not store.environment_started(
        Period(name, 1, "aaaaaaa", SIZE, T0 - timedelta(hours=9)), replace=False
    )
    periods = store.environment_periods(since=T0)
    assert [(p.size, p.started, p.stopped) for p in periods] == [
        (SIZE, T0, T0 + timedelta(hours=2)),
        (bigger.size, T0 + timedelta(hours=2), None),
    ]
    # A stop stamped before the start (clocks a little apart) never makes a negative period.
    store.environment_stopped(name, T0)
    assert store.environment_periods(since=T0)[-1].stopped == T0 + timedelta(hours=2)


def test_racing_writers_leave_one_open_period_per_service(store: SqlJobStore) -> None:
    name = "pr-1-aaaaaaa-service"
    run_at_once(
        8,
        lambda i: store.environment_started(
            Period(name, 1, "aaaaaaa", SIZE, T0 + timedelta(minutes=i)), replace=i % 2 == 0
        ),
    )
    periods = store.environment_periods(since=T0)
    assert [p.running for p in periods].count(True) == 1


# --- SQLite specifics ----------------------------------------------------------------------------


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path: Path) -> None:
    store = SqlJobStore(f"sqlite:///{tmp_path / 'jobs.db'}", clock=FakeClock())
    try:
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        store.close()


def test_in_memory_sqlite_works_across_threads() -> None:
    store = SqlJobStore("sqlite://", clock=FakeClock())
    try:
        results = run_at_once(10, lambda i: start_job(store, requester=Requester.slack(f"U{i}")))
        assert sum(isinstance(r, Job) for r in results) == 1
        assert sum(isinstance(r, JobBusyError) for r in results) == 9
        assert len(store.recent()) == 1
    finally:
        store.close()


# --- URLs and failures ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "given",
    [
        "postgres://u:pw@db.example:5432/d1",
        "postgresql://u:pw@db.example:5432/d1",
        "postgresql+psycopg://u:pw@db.example:5432/d1",
    ],
)
def test_heroku_style_urls_use_psycopg(given: str) -> None:
    url = normalise_url(given)
    assert url.drivername == "postgresql+psycopg"
    assert (url.host, url.port, url.database, url.password) == ("db.example", 5432, "d1", "pw")


def test_an_unreachable_database_is_a_store_error_without_the_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert "hunter2" not in safe_url("postgres://showtime:hunter2@127.0.0.1:1/x")
    caplog.set_level(logging.DEBUG)
    with pytest.raises(StoreError) as raised:
        SqlJobStore("postgres://showtime:hunter2@127.0.0.1:1/x?connect_timeout=2")
    message = str(raised.value)
    # People see a reference, not the host, the user or the password; the log has the rest.
    assert "127.0.0.1" not in message and "showtime" not in message and "hunter2" not in message
    assert "127.0.0.1:1" in caplog.text
    assert raised.value.next_action
    assert "hunter2" not in caplog.text


def test_errors_never_carry_job_parameters(tmp_path: Path) -> None:
    """A job's params hold a Slack response_url (a credential): not in any error text."""
    from sqlalchemy import text

    store = SqlJobStore(f"sqlite:///{tmp_path / 'jobs.db'}")
    secret = "https://hooks.slack.com/actions/T0/123/secret-response-token"
    try:
        with store.engine.begin() as conn:
            conn.execute(text("INSERT INTO jobs (id) VALUES (:id)"), {"id": secret})
    except Exception as exc:  # NOT NULL constraints fail the insert
        assert secret not in str(exc)
    else:
        raise AssertionError("the insert should have failed")
    finally:
        store.close()
