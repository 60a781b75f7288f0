"""The job store's database: one engine on SQLite or PostgreSQL, short transactions, and
errors that name the store but never its password (SPEC §9).

``Database`` is what every part of the store stands on (``store.SqlJobStore`` for jobs,
``store_records.Records`` for everything kept beside them). The tables and engines are in
``store_schema``.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Interval, create_engine, func, literal, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from bot.adapters.store_schema import (
    ENGINE_OPTIONS,
    READ_ONLY,
    in_memory,
    metadata,
    normalise_url,
    safe_url,
    sqlite_engine,
    upgrade,
)
from bot.clock import SYSTEM_CLOCK, Clock
from bot.orchestrator.jobs import StoreError

log = logging.getLogger(__name__)

# Any constant: serialises create_all between replicas.
_SCHEMA_LOCK_ID = 0x5E0_71AE
CREATE_ATTEMPTS = 5  # a write that keeps conflicting with other writers gives up after


class Database:
    """The engine, the store's clock, and one transaction at a time for callers.

    Every public method built on it is one short transaction and is safe to call from many
    threads; with PostgreSQL, many processes may share the database.
    """

    def __init__(self, url: str, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self._clock = clock
        self.display_url = safe_url(url)
        parsed = normalise_url(url)
        # One in-memory SQLite connection is shared by all threads; its transactions must not
        # interleave. File databases and PostgreSQL give each thread its own connection.
        self._serial: AbstractContextManager[Any] = nullcontext()
        if parsed.get_backend_name() == "sqlite":
            memory = in_memory(parsed)
            if memory:
                self._serial = threading.RLock()
            self._engine = sqlite_engine(parsed, in_memory=memory)
        else:
            self._engine = create_engine(parsed, pool_pre_ping=True, **ENGINE_OPTIONS)
        try:
            with self._write() as conn:
                if conn.dialect.name == "postgresql":
                    conn.execute(select(func.pg_advisory_xact_lock(_SCHEMA_LOCK_ID)))
                metadata.create_all(conn)
                upgrade(conn)
        except BaseException:
            self._engine.dispose()
            raise
        log.info("job store ready", extra={"store_url": self.display_url})

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (for health checks and tests)."""
        return self._engine

    def close(self) -> None:
        self._engine.dispose()

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
