"""What a job's steps work with: the ports, and ``JobRun`` — one job as this process runs it.

``JobRun`` is the only way a step touches the job: it reads the latest copy, reports
progress, records a finished step (fenced: only the job's owner can), and applies label
changes. Every remote write goes through the fenced ports (``bot.orchestrator.fencing``),
so a process that lost its job to another replica stops at its next write or wait.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from bot.clock import Clock
from bot.config import Settings
from bot.domain import events as ev
from bot.domain import labels as L
from bot.orchestrator.jobs import Job, JobRecord, JobStore, LostJobError, PrRecord, StartRecord
from bot.orchestrator.ports import DeploymentsPort, EcsPort, GitHubPort, HealthProbe, LogsPort
from bot.orchestrator.runner import JobLost

log = logging.getLogger(__name__)

R = TypeVar("R", bound=JobRecord)


class Background:
    """Writes nobody waits for that can happen *while* the requester waits on ECS (the
    coloured definition of the 🚦 running label a deploy will need): a small pool of their
    own, best effort. A failure is logged and forgotten — the write that needs the result
    does it itself then."""

    def __init__(self, workers: int = 2) -> None:
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="after")

    def submit(self, what: str, work: Callable[[], object]) -> Future[object]:
        def run() -> object:
            try:
                return work()
            except Exception:
                log.warning("could not %s (it is retried later)", what, exc_info=True)
                return None

        return self._pool.submit(run)

    def shutdown(self, timeout: float) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


@dataclass(frozen=True)
class Deps:
    """The ports and settings every step may use."""

    settings: Settings
    github: GitHubPort
    ecs: EcsPort
    health: HealthProbe
    logs: LogsPort
    store: JobStore
    clock: Clock
    background: Background
    deployments: DeploymentsPort | None = None


class JobRun:
    """One job worked on by this process."""

    def __init__(
        self,
        deps: Deps,
        job: Job,
        *,
        owner: str,
        resumed: bool,
        emit: Callable[[Job, ev.Event], None],
        remember: Callable[[Job], Job],
    ) -> None:
        self.deps = deps
        self.owner = owner
        self.resumed = resumed
        self._job = job
        self._emit = emit
        self._remember = remember
        # Writes nobody waits for, done once the outcome is announced, before the job ends.
        self.afterwards: list[tuple[str, Callable[[], object]]] = []
        self._unused_definitions: set[str] = set()  # SHA labels this job took off the PR
        self._pruning = False
        self.deployment: Future[object] | None = None  # the GitHub deployment being made
        self.when_claimed: Callable[[StartRecord], None] | None = None
        self._noted: set[str] = set()
        # What the failing environment logged, for the ``Failed`` event (SPEC §14).
        self.failure_log: ev.LogTail | None = None

    @property
    def job(self) -> Job:
        return self._job

    @property
    def pr(self) -> int:
        assert self._job.pr is not None, "only jobs of a PR have steps"
        return self._job.pr

    def record(self, cls: type[R]) -> R:
        """The job's record as ``cls`` (its kind's record type)."""
        record = self._job.record
        assert isinstance(record, cls), f"{self._job.kind} job has a {type(record).__name__}"
        return record

    def say(self, event: ev.Event) -> None:
        self._emit(self._job, event)

    def done(self, step: str, order: Sequence[str]) -> bool:
        """Did the job finish ``step`` already (before a restart cut it off)?"""
        current = self._job.step
        return current in order and order.index(current) >= order.index(step)

    def step(self, name: str, record: JobRecord) -> Job:
        """Record a finished step and what the steps produced; only the owner can."""
        try:
            job = self.deps.store.record_step(self._job.id, name, owner=self.owner, record=record)
        except LostJobError as exc:
            raise JobLost(str(exc)) from exc
        self._job = self._remember(job)
        return job

    def fence(self) -> None:
        """``JobLost`` unless the store still names this process as the job's owner."""
        try:
            self.deps.store.check_owner(self._job.id, self.owner)
        except LostJobError as exc:
            raise JobLost(str(exc)) from exc

    def note_once(self, key: str) -> bool:
        """True the first time ``key`` is noted for this job (say a problem once a thread)."""
        first = key not in self._noted
        self._noted.add(key)
        return first

    def later(self, what: str, work: Callable[[], object]) -> None:
        """Do ``work`` once the outcome is announced (before the job ends), best effort."""
        self.afterwards.append((what, work))

    def set_labels(self, change: L.LabelChange, current: Sequence[str]) -> tuple[str, ...]:
        """Apply ``change`` to the PR's labels. The definitions of the SHA labels the job
        took off — and did not put back — are deleted once the outcome is announced (they
        would pile up, SPEC §6; deleting a definition takes its label off every PR)."""
        if change.empty:
            return tuple(current)
        after = self.deps.github.apply_labels(self.pr, change, current)
        gone = {n for n in change.remove if L.sha_of_label(n)}
        if gone and not self._pruning:
            self._pruning = True
            self.later("delete label definitions", self._delete_unused_definitions)
        self._unused_definitions.update(gone)
        self._unused_definitions.difference_update(after)
        return after

    def _delete_unused_definitions(self) -> None:
        record = self._job.record
        carried = set(record.labels) if isinstance(record, PrRecord) else set()
        gone = sorted(self._unused_definitions - carried)
        if gone:
            self.deps.github.delete_label_definitions(gone)
