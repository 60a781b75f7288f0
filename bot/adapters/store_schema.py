"""The job store's tables and engines (SPEC §9): what ``SqlJobStore`` reads and writes.

Tables: ``jobs`` (each job, its state and audit trail), ``job_locks`` (one live job per lock
key, enforced by a primary key), ``remembered_keys`` ("only once" keys: webhook deliveries,
button presses), ``queued_jobs`` (the job waiting for a PR's live job to end), ``reservations``
(held units of limited pools), ``environment_periods`` (when each environment ran) and
``notify_settings`` (who turned direct messages off, or on again).

The schema is made with ``create_all`` on construction. ``create_all`` only adds missing tables,
so changing an existing table needs a migration tool (Alembic) first.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Connection,
    DateTime,
    Dialect,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

from bot.orchestrator.jobs import JobState

# Execution option telling the SQLite begin hook that a transaction only reads.
READ_ONLY = "showtime_read_only"


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, on both backends.

    SQLite has no time zones: values are stored as naive UTC text (which also sorts and compares
    correctly as text). PostgreSQL stores ``timestamptz`` and hands values back in the session's
    zone, so they are converted back to UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the job store needs timezone-aware times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class StateType(TypeDecorator[JobState]):
    """Job states as their plain values ("queued"), read back as ``JobState``."""

    impl = String(16)
    cache_ok = True

    def process_bind_param(self, value: JobState | None, dialect: Dialect) -> str | None:
        return None if value is None else JobState(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> JobState | None:
        return None if value is None else JobState(value)


_json = JSON().with_variant(JSONB(), "postgresql")
metadata = MetaData()

# The states a job row may hold. "cancelled" came with Cancel (SPEC §16): a store made by an
# older bot is upgraded on start (``upgrade``), since create_all never changes a table.
JOBS_STATE_CHECK = "state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')"


jobs = Table(
    "jobs",
    metadata,
    # Insertion order: newest-first stays right when created_at ties (same instant, fake clocks).
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(32), nullable=False, unique=True),
    Column("kind", String(32), nullable=False),
    Column("lock_key", String(200)),
    Column("pr", Integer),
    Column("sha", String(64)),
    Column("requester", String(64), nullable=False),
    Column("requester_name", String(200), nullable=False),
    Column("channel", String(64)),
    Column("thread_ts", String(64)),
    Column("params", _json, nullable=False),
    Column("data", _json, nullable=False),
    Column("step", String(100)),
    Column("state", StateType(), nullable=False),
    Column("outcome", Text),
    Column("correlation_id", String(8), nullable=False),
    Column("idempotency_key", String(255), unique=True),
    Column("owner", String(200)),
    Column("heartbeat_at", UTCDateTime()),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime()),
    CheckConstraint(JOBS_STATE_CHECK, name="jobs_state_known"),
    Index("jobs_pr_created", "pr", "created_at"),
    Index("jobs_state", "state"),
)

job_locks = Table(
    "job_locks",
    metadata,
    Column("lock_key", String(200), primary_key=True),
    Column(
        "job_id",
        String(32),
        ForeignKey("jobs.id", ondelete="CASCADE"),
        nullable=False,
        unique=True,
    ),
    Column("created_at", UTCDateTime(), nullable=False),
)

remembered_keys = Table(
    "remembered_keys",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("created_at", UTCDateTime(), nullable=False),
)

# The one job waiting for a PR's live job to end (SPEC §16): a start pinned to its SHA or a
# stop, with who asked and where. One row per PR: a newer request replaces the one waiting.
# (``followups``, its predecessor, is no longer written or read.)
queued_jobs = Table(
    "queued_jobs",
    metadata,
    Column("pr", Integer, primary_key=True),
    Column("id", String(32), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    Column("sha", String(40)),
    Column("head_only", Boolean, nullable=False, default=False),
    Column("needs_environment", Boolean, nullable=False, default=False),
    Column("requester", String(200), nullable=False),
    Column("requester_name", String(200), nullable=False, default=""),
    Column("params", JSON, nullable=False),
    Column("channel", String(64)),
    Column("queued_at", UTCDateTime(), nullable=False),
)

# Cancels asked for a running job (SPEC §16), so the press may land on any replica: the owner
# passes them on to the job's waits within a second. Kept with the job as its audit trail.
cancel_requests = Table(
    "cancel_requests",
    metadata,
    Column("job_id", String(32), primary_key=True),
    Column("requested_by", String(200), nullable=False),
    Column("requested_at", UTCDateTime(), nullable=False),
)

# What a live job holds of a limited pool (the environment limit, the monthly budget) until it
# finishes: a check-and-hold in one transaction, so two jobs racing for the last unit cannot
# both get it. ``item`` names what the unit becomes (a service name), so a unit that already
# shows up in the caller's count of what is in use is not counted twice.
reservations = Table(
    "reservations",
    metadata,
    Column("job_id", String(32), ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
    Column("pool", String(32), primary_key=True),
    Column("item", String(200), nullable=False),
    Column("amount", Float, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

# When each environment ran, and with what size (SPEC §13: this month's spend counts stopped
# environments too). One row per stretch: opened when ECS accepts the service, closed when it
# is deleted; a redeploy onto a new task definition closes one and opens the next. At most one
# open row per service name (a partial unique index, on both backends).
environment_periods = Table(
    "environment_periods",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("service", String(200), nullable=False),
    Column("pr", Integer, nullable=False),
    Column("sha", String(40), nullable=False),
    Column("cpu_units", Integer, nullable=False),
    Column("memory_mib", Integer, nullable=False),
    Column("public_ip", Boolean, nullable=False),
    Column("started", UTCDateTime(), nullable=False),
    Column("stopped", UTCDateTime()),
    Column("expires", UTCDateTime()),
    Index(
        "environment_periods_open",
        "service",
        unique=True,
        sqlite_where=text("stopped IS NULL"),
        postgresql_where=text("stopped IS NULL"),
    ),
    Index("environment_periods_stopped", "stopped"),
)

# Direct messages about one's own environments (SPEC §16): a row per person who said
# `/showtime notify on|off` (or flipped it on the Home tab); no row means on, the default.
notify_settings = Table(
    "notify_settings",
    metadata,
    Column("user_id", String(64), primary_key=True),  # a Slack user id
    Column("notify", Boolean, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)


def normalise_url(url: str) -> URL:
    """Parse a store URL; Heroku's ``postgres://`` and plain ``postgresql://`` get psycopg 3."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def in_memory(parsed: URL) -> bool:
    """A SQLite URL with no file: one process's private store."""
    return parsed.database in (None, "", ":memory:")


