"""Jobs: what the orchestrator records about every piece of work, typed (SPEC §9).

A job's row is both the runner's durable state (owner, heartbeat, last finished step, what
the steps produced) and the audit log (who asked for what, in which Slack thread, and how
it ended). Its kind is a ``JobKind``; what it was asked is a per-kind ``JobParams``; what
its steps produced is a per-kind record. The job store (a port, implemented in
``bot.adapters.store``) keeps them as JSON and gives them back as these types, so no
``data["sha7"]`` ever appears outside the codec at the bottom of this module.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from bot.domain.cost import Period
from bot.domain.modes import DeployMode
from bot.domain.requester import Requester
from bot.errors import AlreadyRunningError, ShowtimeError


class JobKind(StrEnum):
    START = "start"  # deploy, redeploy in place, or rolling update
    STOP = "stop"
    TTL = "ttl"
    FREEZE = "freeze"
    UNFREEZE = "unfreeze"
    CLEANUP = "cleanup"  # a cleanup run, or cleanup/sweeper holding a PR for a direct change
    CHECK = "check"  # the smoke check again, on the running environment ("Check again")

    @property
    def announced(self) -> bool:
        """Kinds whose outcome is told on the PR too (the optional PR comment)."""
        return self in (JobKind.START, JobKind.STOP)


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"  # stopped by a person; what it made was undone (SPEC §16)


LIVE_STATES = frozenset({JobState.QUEUED, JobState.RUNNING})


def pr_lock(pr: int) -> str:
    """The lock key of a PR's jobs: one live job per PR, across threads and replicas."""
    return f"pr:{pr}"


CLEANUP_LOCK = "cleanup"


# ----- what a job was asked --------------------------------------------------------------


@dataclass(frozen=True)
class JobParams:
    """What every kind may carry: where to answer, and whether a button asked."""

    response_url: str | None = None  # the slash command's or button's, for a direct answer
    button: bool = False  # pressed on a status message, which may be out of date
    reason: str | None = None  # why it was asked, said in the thread (sweeper, GitHub events)


@dataclass(frozen=True)
class StartParams(JobParams):
    ttl: str | None = None  # ``ttl=`` of the command; None keeps (or defaults) the PR's


@dataclass(frozen=True)
class StopParams(JobParams):
    pass


@dataclass(frozen=True)
class TtlParams(JobParams):
    ttl: str | None = None
    extend: bool = False  # one step longer (24h → 48h → 72h → 1w, never close by itself)


@dataclass(frozen=True)
class CleanupParams(JobParams):
    dry_run: bool = False


# ----- what its steps produced ------------------------------------------------------------


# A record field the store does not keep: it only travels with the job as it ends.
TRANSIENT = "transient"


@dataclass(frozen=True)
class Outdated:
    """An earlier status message of the PR that the ending job made untrue (SPEC §17): it
    showed ``sha`` (running, or failed with Stop), which is now stopped — or, after a rolling
    update, replaced by ``replaced_by``."""

    channel: str
    ts: str
    sha: str
    replaced_by: str = ""  # "" when stopped


@dataclass(frozen=True)
class PrRecord:
    """The PR as the job last saw it: its labels after the job's last label write."""

    labels: tuple[str, ...] = ()
    title: str = ""
    head: str = ""  # the PR's head commit when the job read the PR (an unfreeze names it)
    prune: tuple[str, ...] = ()  # SHA label definitions to delete once the outcome is out
    # The active environment's logs in the AWS console (its Logs button), computed with no
    # AWS call: every job on a status message keeps the button (SPEC §17).
    logs_url: str = ""
    # What the active environment's latest smoke check found (SPEC §15): a deploy's and a
    # Check again's own; a later change on it carries them, so its message stays true.
    checked: str = ""  # what passed: "✓ login · 12 dashboards · SQL Lab · charts"
    degraded: str = ""  # the check that keeps failing, and how, when one does
    # Set as the job ends, never stored: the PR's earlier status messages its end made
    # untrue (an environment stopped or replaced), for whoever shows them to update.
    outdated: tuple[Outdated, ...] = field(default=(), metadata={TRANSIENT: True})


