"""The job store: every job the bot runs, on SQLite or PostgreSQL (SPEC §9).

A job's row is both the runner's durable state (owner, heartbeat, last finished step, what the
steps created) and the audit log (who asked for what, in which Slack thread, and how it ended).

"One live job per lock key" is enforced by the database rather than by check-then-insert: a live
job with a lock key owns the row of ``job_locks`` whose primary key is that key. The row is
inserted in the transaction that creates the job and deleted in the transaction that finishes
it, so a second job for the key fails on the primary key however many threads or replicas race.

It also keeps when each environment ran, and with what size (``environment_periods``): the
record this month's estimated spend and the monthly budget are computed from (SPEC §13).

The tables and engines are in ``store_schema``.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import fields, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Interval,
    RowMapping,
    create_engine,
    func,
    literal,
    select,
)
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.sql.elements import ColumnElement

from bot.adapters.store_schema import (
    ENGINE_OPTIONS,
    READ_ONLY,
    environment_periods,
    followups,
    job_locks,
    jobs,
    metadata,
    normalise_url,
    remembered_keys,
    reservations,
    safe_url,
    sqlite_engine,
)
from bot.clock import SYSTEM_CLOCK, Clock
from bot.domain.cost import Period, Size
from bot.domain.requester import Requester
from bot.orchestrator.jobs import (
    LIVE_STATES,
    DuplicateRequestError,
    Followup,
    Job,
    JobBusyError,
    JobKind,
    JobParams,
    JobRecord,
    JobState,
    LostJobError,
    StoreError,
    empty_record,
    params_of,
    record_of,
    to_json,
)

log = logging.getLogger(__name__)


_JOB_FIELDS = tuple(f.name for f in fields(Job))
_LIVE = sorted(LIVE_STATES)
_CREATE_ATTEMPTS = 5
# Any constants: serialise create_all, and each reservation pool, between replicas.
_SCHEMA_LOCK_ID = 0x5E0_71AE
_POOL_LOCK_ID = 0x5E0_7100


class SqlJobStore:
    """Jobs, per-key locks and "only once" keys in one SQL database.

    Every public method is one short transaction and is safe to call from many threads; with
    PostgreSQL, many processes may share the database.
    """

    def __init__(self, url: str, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self._clock = clock
        self.display_url = safe_url(url)
        parsed = normalise_url(url)
        # One in-memory SQLite connection is shared by all threads; its transactions must not
        # interleave. File databases and PostgreSQL give each thread its own connection.
        self._serial: AbstractContextManager[Any] = nullcontext()
        if parsed.get_backend_name() == "sqlite":
            in_memory = parsed.database in (None, "", ":memory:")
            if in_memory:
                self._serial = threading.RLock()
            self._engine = sqlite_engine(parsed, in_memory=in_memory)
        else:
            self._engine = create_engine(parsed, pool_pre_ping=True, **ENGINE_OPTIONS)
        try:
            with self._write() as conn:
                if conn.dialect.name == "postgresql":
                    conn.execute(select(func.pg_advisory_xact_lock(_SCHEMA_LOCK_ID)))
                metadata.create_all(conn)
        except BaseException:
            self._engine.dispose()
            raise
        log.info("job store ready", extra={"store_url": self.display_url})

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (for health checks and tests)."""
        return self._engine

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
        for _attempt in range(_CREATE_ATTEMPTS):
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
            f"it kept conflicting with other jobs {_CREATE_ATTEMPTS} times",
            "try again in a moment",
        )

    def _insert(self, job: Job) -> Job | None:
        """Insert ``job`` with its lock; None when a job that raced it has since gone (try
        again), ``JobBusyError`` when a live one holds the lock."""
        conflict = "idempotency_key"
        try:
            with self._write() as conn:
                values = _row(job) | {"heartbeat_at": self._now_sql()}
                inserted = conn.execute(jobs.insert().values(values).returning(*jobs.c))
                created = _job(inserted.mappings().one())
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

    def get(self, job_id: str) -> Job | None:
        with self._read() as conn:
            row = conn.execute(select(jobs).where(jobs.c.id == job_id)).mappings().first()
        return _job(row) if row is not None else None

    def live_job(self, lock_key: str) -> Job | None:
        """The job that holds ``lock_key`` now, if any."""
        query = (
            select(jobs)
            .join(job_locks, job_locks.c.job_id == jobs.c.id)
            .where(job_locks.c.lock_key == lock_key)
        )
        with self._read() as conn:
            row = conn.execute(query).mappings().first()
        return _job(row) if row is not None else None

    def live_jobs(self) -> list[Job]:
        """Every queued or running job, oldest first (however many jobs came after them)."""
        query = select(jobs).where(jobs.c.state.in_(_LIVE)).order_by(jobs.c.seq)
        with self._read() as conn:
            return [_job(row) for row in conn.execute(query).mappings()]

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
        job = _job(row)
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
            adopted = [_job(row) for row in rows.mappings()]
        for job in adopted:
            log.info(
                "job %s adopted by %s from %s",
                job.correlation_id,
                owner,
                previous.get(job.id) or "no owner",
                extra={"job_id": job.id, "correlation_id": job.correlation_id},
            )
        return adopted

    def recent(self, limit: int = 50, pr: int | None = None) -> list[Job]:
        """Newest jobs first (the audit log), optionally of one PR."""
        query = select(jobs).order_by(jobs.c.created_at.desc(), jobs.c.seq.desc()).limit(limit)
        if pr is not None:
            query = query.where(jobs.c.pr == pr)
        with self._read() as conn:
            return [_job(row) for row in conn.execute(query).mappings()]

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

    def reserve(
        self,
        job_id: str,
        pool: str,
        *,
        item: str,
        amount: float,
        in_use: float,
        seen: Iterable[str] = (),
        limit: float,
    ) -> float | None:
        """Hold ``amount`` of ``pool`` for the live job ``job_id`` if it fits under ``limit``.

        ``in_use`` is what the caller counted outside (services ECS lists, money spent) and
        ``seen`` the items that count already includes. What other live jobs hold for items
        not in ``seen`` is added, and the check and the hold happen in one transaction under
        a pool-wide lock (an advisory lock on PostgreSQL; SQLite's write lock), so of two
        jobs racing for the last unit only one gets it. Returns None when it fits (held until
        the job finishes), else the total that would have been used.
        """
        seen_items = set(seen)
        with self._write() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(select(func.pg_advisory_xact_lock(_POOL_LOCK_ID, _pool_key(pool))))
            held_rows = conn.execute(
                select(reservations.c.item, reservations.c.amount)
                .join(jobs, jobs.c.id == reservations.c.job_id)
                .where(
                    reservations.c.pool == pool,
                    reservations.c.job_id != job_id,
                    jobs.c.state.in_(_LIVE),
                )
            )
            held = sum(row.amount for row in held_rows if row.item not in seen_items)
            total = in_use + held + amount
            if total > limit + 1e-9:
                return total
            conn.execute(
                reservations.insert().values(
                    job_id=job_id,
                    pool=pool,
                    item=item,
                    amount=amount,
                    created_at=self._clock.now(),
                )
            )
        return None

    def set_followup(self, followup: Followup) -> None:
        """Remember what to do once the PR's live job ends; a stop is never replaced by a start."""
        with self._write() as conn:
            current = conn.execute(
                select(followups.c.kind).where(followups.c.pr == followup.pr)
            ).first()
            if (
                current is not None
                and current.kind == JobKind.STOP
                and followup.kind != JobKind.STOP
            ):
                return
            conn.execute(followups.delete().where(followups.c.pr == followup.pr))
            conn.execute(
                followups.insert().values(
                    pr=followup.pr,
                    kind=followup.kind.value,
                    requester=followup.requester.stored,
                    reason=followup.reason,
                    created_at=self._clock.now(),
                )
            )

    def followup(self, pr: int) -> Followup | None:
        """The PR's follow-up, if any (left in place until ``drop_followup``)."""
        with self._read() as conn:
            row = conn.execute(select(followups).where(followups.c.pr == pr)).first()
        if row is None:
            return None
        return Followup(
            pr=row.pr,
            kind=JobKind(row.kind),
            requester=Requester.parse(row.requester),
            reason=row.reason,
            noted_at=row.created_at,
        )

    def drop_followup(self, followup: Followup) -> None:
        """Forget ``followup`` once its job began — unless a newer one replaced it meanwhile."""
        with self._write() as conn:
            conn.execute(
                followups.delete().where(
                    followups.c.pr == followup.pr, followups.c.created_at == followup.noted_at
                )
            )

    def followup_prs(self) -> list[int]:
        with self._read() as conn:
            return [row.pr for row in conn.execute(select(followups.c.pr))]

    # ----- when environments ran (SPEC §13) ---------------------------------------------

    def environment_started(self, period: Period, *, replace: bool = True) -> bool:
        """Record that ``period.service`` runs from ``period.started`` with its size.

        ``replace``: a period of that service still open ends at ``period.started`` (a
        redeploy onto a new size, or a name re-created after a stop nobody recorded);
        without it, nothing is written when one is open (the sweeper adopting a service
        it found running). True when a period was opened.
        """
        for _attempt in range(_CREATE_ATTEMPTS):
            try:
                with self._write() as conn:
                    open_row = (
                        conn.execute(_open_period(period.service).with_for_update())
                        .mappings()
                        .first()
                    )
                    if open_row is not None:
                        if not replace:
                            return False
                        conn.execute(_close(open_row, period.started))
                    conn.execute(environment_periods.insert().values(_period_row(period)))
                return True
            except IntegrityError:
                continue  # another writer opened one meanwhile: look again
        raise StoreError(
            f"Could not record that {period.service} runs: it kept conflicting with other writers",
            "nothing to do: the sweeper records it on its next round",
        )

    def environment_stopped(self, service: str, at: datetime) -> bool:
        """The open period of ``service`` (if any) ends at ``at``; True when there was one."""
        with self._write() as conn:
            row = conn.execute(_open_period(service).with_for_update()).mappings().first()
            if row is None:
                return False
            conn.execute(_close(row, at))
        return True

    def set_environment_expiry(self, service: str, expires: datetime | None) -> None:
        """When the running ``service`` is now due to go (a TTL change); None: TTL close."""
        with self._write() as conn:
            conn.execute(
                environment_periods.update()
                .where(
                    environment_periods.c.service == service,
                    environment_periods.c.stopped.is_(None),
                )
                .values(expires=expires)
            )

    def environment_periods(self, since: datetime) -> list[Period]:
        """Every period that ran at or after ``since``: still open, or stopped later."""
        table = environment_periods
        query = (
            select(table)
            .where((table.c.stopped.is_(None)) | (table.c.stopped > since))
            .order_by(table.c.seq)
        )
        with self._read() as conn:
            return [_period(row) for row in conn.execute(query).mappings()]

    def remember_once(self, key: str) -> bool:
        """True the first time ``key`` is stored, False ever after (across processes)."""
        try:
            with self._write() as conn:
                conn.execute(remembered_keys.insert().values(key=key, created_at=self._clock.now()))
        except IntegrityError:
            return False
        return True

    def remembered(self, keys: Iterable[str]) -> bool:
        """Was any of ``keys`` stored (``remember_once``/``remember``)?"""
        wanted = list(keys)
        with self._read() as conn:
            found = conn.execute(
                select(remembered_keys.c.key).where(remembered_keys.c.key.in_(wanted)).limit(1)
            ).first()
        return found is not None

    def remember(self, keys: Iterable[str]) -> None:
        """Store ``keys`` (those stored already stay as they are)."""
        now = self._clock.now()
        for key in keys:
            try:
                with self._write() as conn:
                    conn.execute(remembered_keys.insert().values(key=key, created_at=now))
            except IntegrityError:
                continue

    def forget_remembered(self, prefix: str, before: datetime) -> int:
        """Forget keys starting with ``prefix`` stored before ``before``; how many went."""
        with self._write() as conn:
            result = conn.execute(
                remembered_keys.delete().where(
                    remembered_keys.c.key.startswith(prefix, autoescape=True),
                    remembered_keys.c.created_at < before,
                )
            )
        return int(result.rowcount or 0)

    def close(self) -> None:
        self._engine.dispose()

    def _by_idempotency_key(self, key: str) -> Job | None:
        with self._read() as conn:
            query = select(jobs).where(jobs.c.idempotency_key == key)
            row = conn.execute(query).mappings().first()
        return _job(row) if row is not None else None

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
            job = _job(row)
            if owner is not None and (job.owner != owner or not job.live):
                raise LostJobError(job, owner)
            if live_only and not job.live:
                raise StoreError(
                    f"Cannot {action} {job.kind} job {job.correlation_id}: it already {job.state}",
                    "start a new job instead",
                )
            values = change(job) | {"updated_at": self._clock.now()}
            conn.execute(jobs.update().where(jobs.c.id == job_id).values(_columns(values)))
            if release_lock:
                conn.execute(job_locks.delete().where(job_locks.c.job_id == job_id))
                conn.execute(reservations.delete().where(reservations.c.job_id == job_id))
            if any(isinstance(v, ColumnElement) for v in values.values()):
                # Values computed by the database (its clock): read back what was written.
                fresh = conn.execute(select(jobs).where(jobs.c.id == job_id)).mappings().one()
                return _job(fresh)
        return replace(job, **values)

    def _unknown(self, job_id: str, action: str) -> StoreError:
        log.error("job %s is not in the job store %s", job_id, self.display_url)
        return StoreError(
            f"Cannot {action} job {job_id}: it is not in the job store",
            "check that every process uses the same SHOWTIME_DB_URL",
        )

    def _now_sql(self) -> Any:
        """ "Now" for heartbeats: the database's clock on PostgreSQL, shared by all replicas."""
        if self._engine.dialect.name == "postgresql":
            return func.now()
        return self._clock.now()

    def _cutoff(self, conn: Connection, stale_after_seconds: float) -> Any:
        """The moment before which a last sign of life is stale, on the same clock."""
        if conn.dialect.name == "postgresql":
            return func.now() - literal(timedelta(seconds=stale_after_seconds), Interval())
        return self._clock.now() - timedelta(seconds=stale_after_seconds)

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._serial, self._translate_errors(), self._engine.begin() as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._serial, self._translate_errors(), self._engine.connect() as conn:
            yield conn.execution_options(**{READ_ONLY: True})

    @contextmanager
    def _translate_errors(self) -> Iterator[None]:
        """Database trouble becomes a ``StoreError`` naming the store (never its password).

        Integrity errors pass through: callers turn them into ``BusyError`` and friends.
        """
        try:
            yield
        except IntegrityError:
            raise
        except (DBAPIError, PoolTimeoutError) as exc:
            # The driver's message names the host, port and database user: logs only.
            cause = getattr(exc, "orig", None) or exc
            ref = uuid.uuid4().hex[:8]
            log.error(
                "job store %s failed (ref %s): %s",
                self.display_url,
                ref,
                cause,
                extra={"ref": ref},
            )
            raise StoreError(
                f"The job store failed (ref `{ref}`; the bot's log has the details)",
                "try again in a minute; if it repeats, an admin checks the database "
                "behind SHOWTIME_DB_URL",
            ) from exc


