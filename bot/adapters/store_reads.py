"""Reading the job store's jobs: one job, the live ones, the audit log, a PR's newest thread
(SPEC §9) — and the one translation between a ``Job`` and its row, both ways.

``SqlJobStore`` (``store``) creates and changes jobs on top of these; what is kept beside the
jobs is ``store_records``.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, func, select

from bot.adapters.store_records import Records
from bot.adapters.store_schema import job_locks, jobs
from bot.domain.requester import Requester
from bot.orchestrator.jobs import (
    LIVE_STATES,
    Job,
    JobKind,
    params_of,
    record_of,
    to_json,
)

_JOB_FIELDS = tuple(f.name for f in fields(Job))
_LIVE = sorted(LIVE_STATES)


class JobReads(Records):
    """The store's reads of jobs (no writes here)."""

    def get(self, job_id: str) -> Job | None:
        with self._read() as conn:
            row = conn.execute(select(jobs).where(jobs.c.id == job_id)).mappings().first()
        return job_of(row) if row is not None else None

    def live_job(self, lock_key: str) -> Job | None:
        """The job that holds ``lock_key`` now, if any."""
        query = (
            select(jobs)
            .join(job_locks, job_locks.c.job_id == jobs.c.id)
            .where(job_locks.c.lock_key == lock_key)
        )
        with self._read() as conn:
            row = conn.execute(query).mappings().first()
        return job_of(row) if row is not None else None

    def live_jobs(self) -> list[Job]:
        """Every queued or running job, oldest first (however many jobs came after them)."""
        query = select(jobs).where(jobs.c.state.in_(_LIVE)).order_by(jobs.c.seq)
        with self._read() as conn:
            return [job_of(row) for row in conn.execute(query).mappings()]

    def recent(self, limit: int = 50, pr: int | None = None) -> list[Job]:
        """Newest jobs first (the audit log), optionally of one PR."""
        query = select(jobs).order_by(jobs.c.created_at.desc(), jobs.c.seq.desc()).limit(limit)
        if pr is not None:
            query = query.where(jobs.c.pr == pr)
        with self._read() as conn:
            return [job_of(row) for row in conn.execute(query).mappings()]

    def prs_touched(self, since: datetime, limit: int = 200) -> list[int]:
        """PRs whose jobs changed since ``since``, newest first: what the bot itself touched."""
        query = (
            select(jobs.c.pr, func.max(jobs.c.updated_at).label("last"))
            .where(jobs.c.pr.is_not(None), jobs.c.updated_at >= since)
            .group_by(jobs.c.pr)
            .order_by(func.max(jobs.c.updated_at).desc())
            .limit(limit)
        )
        with self._read() as conn:
            return [int(row.pr) for row in conn.execute(query)]

    def latest_thread(self, pr: int) -> tuple[str, str] | None:
        """(channel, thread_ts) of the PR's newest job that has a thread."""
        query = (
            select(jobs.c.channel, jobs.c.thread_ts)
            .where(jobs.c.pr == pr, jobs.c.channel.is_not(None), jobs.c.thread_ts.is_not(None))
            .order_by(jobs.c.created_at.desc(), jobs.c.seq.desc())
            .limit(1)
        )
        with self._read() as conn:
            row = conn.execute(query).first()
        return (row.channel, row.thread_ts) if row is not None else None

    def _by_idempotency_key(self, key: str) -> Job | None:
        with self._read() as conn:
            query = select(jobs).where(jobs.c.idempotency_key == key)
            row = conn.execute(query).mappings().first()
        return job_of(row) if row is not None else None


def columns_of(values: dict[str, Any]) -> dict[str, Any]:
    """``Job`` field values as column values: typed params and record become JSON."""
    columns = dict(values)
    if "params" in columns:
        columns["params"] = to_json(columns["params"])
    if "record" in columns:
        columns["data"] = to_json(columns.pop("record"))
    if "kind" in columns:
        columns["kind"] = JobKind(columns["kind"]).value
    return columns


def row_of(job: Job) -> dict[str, Any]:
    values = columns_of({name: getattr(job, name) for name in _JOB_FIELDS})
    requester: Requester = values.pop("requester")
    return values | {"requester": requester.stored, "requester_name": requester.name}


def job_of(row: RowMapping) -> Job:
    values = {name: row[name] for name in _JOB_FIELDS if name not in ("record", "requester")}
    kind = JobKind(values["kind"])
    values["kind"] = kind
    values["requester"] = Requester.parse(row["requester"], row["requester_name"])
    values["params"] = params_of(kind, row["params"])
    values["record"] = record_of(kind, row["data"])
    return Job(**values)