@dataclass(frozen=True)
class StartRecord(PrRecord):
    before: tuple[str, ...] = ()  # the PR's labels before the claim (a cancel puts them back)
    sha: str = ""  # the full SHA being deployed
    sha7: str = ""
    mode: DeployMode = DeployMode.FRESH
    previous_sha: str | None = None  # the environment a rolling update replaces
    takeover_sha: str | None = None  # a stale claim taken over (said in the thread)
    takeover_status: str | None = None
    body: str = ""  # the PR description (feature flags)
    task_definition: str = ""  # ARN registered for this deploy
    previous_task_definition: str = ""  # what an in-place redeploy's service ran before
    created_service: bool = False  # this job created the service (a failure deletes it)
    address: str = ""  # ip:port once healthy
    deployment_id: int | None = None  # its GitHub deployment (SHOWTIME_GITHUB_DEPLOYMENTS)
    # The task whose failure ended the deploy (id or ARN): its log stays in CloudWatch after
    # the undo deleted its service, so the failed card's Logs button can still show it.
    failed_task: str = ""


@dataclass(frozen=True)
class StopRecord(PrRecord):
    deleted: tuple[str, ...] = ()  # services ECS accepted to delete


@dataclass(frozen=True)
class CleanupRecord:
    pass


JobRecord = StartRecord | StopRecord | PrRecord | CleanupRecord


@dataclass(frozen=True)
class StatusMessage:
    """One status message of a PR, as the newest job that ran on it (got past validation)
    left it: what kind of job, how it ended, what it recorded."""

    channel: str
    ts: str
    kind: JobKind
    state: JobState
    record: JobRecord


@dataclass(frozen=True)
class Job:
    id: str  # uuid4 hex
    kind: JobKind
    lock_key: str | None  # "pr:36121", "cleanup", or None for jobs that need no exclusivity
    pr: int | None
    sha: str | None  # as asked (a prefix); the record has the resolved SHA
    requester: Requester  # a Slack user, a GitHub login or the bot itself; its 🤡 name
    channel: str | None
    thread_ts: str | None  # the status message's ts, which is the thread
    params: JobParams
    record: JobRecord
    step: str | None  # last finished step
    state: JobState
    outcome: str | None  # final message; the reason on failure
    correlation_id: str  # 8 hex, shown in Slack and in logs
    idempotency_key: str | None
    owner: str | None  # the process that works on it
    heartbeat_at: datetime | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None

    @property
    def live(self) -> bool:
        return self.state in LIVE_STATES


# ----- errors ---------------------------------------------------------------------------


class StoreError(ShowtimeError):
    """The job store could not do what was asked."""


class JobBusyError(AlreadyRunningError):
    """Another live job holds the lock key; ``job`` is that job (who, since when, where)."""

    def __init__(self, job: Job) -> None:
        subject = f"#{job.pr}" if job.pr is not None else CLEANUP_LOCK
        super().__init__(
            f"{subject} is busy: {job.kind} job {job.correlation_id} is still running",
            "follow it in its thread; try again when it has finished",
        )
        self.job = job


class DuplicateRequestError(ShowtimeError):
    """The very same request (same idempotency key) was already taken; ``job`` is its job."""

    def __init__(self, job: Job) -> None:
        super().__init__(
            f"this request was already taken as {job.kind} job {job.correlation_id}",
            "nothing to do: that job handles it",
        )
        self.job = job


class LostJobError(StoreError):
    """The job is no longer this process's: another one adopted it after a pause.

    Raised by every fenced write: the loser must stop touching the job at once and undo
    nothing, since the new owner may already have built on what it did.
    """

    def __init__(self, job: Job, owner: str) -> None:
        super().__init__(
            f"{job.kind} job {job.correlation_id} now belongs to {job.owner or 'nobody'} "
            f"({job.state}), not {owner}",
            "nothing to do: the new owner carries on with it",
        )
        self.job = job
        self.owner = owner


