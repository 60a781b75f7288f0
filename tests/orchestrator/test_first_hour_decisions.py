"""The first hour (SPEC §17) in the service layer's terms: what counts as nothing to do, how
far Extend goes, which earlier status messages a stop or a rolling update makes untrue, and
the store's list of a PR's status messages (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from support import postgres_schema

from bot.adapters.store import SqlJobStore
from bot.clock import FakeClock
from bot.domain import labels as L
from bot.domain.modes import DeployMode
from bot.domain.requester import Requester
from bot.orchestrator import decisions as D
from bot.orchestrator.jobs import (
    PARAMS_TYPES,
    Job,
    JobKind,
    JobState,
    Outdated,
    PrRecord,
    StartRecord,
    StatusMessage,
    StopRecord,
    record_of,
    to_json,
)

PR = 36121
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WHO = Requester.slack("U0MAINTAINER", "maintainer")


def running(sha: str, ttl: str = "48h") -> list[str]:
    return [
        L.status_label(sha, L.RUNNING),
        L.created_label(sha, NOW),
        L.address_label(sha, "203.0.113.10:8080"),
        L.active_label(sha),
        L.ttl_label(ttl),
    ]


# ----- nothing to do ----------------------------------------------------------------------


def test_a_stop_with_no_label_and_no_service_has_nothing_to_do() -> None:
    refusal = D.nothing_to_stop(PR, [], [])
    assert refusal is not None and refusal.message == f"#{PR} has no environment; nothing to stop"
    # Anything the stop would remove is something to do: a label, a trigger, a service.
    assert D.nothing_to_stop(PR, [L.ttl_label("48h")], []) is None
    assert D.nothing_to_stop(PR, [L.TRIGGER_STOP], []) is None
    assert D.nothing_to_stop(PR, [], [f"pr-{PR}-abc1234-service"]) is None
    assert D.nothing_to_stop(PR, ["bug", "needs review"], []) is not None


def test_freezing_twice_and_unfreezing_what_is_not_frozen_change_nothing() -> None:
    frozen = L.parse_labels([*running("abc1234"), L.FREEZE])
    thawed = L.parse_labels(running("abc1234"))
    assert D.nothing_to_freeze(PR, frozen, frozen=True) is not None
    assert D.nothing_to_freeze(PR, thawed, frozen=False) is not None
    assert D.nothing_to_freeze(PR, thawed, frozen=True) is None
    assert D.nothing_to_freeze(PR, frozen, frozen=False) is None


@pytest.mark.parametrize(
    ("labels", "extend", "asked", "target"),
    [
        (["🎪 ⌛ 24h"], True, None, "48h"),
        (["🎪 ⌛ 72h"], True, None, "1w"),
        (["🎪 ⌛ 1w"], True, None, None),  # the top: Extend goes no further
        (["🎪 ⌛ close"], True, None, None),
        ([], True, None, "72h"),  # no ⌛: the default (48h) is what is extended
        (["🎪 ⌛ 1w"], False, "close", "close"),  # close only when asked for
        ([], False, "24h", "24h"),
    ],
)
def test_the_ttl_a_request_moves_to(
    labels: list[str], extend: bool, asked: str | None, target: str | None
) -> None:
    parsed = L.parse_labels(labels)
    assert D.ttl_target(parsed, asked=asked, extend=extend, default_ttl="48h") == target


def test_a_ttl_already_set_and_extend_at_the_top_change_nothing() -> None:
    at_1w = L.parse_labels(["🎪 ⌛ 1w"])
    top = D.nothing_to_set(PR, at_1w, None)
    assert top is not None
    assert top.message == f"#{PR} is already at the longest TTL (1w); Extend goes no further"
    assert top.next_action == f"`/showtime ttl {PR} close` keeps it until the PR closes"
    closed = D.nothing_to_set(PR, L.parse_labels(["🎪 ⌛ close"]), None)
    assert closed is not None and "runs until the PR closes" in closed.message
    assert D.nothing_to_set(PR, at_1w, "1w") is not None
    assert D.nothing_to_set(PR, at_1w, "close") is None
    # Two ⌛ labels (a race with the CLI): setting one of them tidies up, so it is a change.
    assert D.nothing_to_set(PR, L.parse_labels(["🎪 ⌛ 1w", "🎪 ⌛ 48h"]), "1w") is None
    assert D.nothing_to_set(PR, L.parse_labels([]), "48h") is None


# ----- which earlier messages a job's end makes untrue -------------------------------------


def job(kind: JobKind, record: Any, *, ts: str = "1.9", state: JobState = JobState.RUNNING) -> Job:
    return Job(
        id="0" * 32,
        kind=kind,
        lock_key=f"pr:{PR}",
        pr=PR,
        sha=None,
        requester=WHO,
        channel="C1",
        thread_ts=ts,
        params=PARAMS_TYPES[kind](),
        record=record,
        step="labels",
        state=state,
        outcome=None,
        correlation_id="00000000",
        idempotency_key=None,
        owner="me",
        heartbeat_at=NOW,
        created_at=NOW,
        updated_at=NOW,
        finished_at=None,
    )


def message(ts: str, kind: JobKind, state: JobState, record: Any) -> StatusMessage:
    return StatusMessage("C1", ts, kind, state, record)


def started(sha: str, mode: DeployMode = DeployMode.FRESH, previous: str | None = None) -> Any:
    return StartRecord(labels=tuple(running(sha)), sha=sha * 5, sha7=sha, mode=mode,
                       previous_sha=previous)  # fmt: skip


EARLIER = [
    message("1.5", JobKind.TTL, JobState.SUCCEEDED, PrRecord(labels=tuple(running("bbbbbbb")))),
    message("1.4", JobKind.START, JobState.SUCCEEDED, started("bbbbbbb")),
    message("1.3", JobKind.START, JobState.FAILED, started("ccccccc")),
    message("1.2", JobKind.STOP, JobState.SUCCEEDED, StopRecord()),
    message("1.1", JobKind.START, JobState.CANCELLED, started("ddddddd")),
]


def test_a_stop_outdates_every_earlier_message_that_shows_an_environment() -> None:
    stop = job(JobKind.STOP, StopRecord(labels=tuple(running("bbbbbbb"))))

    ended = D.with_outdated(stop, EARLIER)

    assert isinstance(ended.record, PrRecord)
    assert ended.record.outdated == (
        Outdated("C1", "1.5", "bbbbbbb"),
        Outdated("C1", "1.4", "bbbbbbb"),
        Outdated("C1", "1.3", "ccccccc"),  # failed, still offering Stop
    )


def test_a_rolling_update_outdates_the_messages_running_what_it_replaced() -> None:
    rolling = job(JobKind.START, started("eeeeeee", DeployMode.ROLLING, "bbbbbbb"))

    ended = D.with_outdated(rolling, EARLIER)

    assert isinstance(ended.record, PrRecord)
    assert ended.record.outdated == (
        Outdated("C1", "1.5", "bbbbbbb", "eeeeeee"),
        Outdated("C1", "1.4", "bbbbbbb", "eeeeeee"),
    )


def test_the_jobs_own_message_and_other_jobs_outdate_nothing() -> None:
    own = [message("1.9", JobKind.START, JobState.SUCCEEDED, started("bbbbbbb"))]
    stop = job(JobKind.STOP, StopRecord(), ts="1.9")
    assert isinstance(D.with_outdated(stop, own).record, PrRecord)
    assert D.with_outdated(stop, own).record.outdated == ()  # type: ignore[union-attr]
    for kind, record in (
        (JobKind.START, started("eeeeeee")),  # a fresh start replaces nothing
        (JobKind.START, started("bbbbbbb", DeployMode.REDEPLOY)),
        (JobKind.TTL, PrRecord()),
        (JobKind.FREEZE, PrRecord()),
    ):
        other = job(kind, record)
        assert not D.ends_environments(other)
        assert D.with_outdated(other, EARLIER) == other


def test_at_most_five_earlier_messages_are_updated() -> None:
    many = [
        message(f"1.{n:02}", JobKind.START, JobState.SUCCEEDED, started("bbbbbbb"))
        for n in range(20)
    ]
    ended = D.with_outdated(job(JobKind.STOP, StopRecord()), many)
    assert len(ended.record.outdated) == D.OUTDATED_LIMIT == 5  # type: ignore[union-attr]


def test_what_a_job_ends_with_is_never_stored() -> None:
    record = StopRecord(outdated=(Outdated("C1", "1.4", "bbbbbbb"),), labels=("x",))
    assert to_json(record) == {"labels": ["x"]}
    assert record_of(JobKind.STOP, to_json(record)) == StopRecord(labels=("x",))


# ----- the store lists a PR's status messages ------------------------------------------------


@contextmanager
def sqlite_store(tmp_path: Path) -> Iterator[SqlJobStore]:
    store = SqlJobStore(f"sqlite:///{tmp_path / 'jobs.db'}", clock=FakeClock(NOW))
    try:
        yield store
    finally:
        store.close()


@contextmanager
def postgres_store(tmp_path: Path) -> Iterator[SqlJobStore]:
    with postgres_schema() as url:
        store = SqlJobStore(url, clock=FakeClock(NOW))
        try:
            yield store
        finally:
            store.close()


@pytest.mark.parametrize("backend", [sqlite_store, postgres_store])
def test_the_store_lists_each_status_message_as_its_newest_job_left_it(
    tmp_path: Path, backend: Any
) -> None:
    with backend(tmp_path) as store:

        def ran(kind: JobKind, ts: str | None, record: Any, state: JobState, pr: int = PR) -> None:
            made = store.create_job(
                kind=kind, requester=WHO, lock_key=f"pr:{pr}", pr=pr, channel="C1",
                thread_ts=ts, owner="me",
            )  # fmt: skip
            if state is not JobState.FAILED or record is not None:
                store.record_step(made.id, "validate", owner="me", record=record)
            store.finish(made.id, state, "done", owner="me")

        ran(JobKind.START, "1.1", started("aaaaaaa"), JobState.SUCCEEDED)
        ran(
            JobKind.TTL,
            "1.1",
            PrRecord(labels=tuple(running("aaaaaaa", "72h"))),
            JobState.SUCCEEDED,
        )
        ran(JobKind.TTL, "1.1", None, JobState.FAILED)  # refused at validation: never ran on it
        ran(JobKind.START, "1.2", started("bbbbbbb"), JobState.FAILED)
        ran(JobKind.STOP, None, StopRecord(), JobState.SUCCEEDED)  # no thread: no message
        ran(JobKind.START, "1.3", started("ccccccc"), JobState.SUCCEEDED, pr=36122)

        messages = store.status_messages(PR, 5)

        assert [(m.ts, m.kind, m.state) for m in messages] == [
            ("1.2", JobKind.START, JobState.FAILED),
            ("1.1", JobKind.TTL, JobState.SUCCEEDED),
        ]
        assert messages[1].record == PrRecord(labels=tuple(running("aaaaaaa", "72h")))
        assert [m.ts for m in store.status_messages(PR, 1)] == ["1.2"]
