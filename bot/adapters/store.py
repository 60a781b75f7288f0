"""The job store: every job the bot runs, on SQLite or PostgreSQL (SPEC §9).

A job's row is both the runner's durable state (owner, heartbeat, last finished step, what the
steps created) and the audit log (who asked for what, in which Slack thread, and how it ended).

"One live job per lock key" is enforced by the database rather than by check-then-insert: a live
job with a lock key owns the row of ``job_locks`` whose primary key is that key. The row is
inserted in the transaction that creates the job and deleted in the transaction that finishes
it, so a second job for the key fails on the primary key however many threads or replicas race.

Reading jobs, and a job's row both ways, is ``store_reads``; what the store keeps beside the
jobs (handled deliveries, the queue of one per PR, held pool units, when each environment
ran, who wants direct messages) ``store_records``; the database itself (engine, transactions,
error wording) ``store_db``; the tables and engines ``store_schema``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import (
    func,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from bot.adapters.store_db import CREATE_ATTEMPTS
from bot.adapters.store_reads import JobReads, columns_of, job_of, row_of
from bot.adapters.store_schema import (
    job_locks,
    jobs,
    reservations,
)
from bot.domain.requester import Requester
from bot.orchestrator.jobs import (
    LIVE_STATES,
    DuplicateRequestError,
    Job,
    JobBusyError,
    JobKind,
    JobParams,
    JobRecord,
    JobState,
    LostJobError,
    StoreError,
    empty_record,
)

log = logging.getLogger(__name__)


_LIVE = sorted(LIVE_STATES)


class SqlJobStore(JobReads):
    """Jobs and their per-key locks: creating and changing them (here), reading them
    (``JobReads``), and what is kept beside them (``Records``), in one SQL database.
    """

    def create_job(
        self,
        *,
        kind: JobKind,
        requester: Requester,
        lock_key: str | None = None,
        pr: int | None = None,
        sha: str | None = None,
        channel: str | None = None,
        thread_ts: str | None = None,
        params: JobParams | None = None,
        idempotency_key: str | None = None,
        owner: str | None = None,
        state: JobState = JobState.QUEUED,
    ) -> Job:
        """Record a new live job and, with ``lock_key``, take the key's lock with it.

        Raises ``DuplicateRequestError`` if ``idempotency_key`` was used before (checked first, so
        a retried request is recognised even while its job still holds the lock) and
        ``JobBusyError`` if another live job holds ``lock_key``.
        """
        if state not in LIVE_STATES:
            raise ValueError(f"a new job must be queued or running, not {state}")
        for _attempt in range(CREATE_ATTEMPTS):
            if idempotency_key is not None:
                used = self._by_idempotency_key(idempotency_key)
                if used is not None:
                    raise DuplicateRequestError(used)
            job = _new_job(
                self._clock.now(),
                kind=kind,
                requester=requester,
                lock_key=lock_key,
                pr=pr,
                sha=sha,
                channel=channel,
                thread_ts=thread_ts,
                params=params or JobParams(),
                idempotency_key=idempotency_key,
                owner=owner,
                state=state,
            )
            created = self._insert(job)
            if created is not None:
                log.info(
                    "job %s created: %s %s by %s",
                    job.correlation_id,
                    kind,
                    lock_key or "",
                    requester.stored,
                    extra={"job_id": job.id, "correlation_id": job.correlation_id},
                )
                return created
        raise StoreError(
            f"Could not record a {kind} job for {lock_key or 'no lock key'}: "
            f"it kept conflicting with other jobs {CREATE_ATTEMPTS} times",
            "try again in a moment",
        )

    def _insert(self, job: Job) -> Job | None:
        """Insert ``job`` with its lock; None when a job that raced it has since gone (try
        again), ``JobBusyError`` when a live one holds the lock."""
        conflict = "idempotency_key"
        try:
            with self._write() as conn:
                values = row_of(job) | {"heartbeat_at": self._now_sql()}
                inserted = conn.execute(jobs.insert().values(values).returning(*jobs.c))
                created = job_of(inserted.mappings().one())
                if job.lock_key is not None:
                    conflict = "lock_key"
                    conn.execute(
                        job_locks.insert().values(
                            lock_key=job.lock_key, job_id=job.id, created_at=job.created_at
                        )
                    )
            return created
        except IntegrityError:
            # The transaction is gone; look at the winner in a new one. If the winner has
            # meanwhile finished (lock free again) or rolled back, try again.
            if conflict == "lock_key" and job.lock_key is not None:
                holder = self.live_job(job.lock_key)
                if holder is not None:
                    raise JobBusyError(holder) from None
            return None

    def set_thread(self, job_id: str, channel: str, thread_ts: str) -> Job:
        # Allowed on finished jobs too: the status message may be posted after a fast failure.
        return self._update(
            job_id,
            "set the thread of",
            lambda _job: {"channel": channel, "thread_ts": thread_ts},
            live_only=False,
        )

    def mark_running(self, job_id: str, owner: str) -> Job:
        """``owner`` starts working on the job: its own, or one nobody owns yet.

        ``LostJobError`` when another process owns it (it was adopted meanwhile).
        """

        def change(job: Job) -> dict[str, Any]:
            if job.owner not in (None, owner):
                raise LostJobError(job, owner)
            return {"state": JobState.RUNNING, "owner": owner, "heartbeat_at": self._now_sql()}

        return self._update(job_id, "run", change)

    def record_step(self, job_id: str, step: str, *, owner: str, record: JobRecord) -> Job:
        """Record ``step`` as the last finished step, with what the steps produced so far.

        Fenced: only ``owner``, the process the database says holds the job, may record
        a step; anyone else gets ``LostJobError`` and nothing is written.
        """
        return self._update(
            job_id, "record a step of", lambda job: {"step": step, "record": record}, owner=owner
        )

    def check_owner(self, job_id: str, owner: str) -> Job:
        """``LostJobError`` unless ``owner`` still holds the live job (before a remote write)."""
        with self._read() as conn:
            row = conn.execute(select(jobs).where(jobs.c.id == job_id)).mappings().first()
        if row is None:
            raise self._unknown(job_id, "check the owner of")
        job = job_of(row)
        if job.owner != owner or not job.live:
            raise LostJobError(job, owner)
        return job

    def finish(
        self, job_id: str, state: JobState, outcome: str, *, owner: str | None = None
    ) -> Job:
        """End the job with ``outcome`` and release its lock key in the same transaction.

        With ``owner`` the write is fenced like ``record_step``: a process that lost the
        job cannot end it.
        """
        if state in LIVE_STATES:
            raise ValueError(f"a job finishes as succeeded or failed, not {state}")
        job = self._update(
            job_id,
            "finish",
            lambda _job: {"state": state, "outcome": outcome, "finished_at": self._clock.now()},
            release_lock=True,
            owner=owner,
        )
        log.info(
            "job %s %s: %s",
            job.correlation_id,
            state,
            outcome,
            extra={"job_id": job_id, "correlation_id": job.correlation_id},
        )
        return job

    def heartbeat(self, owner: str, job_ids: Iterable[str]) -> set[str]:
        """Show that ``owner`` still works on these jobs; returns the ones it still holds.

        A job missing from the answer was adopted by another process (or finished): its
        worker here must stop (fencing).
        """
        ids = list(job_ids)
        if not ids:
            return set()
        query = (
            jobs.update()
            .where(jobs.c.id.in_(ids), jobs.c.owner == owner, jobs.c.state.in_(_LIVE))
            .values(heartbeat_at=self._now_sql())
            .returning(jobs.c.id)
        )
        with self._write() as conn:
            return {row.id for row in conn.execute(query)}

    def adopt_orphans(
        self, owner: str, stale_after_seconds: float, *, keep: Iterable[str] = ()
    ) -> list[Job]:
        """Take over live jobs that have shown no sign of life for a while.

        A job's last sign of life is its heartbeat, or its last update if it never had one (a
        queued job nobody picked up). ``owner``'s own stale jobs are taken too — a job this
        process began but never ran (its intake failed half-way) would otherwise hold its
        PR's lock until a restart — except those in ``keep`` (what the caller runs right
        now). ``stale_after_seconds=0`` takes every such live job: with SQLite there is one
        process, so at start-up all of them are orphans.

        Staleness is judged on the database's clock (PostgreSQL's ``now()``), which heartbeats
        are written with too, so replicas whose clocks disagree never adopt each other's
        live jobs. SQLite has one process and uses its clock.

        Two adopters never get the same job: on PostgreSQL the candidates are locked with
        ``FOR UPDATE SKIP LOCKED`` (a concurrent adopter skips them, and sees the new owner
        once this transaction commits); on SQLite the transaction holds the write lock
        from its first statement.
        """
        kept = list(keep)
        last_sign = func.coalesce(jobs.c.heartbeat_at, jobs.c.updated_at)
        with self._write() as conn:
            cutoff = self._cutoff(conn, stale_after_seconds)
            candidates = (
                select(jobs.c.id, jobs.c.owner)
                .where(jobs.c.state.in_(_LIVE), last_sign <= cutoff)
                .order_by(jobs.c.seq)
                .with_for_update(skip_locked=True)
            )
            if kept:
                candidates = candidates.where(jobs.c.id.not_in(kept))
            previous = {row.id: row.owner for row in conn.execute(candidates)}
            if not previous:
                return []
            ids = list(previous)
            conn.execute(
                jobs.update()
                .where(jobs.c.id.in_(ids))
                .values(owner=owner, heartbeat_at=self._now_sql(), updated_at=self._clock.now())
            )
            rows = conn.execute(select(jobs).where(jobs.c.id.in_(ids)).order_by(jobs.c.seq))
            adopted = [job_of(row) for row in rows.mappings()]
        for job in adopted:
            log.info(
                "job %s adopted by %s from %s",
                job.correlation_id,
                owner,
                previous.get(job.id) or "no owner",
                extra={"job_id": job.id, "correlation_id": job.correlation_id},
            )
        return adopted

    def _update(
        self,
        job_id: str,
        action: str,
        change: Callable[[Job], dict[str, Any]],
        *,
        live_only: bool = True,
        release_lock: bool = False,
        owner: str | None = None,
    ) -> Job:
        """Read the job (row-locked on PostgreSQL), apply ``change`` (new values of ``Job``
        fields) and write it back.

        With ``owner``, the write happens only if the database still names ``owner`` as the
        job's owner and the job is live (fencing); otherwise ``LostJobError``.
        """
        with self._write() as conn:
            query = select(jobs).where(jobs.c.id == job_id).with_for_update()
            row = conn.execute(query).mappings().first()
            if row is None:
                raise self._unknown(job_id, action)
            job = job_of(row)
            if owner is not None and (job.owner != owner or not job.live):
                raise LostJobError(job, owner)
            if live_only and not job.live:
                raise StoreError(
                    f"Cannot {action} {job.kind} job {job.correlation_id}: it already {job.state}",
                    "start a new job instead",
                )
            values = change(job) | {"updated_at": self._clock.now()}
            conn.execute(jobs.update().where(jobs.c.id == job_id).values(columns_of(values)))
            if release_lock:
                conn.execute(job_locks.delete().where(job_locks.c.job_id == job_id))
                conn.execute(reservations.delete().where(reservations.c.job_id == job_id))
            if any(isinstance(v, ColumnElement) for v in values.values()):
                # Values computed by the database (its clock): read back what was written.
                fresh = conn.execute(select(jobs).where(jobs.c.id == job_id)).mappings().one()
                return job_of(fresh)
        return replace(job, **values)

    def _unknown(self, job_id: str, action: str) -> StoreError:
        log.error("job %s is not in the job store %s", job_id, self.display_url)
        return StoreError(
            f"Cannot {action} job {job_id}: it is not in the job store",
            "check that every process uses the same SHOWTIME_DB_URL",
        )


def _new_job(now: datetime, **fields: Any) -> Job:
    job_id = uuid.uuid4().hex
    return Job(
        id=job_id,
        record=empty_record(fields["kind"]),
        step=None,
        outcome=None,
        correlation_id=job_id[:8],
        heartbeat_at=now,  # the job's first sign of life (written on the db's clock)
        created_at=now,
        updated_at=now,
        finished_at=None,
        **fields,
    )