def _open_period(service: str) -> Any:
    table = environment_periods
    return select(table).where(table.c.service == service, table.c.stopped.is_(None))


def _close(row: RowMapping, at: datetime) -> Any:
    # Never before it began: a stop recorded with a clock slightly behind the start's.
    return (
        environment_periods.update()
        .where(environment_periods.c.seq == row["seq"])
        .values(stopped=max(at, row["started"]))
    )


def _period_row(period: Period) -> dict[str, Any]:
    return {
        "service": period.service,
        "pr": period.pr,
        "sha": period.sha,
        "cpu_units": period.size.cpu_units,
        "memory_mib": period.size.memory_mib,
        "public_ip": period.size.public_ip,
        "started": period.started,
        "stopped": period.stopped,
        "expires": period.expires,
    }


def _period(row: RowMapping) -> Period:
    return Period(
        service=row["service"],
        pr=row["pr"],
        sha=row["sha"],
        size=Size(row["cpu_units"], row["memory_mib"], bool(row["public_ip"])),
        started=row["started"],
        stopped=row["stopped"],
        expires=row["expires"],
    )


def _pool_key(pool: str) -> int:
    """A stable 31-bit number per pool name, for the second advisory-lock key."""
    return int.from_bytes(hashlib.sha256(pool.encode()).digest()[:4], "big") & 0x7FFF_FFFF


def _columns(values: dict[str, Any]) -> dict[str, Any]:
    """``Job`` field values as column values: typed params and record become JSON."""
    columns = dict(values)
    if "params" in columns:
        columns["params"] = to_json(columns["params"])
    if "record" in columns:
        columns["data"] = to_json(columns.pop("record"))
    if "kind" in columns:
        columns["kind"] = JobKind(columns["kind"]).value
    return columns


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


def _row(job: Job) -> dict[str, Any]:
    values = _columns({name: getattr(job, name) for name in _JOB_FIELDS})
    requester: Requester = values.pop("requester")
    return values | {"requester": requester.stored, "requester_name": requester.name}


def _job(row: RowMapping) -> Job:
    values = {name: row[name] for name in _JOB_FIELDS if name not in ("record", "requester")}
    kind = JobKind(values["kind"])
    values["kind"] = kind
    values["requester"] = Requester.parse(row["requester"], row["requester_name"])
    values["params"] = params_of(kind, row["params"])
    values["record"] = record_of(kind, row["data"])
    return Job(**values)