@dataclass(frozen=True)
class QueuedJob:
    """The one job waiting for a PR's live job to end (SPEC §16: a queue of one).

    A start is pinned to the SHA asked for (a Slack start: the head when it was asked; a
    push: the pushed head) and deploys exactly that SHA; a push's (``head_only``) only if it
    is still the PR's head when its turn comes (SPEC §11), so a head nobody allowed is never
    deployed. A newer request replaces the one waiting, and a stop is never replaced by a
    start. It lives in the job store, so it survives a restart and every replica sees it.
    """

    id: str  # uuid4 hex: what "Cancel queued" names
    pr: int
    kind: JobKind  # START or STOP
    requester: Requester
    sha: str | None = None  # the SHA a start deploys (40 hex, or the prefix a person typed)
    head_only: bool = False  # GitHub's: deployed only if still the PR's head (SPEC §11)
    needs_environment: bool = False  # a push's rolling update: only while one runs
    params: JobParams = field(default_factory=JobParams)
    channel: str | None = None  # where the request was made: its thread, if the PR has none
    queued_at: datetime | None = None


# ----- the store, as the orchestrator needs it ---------------------------------------------


class JobStore(Protocol):
    """Jobs, per-key locks, once-only keys, limited pools and the record of when each
    environment ran, shared by every replica."""

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
        """``JobBusyError`` when ``lock_key`` is held, ``DuplicateRequestError`` when the
        idempotency key was used before."""
        ...

    def get(self, job_id: str) -> Job | None: ...
    def live_job(self, lock_key: str) -> Job | None: ...
    def live_jobs(self) -> list[Job]: ...
    def recent(self, limit: int = 50, pr: int | None = None) -> list[Job]: ...
    def latest_thread(self, pr: int) -> tuple[str, str] | None: ...
    def prs_touched(self, since: datetime, limit: int = 200) -> list[int]:
        """PRs whose jobs changed since ``since`` (what the bot itself touched)."""
        ...

    def status_messages(self, pr: int, limit: int) -> list[StatusMessage]:
        """The PR's ``limit`` newest status messages (threads of its jobs), newest first,
        each as the newest job that ran on it left it."""
        ...

    def set_thread(self, job_id: str, channel: str, thread_ts: str) -> Job: ...
    def mark_running(self, job_id: str, owner: str) -> Job: ...
    def record_step(self, job_id: str, step: str, *, owner: str, record: JobRecord) -> Job: ...
    def check_owner(self, job_id: str, owner: str) -> Job: ...
    def finish(
        self, job_id: str, state: JobState, outcome: str, *, owner: str | None = None
    ) -> Job: ...
    def heartbeat(self, owner: str, job_ids: Iterable[str]) -> set[str]: ...
    def adopt_orphans(
        self, owner: str, stale_after_seconds: float, *, keep: Iterable[str] = ()
    ) -> list[Job]: ...
    def remember_once(self, key: str) -> bool: ...
    def remembered(self, keys: Iterable[str]) -> bool: ...
    def remember(self, keys: Iterable[str]) -> None: ...
    def forget_remembered(self, prefix: str, before: datetime) -> int: ...
    def enqueue(self, entry: QueuedJob) -> tuple[QueuedJob, QueuedJob | None]:
        """Make ``entry`` the PR's queued job; (what waits now, what it replaced). A queued
        stop stays rather than be replaced by a start: then what waits is not ``entry``."""
        ...

    def queued(self, pr: int) -> QueuedJob | None: ...
    def dequeue(self, entry_id: str) -> QueuedJob | None:
        """Remove that entry (if it still waits) and give it back."""
        ...

    def queued_prs(self) -> list[int]: ...
    def request_cancel(self, job_id: str, by: str) -> bool: ...
    def cancel_requests(self, job_ids: Iterable[str]) -> dict[str, str]: ...
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
    ) -> float | None: ...

    # When each environment ran (SPEC §13): this month's spend and the budget.
    def environment_started(self, period: Period, *, replace: bool = True) -> bool: ...
    def environment_stopped(self, service: str, at: datetime) -> bool: ...
    def set_environment_expiry(self, service: str, expires: datetime | None) -> None: ...
    def environment_periods(self, since: datetime) -> list[Period]: ...

    # Who wants direct messages about their environments (SPEC §16; default yes).
    def set_notify(self, user: str, on: bool) -> None: ...
    def notify_wanted(self, user: str) -> bool: ...


