"""The heartbeat (SPEC §9): a job this process works on that another replica adopted is
stopped here, with a warning; one that merely ended between the two looks is not lost."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest
from support import world_settings_of

from bot.adapters.store import SqlJobStore
from bot.clock import FakeClock
from bot.domain.requester import Requester
from bot.orchestrator.jobs import JobKind, JobState
from bot.orchestrator.lifecycle import Lifecycle
from bot.wiring import policy_of


class Runner:
    """What the heartbeat asks of the job runner: stop the jobs it lost."""

    def __init__(self) -> None:
        self.lost: list[str] = []

    def mark_lost(self, job_id: str) -> None:
        self.lost.append(job_id)


def test_a_job_that_ended_is_not_lost_and_an_adopted_one_is(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = world_settings_of(tmp_path, {})
    store = SqlJobStore(settings.showtime_db_url, clock=FakeClock())
    who = Requester.slack("U0MAINTAINER", "maintainer")
    ended = store.create_job(kind=JobKind.START, requester=who, pr=1, owner="here")
    store.finish(ended.id, JobState.CANCELLED, "cancelled by slack:U0MAINTAINER", owner="here")
    adopted = store.create_job(kind=JobKind.START, requester=who, pr=2, owner="elsewhere")
    mine = store.create_job(kind=JobKind.START, requester=who, pr=3, owner="here")
    runner = Runner()
    lifecycle = Lifecycle(
        policy=policy_of(settings),
        store=store,
        runner=runner,  # type: ignore[arg-type]
        owner="here",
        stopping=threading.Event(),
        working_ids=lambda: [ended.id, adopted.id, mine.id],
        resume=lambda job: None,
        sweep=lambda: None,
        follow_ups=lambda: None,
    )

    with caplog.at_level(logging.WARNING, logger="bot.orchestrator.lifecycle"):
        lifecycle.beat()

    assert runner.lost == [adopted.id]
    assert [r.getMessage() for r in caplog.records] == [
        f"job {adopted.id} is no longer this process's; stopping it"
    ]