def safe_url(url: str) -> str:
    """The URL with its password masked, for logs and error messages."""
    return normalise_url(url).render_as_string(hide_password=True)


# Statements are short, but dozens of job threads, Slack requests and the tickers may each
# want one at once (SQLAlchemy's default is 5 + 10). Parameters stay out of error texts:
# a job's params hold a Slack response_url, a credential for half an hour.
ENGINE_OPTIONS: dict[str, Any] = {"pool_size": 10, "max_overflow": 40, "hide_parameters": True}


def sqlite_engine(url: URL, *, in_memory: bool) -> Engine:
    options: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
    if in_memory:
        options["poolclass"] = StaticPool  # one connection, or each would see its own database
        options["hide_parameters"] = True
    else:
        options.update(ENGINE_OPTIONS)
    engine = create_engine(url, **options)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # SQLAlchemy emits BEGIN itself (below); the driver's own handling skips it for SELECT.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # busy_timeout first: switching to WAL needs a lock another connection may hold.
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # A write transaction takes the write lock up front: a deferred one that reads, then
        # writes, fails at once with SQLITE_BUSY if another writer committed in between,
        # whatever the busy timeout. Reads in WAL mode never wait for writers.
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def upgrade(conn: Connection) -> None:
    """Bring a store an older bot made up to this schema (create_all only adds tables).

    The one change so far: ``jobs.state`` may be ``cancelled``. PostgreSQL swaps the check
    constraint; SQLite, which cannot alter one, has its schema text edited (the change does
    not touch how rows are stored, so SQLite documents this as the way).
    """
    if conn.dialect.name == "postgresql":
        found = conn.execute(
            text(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conname = 'jobs_state_known' AND conrelid = 'jobs'::regclass"
            )
        ).scalar()
        if found is not None and "cancelled" not in found:
            conn.execute(text("ALTER TABLE jobs DROP CONSTRAINT jobs_state_known"))
            conn.execute(
                text(f"ALTER TABLE jobs ADD CONSTRAINT jobs_state_known CHECK ({JOBS_STATE_CHECK})")
            )
        return
    sql = conn.execute(
        text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'jobs'")
    ).scalar()
    before = "'succeeded', 'failed')"
    if sql is None or "cancelled" in sql or before not in sql:
        return
    # SQLite's documented way to change a CHECK constraint in place (it does not change how
    # rows are stored): edit the table's schema text and bump the schema version.
    version = int(conn.execute(text("PRAGMA schema_version")).scalar() or 0)
    conn.execute(text("PRAGMA writable_schema=ON"))
    conn.execute(
        text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = 'jobs'"),
        {"sql": sql.replace(before, "'succeeded', 'failed', 'cancelled')")},
    )
    conn.execute(text(f"PRAGMA schema_version={version + 1}"))
    conn.execute(text("PRAGMA writable_schema=OFF"))