# ----- the codec: typed values ⇄ JSON (used by the store) ----------------------------------

PARAMS_TYPES: dict[JobKind, type[JobParams]] = {
    JobKind.START: StartParams,
    JobKind.STOP: StopParams,
    JobKind.TTL: TtlParams,
    JobKind.FREEZE: JobParams,
    JobKind.UNFREEZE: JobParams,
    JobKind.CLEANUP: CleanupParams,
    JobKind.CHECK: JobParams,
}
RECORD_TYPES: dict[JobKind, type[JobRecord]] = {
    JobKind.START: StartRecord,
    JobKind.STOP: StopRecord,
    JobKind.TTL: PrRecord,
    JobKind.FREEZE: PrRecord,
    JobKind.UNFREEZE: PrRecord,
    JobKind.CLEANUP: CleanupRecord,
    JobKind.CHECK: StartRecord,  # what a deploy's smoke step keeps: the same fields
}

T = TypeVar("T")


def to_json(value: object) -> dict[str, Any]:
    """A params or record dataclass as JSON-ready values (defaults left out: rows stay small)."""
    assert dataclasses.is_dataclass(value) and not isinstance(value, type)
    out: dict[str, Any] = {}
    for item in dataclasses.fields(value):
        current = getattr(value, item.name)
        if current == item.default or item.metadata.get(TRANSIENT):
            continue
        out[item.name] = list(current) if isinstance(current, tuple) else current
    return out


def from_json(cls: type[T], data: Mapping[str, Any] | None) -> T:
    """``cls`` from stored JSON; unknown keys (an older or newer bot's) are ignored."""
    assert dataclasses.is_dataclass(cls)
    values: dict[str, Any] = {}
    for item in dataclasses.fields(cls):
        if data is None or item.name not in data:
            continue
        raw = data[item.name]
        if item.type == "tuple[str, ...]" and isinstance(raw, list):
            raw = tuple(raw)
        elif item.type == "DeployMode" and raw is not None:
            raw = DeployMode(raw)
        values[item.name] = raw
    return cls(**values)


def params_of(kind: JobKind, data: Mapping[str, Any] | None) -> JobParams:
    return from_json(PARAMS_TYPES[kind], data)


def record_of(kind: JobKind, data: Mapping[str, Any] | None) -> JobRecord:
    return from_json(RECORD_TYPES[kind], data)


def empty_record(kind: JobKind) -> JobRecord:
    return RECORD_TYPES[kind]()


SMOKE_JOBS = 20  # a PR's recent jobs looked through for its environments' smoke results


def smoke_results(jobs: list[Job]) -> dict[tuple[int, str], StartRecord]:
    """Each environment's (PR, SHA) newest smoke result among ``jobs`` (newest first): the
    record of the deploy or Check again that ran it."""
    latest: dict[tuple[int, str], StartRecord] = {}
    for job in jobs:
        found = job.record
        if (
            job.kind in (JobKind.START, JobKind.CHECK)
            and job.state is JobState.SUCCEEDED
            and isinstance(found, StartRecord)
            and job.pr is not None
        ):
            latest.setdefault((job.pr, found.sha7), found)
    return latest
