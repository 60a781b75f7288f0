"""What the job store keeps beside the jobs (SPEC §9, §11, §13, §16).

- "only once" keys (``remembered_keys``): webhook deliveries handled, warnings sent;
- the queue of one per PR (``queued_jobs``): the job waiting for the PR's live job to end;
- held units of limited pools (``reservations``): the environment limit, the monthly budget;
- when each environment ran, and with what size (``environment_periods``);
- who wants direct messages about their environments (``notify_settings``);
- a PR's status messages, as the newest job on each left it (read from ``jobs``).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, func, select
from sqlalchemy.exc import IntegrityError

from bot.adapters.store_db import CREATE_ATTEMPTS, Database
from bot.adapters.store_schema import (
    cancel_requests,
    environment_periods,
    jobs,
    notify_settings,
    queued_jobs,
    remembered_keys,
    reservations,
)
from bot.domain.cost import Period, Size
from bot.domain.requester import Requester
from bot.orchestrator.jobs import (
    LIVE_STATES,
    JobKind,
    QueuedJob,
    StatusMessage,
    StoreError,
    params_of,
    record_of,
    to_json,
)

_LIVE = sorted(LIVE_STATES)
# Any constant: serialises each reservation pool between replicas.
_POOL_LOCK_ID = 0x5E0_7100


class Records(Database):
    def status_messages(self, pr: int, limit: int) -> list[StatusMessage]:
        """The PR's ``limit`` newest status messages, newest first: for each thread of its
        jobs, the newest job that ran on it (one refused at validation never touched it)."""
        newest = (
            select(func.max(jobs.c.seq).label("seq"))
            .where(
                jobs.c.pr == pr,
                jobs.c.channel.is_not(None),
                jobs.c.thread_ts.is_not(None),
                jobs.c.step.is_not(None),
            )
            .group_by(jobs.c.channel, jobs.c.thread_ts)
            .order_by(func.max(jobs.c.seq).desc())
            .limit(limit)
            .subquery()
        )
        query = (
            select(jobs.c.channel, jobs.c.thread_ts, jobs.c.kind, jobs.c.state, jobs.c.data)
            .join(newest, jobs.c.seq == newest.c.seq)
            .order_by(jobs.c.seq.desc())
        )
        with self._read() as conn:
            rows = conn.execute(query).all()
        messages = []
        for row in rows:
            kind = JobKind(row.kind)
            record = record_of(kind, row.data)
            messages.append(StatusMessage(row.channel, row.thread_ts, kind, row.state, record))
        return messages

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

    # ----- cancels ----------------------------------------------------------------------

    def request_cancel(self, job_id: str, by: str) -> bool:
        """Ask the job to stop (the first ask stands); False when it was asked already."""
        try:
            with self._write() as conn:
                conn.execute(
                    cancel_requests.insert().values(
                        job_id=job_id, requested_by=by, requested_at=self._clock.now()
                    )
                )
        except IntegrityError:
            return False
        return True

    def cancel_requests(self, job_ids: Iterable[str]) -> dict[str, str]:
        """Who asked to cancel which of ``job_ids``."""
        wanted = list(job_ids)
        with self._read() as conn:
            rows = conn.execute(
                select(cancel_requests.c.job_id, cancel_requests.c.requested_by).where(
                    cancel_requests.c.job_id.in_(wanted)
                )
            )
            return {row.job_id: row.requested_by for row in rows}

    # ----- the queue of one --------------------------------------------------------------

    def enqueue(self, entry: QueuedJob) -> tuple[QueuedJob, QueuedJob | None]:
        with self._write() as conn:
            row = (
                conn.execute(
                    select(queued_jobs).where(queued_jobs.c.pr == entry.pr).with_for_update()
                )
                .mappings()
                .first()
            )
            current = _queued(row) if row is not None else None
            if (
                current is not None
                and current.kind is JobKind.STOP
                and entry.kind is not JobKind.STOP
            ):
                return current, None  # the PR is being stopped: a start after it is moot
            conn.execute(queued_jobs.delete().where(queued_jobs.c.pr == entry.pr))
            conn.execute(queued_jobs.insert().values(_queued_row(entry, self._clock.now())))
        return entry, current

    def queued(self, pr: int) -> QueuedJob | None:
        with self._read() as conn:
            row = conn.execute(select(queued_jobs).where(queued_jobs.c.pr == pr)).mappings().first()
        return _queued(row) if row is not None else None

    def dequeue(self, entry_id: str) -> QueuedJob | None:
        with self._write() as conn:
            row = (
                conn.execute(
                    select(queued_jobs).where(queued_jobs.c.id == entry_id).with_for_update()
                )
                .mappings()
                .first()
            )
            if row is None:
                return None
            conn.execute(queued_jobs.delete().where(queued_jobs.c.id == entry_id))
        return _queued(row)

    def queued_prs(self) -> list[int]:
        with self._read() as conn:
            return [row.pr for row in conn.execute(select(queued_jobs.c.pr))]

    def environment_started(self, period: Period, *, replace: bool = True) -> bool:
        """Record that ``period.service`` runs from ``period.started`` with its size.

        ``replace``: a period of that service still open ends at ``period.started`` (a
        redeploy onto a new size, or a name re-created after a stop nobody recorded);
        without it, nothing is written when one is open (the sweeper adopting a service
        it found running). True when a period was opened.
        """
        for _attempt in range(CREATE_ATTEMPTS):
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

    # ----- direct messages (SPEC §16) ------------------------------------------------------

    def set_notify(self, user: str, on: bool) -> None:
        """``user`` wants direct messages about their environments (``on``), or not."""
        values = {"notify": on, "updated_at": self._clock.now()}
        for _attempt in range(CREATE_ATTEMPTS):
            try:
                with self._write() as conn:
                    changed = conn.execute(
                        notify_settings.update()
                        .where(notify_settings.c.user_id == user)
                        .values(**values)
                    )
                    if not changed.rowcount:
                        conn.execute(notify_settings.insert().values(user_id=user, **values))
                return
            except IntegrityError:
                continue  # another replica inserted the row meanwhile: update it
        raise StoreError(
            "Could not record your direct-message setting: it kept conflicting with other writers",
            "try again in a moment",
        )

    def notify_wanted(self, user: str) -> bool:
        """Does ``user`` want direct messages? Yes unless they turned them off."""
        with self._read() as conn:
            row = conn.execute(
                select(notify_settings.c.notify).where(notify_settings.c.user_id == user)
            ).first()
        return True if row is None else bool(row.notify)


def new_queue_id() -> str:
    return uuid.uuid4().hex


def _queued_row(entry: QueuedJob, now: datetime) -> dict[str, Any]:
    return {
        "pr": entry.pr,
        "id": entry.id,
        "kind": entry.kind.value,
        "sha": entry.sha,
        "head_only": entry.head_only,
        "needs_environment": entry.needs_environment,
        "requester": entry.requester.stored,
        "requester_name": entry.requester.name,
        "params": to_json(entry.params),
        "channel": entry.channel,
        "queued_at": entry.queued_at or now,
    }


def _queued(row: RowMapping) -> QueuedJob:
    kind = JobKind(row["kind"])
    return QueuedJob(
        id=row["id"],
        pr=row["pr"],
        kind=kind,
        requester=Requester.parse(row["requester"], row["requester_name"]),
        sha=row["sha"],
        head_only=bool(row["head_only"]),
        needs_environment=bool(row["needs_environment"]),
        params=params_of(kind, row["params"]),
        channel=row["channel"],
        queued_at=row["queued_at"],
    )


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
