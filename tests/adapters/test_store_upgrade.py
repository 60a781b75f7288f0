"""A job store an older bot made keeps working: it is upgraded on start (a cancelled job is a
state the older schema's check constraint did not know)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import CheckConstraint, MetaData, create_engine
from support import postgres_schema

from bot.adapters.store import SqlJobStore
from bot.adapters.store_schema import jobs, normalise_url
from bot.domain.requester import Requester
from bot.orchestrator.jobs import JobKind, JobState

OLD_CHECK = "state IN ('queued', 'running', 'succeeded', 'failed')"


def old_schema(url: str) -> None:
    """The jobs table as the bot before Cancel made it: its check knows no "cancelled"."""
    metadata = MetaData()
    old = jobs.to_metadata(metadata)
    old.constraints = {c for c in old.constraints if getattr(c, "name", "") != "jobs_state_known"}
    old.append_constraint(CheckConstraint(OLD_CHECK, name="jobs_state_known"))
    engine = create_engine(normalise_url(url))
    with engine.begin() as conn:
        old.create(conn)
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def old_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
        old_schema(url)
        yield url
    else:
        with postgres_schema() as url:
            old_schema(url)
            yield url


def test_a_store_made_before_cancel_takes_cancelled_jobs(old_store_url: str) -> None:
    store = SqlJobStore(old_store_url)
    try:
        job = store.create_job(
            kind=JobKind.START, requester=Requester.slack("U1"), lock_key="pr:1", pr=1, owner="p"
        )
        done = store.finish(job.id, JobState.CANCELLED, "cancelled by slack:U1", owner="p")
        assert done.state is JobState.CANCELLED and not done.live
        again = SqlJobStore(old_store_url)  # a second start changes nothing more
        again.close()
    finally:
        store.close()
