"""What a job's steps work with: the ports, and ``JobRun`` — one job as this process runs it.

``JobRun`` is the only way a step touches the job: it reads the latest copy, reports
progress, records a finished step (fenced: only the job's owner can), and applies label
changes. Its ports are the job's own (``Deps.for_job``): every remote write is fenced on the
job (``bot.orchestrator.guard``) and every wait runs on the job's clock, so a process that
lost its job to another replica stops at its next write or wait, and a cancel ends any wait.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TypeVar

from bot.domain import events as ev
from bot.domain import labels as L
from bot.orchestrator.guard import Fence, Observer, guard
from bot.orchestrator.jobs import Job, JobRecord, JobStore, LostJobError, PrRecord, StartRecord
from bot.orchestrator.policy import Policy
from bot.orchestrator.ports import (
    DeploymentsPort,
    EcsPort,
    GitHubPort,
    HealthProbe,
    LogsPort,
    SmokeCheckPort,
)
from bot.orchestrator.runner import InterruptibleClock, JobControl, JobLost

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
class Ports:
    """The outside world as the adapters (or a test's fakes) give it, unguarded."""

    github: GitHubPort
    ecs: EcsPort
    health: HealthProbe
    logs: LogsPort
    deployments: DeploymentsPort | None = None
    smoke: SmokeCheckPort | None = None  # the Superset smoke check (SPEC §15)


@dataclass(frozen=True)
class Deps:
    """What every part of the service layer works with: the policy, the ports, the store.

    The ports here are the process's: their waits end only on shutdown, and ECS's writes are
    recorded (metering). ``for_job`` gives one job's view — the same ports on the job's own
    clock (a cancel or a lost job ends its waits) with every write fenced on the job.
    """

    policy: Policy
    ports: Ports
    store: JobStore
    clock: InterruptibleClock
    background: Background
    ecs_observers: tuple[Observer, ...] = ()
    raw: Ports | None = None  # the ports unguarded, for ``for_job`` (None: these are)

    @property
    def github(self) -> GitHubPort:
        return self.ports.github

    @property
    def ecs(self) -> EcsPort:
        return self.ports.ecs

    @property
    def health(self) -> HealthProbe:
        return self.ports.health

    @property
    def logs(self) -> LogsPort:
        return self.ports.logs

    @property
    def deployments(self) -> DeploymentsPort | None:
        return self.ports.deployments

    @property
    def smoke(self) -> SmokeCheckPort | None:
        return self.ports.smoke

    @classmethod
    def of(
        cls,
        policy: Policy,
        ports: Ports,
        store: JobStore,
        clock: InterruptibleClock,
        *,
        background: Background | None = None,
        ecs_observers: tuple[Observer, ...] = (),
    ) -> Deps:
        observed = replace(ports, ecs=guard(ports.ecs, EcsPort, observers=ecs_observers))
        return cls(policy, observed, store, clock, background or Background(), ecs_observers, ports)

    def for_job(self, control: JobControl, fence: Fence) -> Deps:
        """The ports of one job: on its clock, every write fenced by ``fence``."""
        clock = self.clock.for_job(control)
        raw = self.raw or self.ports
        deployments = raw.deployments
        ports = Ports(
            github=guard(raw.github.with_clock(clock), GitHubPort, fence=fence),
            ecs=guard(
                raw.ecs.with_clock(clock), EcsPort, fence=fence, observers=self.ecs_observers
            ),
            health=raw.health.with_clock(clock),
            logs=raw.logs.with_clock(clock),
            deployments=guard(deployments.with_clock(clock), DeploymentsPort, fence=fence)
            if deployments is not None
            else None,
            smoke=raw.smoke.with_clock(clock) if raw.smoke is not None else None,
        )
        return replace(self, ports=ports, clock=clock)


class JobRun:
    """One job worked on by this process; the ``Fence`` of its ports."""

    def __init__(
        self,
        deps: Deps,
        job: Job,
        control: JobControl,
        *,
        owner: str,
        resumed: bool,
        emit: Callable[[Job, ev.Event], None],
        remember: Callable[[Job], Job],
    ) -> None:
        self.owner = owner
        self.resumed = resumed
        self.control = control
        self._job = job
        self._emit = emit
        self._remember = remember
        self.deps = deps.for_job(control, self)
        # Writes nobody waits for, done once the outcome is announced, before the job ends.
        self.afterwards: list[tuple[str, Callable[[], object]]] = []
        # SHA labels this job took off the PR, whose definitions go once the outcome is out;
        # kept with each recorded step, so a job resumed after a restart deletes them too.
        carried = job.record.prune if isinstance(job.record, PrRecord) else ()
        self._unused_definitions: set[str] = set(carried)
        self._pruning = False
        if carried:
            self._pruning = True
            self.later("delete label definitions", self._delete_unused_definitions)
        self.deployment: Future[object] | None = None  # the GitHub deployment being made
        self.when_claimed: Callable[[StartRecord], None] | None = None
        self._noted: set[str] = set()
        # What the failing environment logged, for the ``Failed`` event (SPEC §14).
        self.failure_log: ev.LogTail | None = None

    # ----- the fence of the job's ports ----------------------------------------------------

    def before(self, method: str) -> None:
        self.fence()

    def after(self, method: str) -> None:
        """The write landed; if the job was adopted meanwhile, this process stops here and
        says so — the adopter works from the PR as it is now, and the sweeper reconciles
        labels against ECS for every PR the store knows the bot touched."""
        try:
            self.fence()
        except JobLost:
            log.warning(
                "%s landed after this process lost job %s; stopping it here (the new owner "
                "and the sweeper put right what it wrote)",
                method,
                self._job.correlation_id,
                extra={"job": self._job.id, "pr": self._job.pr},
            )
            raise

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
        if isinstance(record, PrRecord):
            record = replace(record, prune=tuple(sorted(self._unused_definitions)))
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
            self.control.mark_lost()
            raise JobLost(str(exc)) from exc

    def check(self) -> None:
        """Between steps: stop here if the job was cancelled, lost, or the process stops."""
        self.control.check()

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
        # GitHub made any missing definition grey; the CLI's colours follow off the wait.
        coloured = [name for name in change.add if L.label_definition(name)]
        if coloured:
            github = self.deps.github
            self.later(
                "colour label definitions", lambda: github.ensure_label_definitions(coloured)
            )
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
