"""Jobs: the one way work starts (SPEC §1, §6, §9, §16).

Every entry point — a slash command, a button, the Home tab, a GitHub delivery, the
sweeper — hands ``Jobs.submit`` one ``JobRequest`` (who asks, what, where to report) and
shows the ``Answer`` it gets back. Inside, always the same way: the job is recorded (the
database enforces one live job per PR, and an idempotency key per request), validated with
reads only, its status message is opened where the request says, and it runs
(``execution``); if anything fails before it runs, it is given up so the PR is never left
busy.

A start or a stop for a PR whose job runs is not refused as busy: it becomes the PR's one
queued job (pinned to its SHA), run when the current one ends — a newer request replaces
it, and whoever asked for the replaced one is told. A stop during a deploy also cancels the
deploy. ``cancel`` reaches the running job through the job store, so the press may land on
any replica; the owner's waits notice within a second.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol

from bot.domain import events as ev
from bot.domain.requester import Requester
from bot.errors import RefusedError, ShowtimeError, public_text
from bot.orchestrator import changes, start
from bot.orchestrator.context import Deps
from bot.orchestrator.execution import Execution, Handler
from bot.orchestrator.jobs import (
    DuplicateRequestError,
    Job,
    JobBusyError,
    JobKind,
    JobRecord,
    JobState,
    JobStore,
    LostJobError,
    pr_lock,
)
from bot.orchestrator.mirror import DeploymentMirror
from bot.orchestrator.models import (
    Answer,
    Busy,
    CancelAnswer,
    Cancelling,
    CannotPost,
    DroppedQueued,
    Duplicate,
    JobRequest,
    NothingToCancel,
    Notice,
    Queued,
    Refused,
    Reporting,
    Started,
    TooLate,
)
from bot.orchestrator.ports import CannotPostError, PullRequest, Threads
from bot.orchestrator.queue import PrQueue
from bot.orchestrator.runner import JobRunner

log = logging.getLogger(__name__)

Validator = Callable[[Deps, Job, PullRequest | None], JobRecord]
QUEUEABLE = frozenset({JobKind.START, JobKind.STOP})


class Listener(Protocol):
    """Whoever shows what jobs do (the Slack thread reporter, the console, tests)."""

    def job_event(self, job: Job, event: ev.Event) -> None: ...
    def notice(self, notice: Notice) -> None: ...


class Broadcast:
    """Progress events and notices, to every listener; one failing listener fails no job."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def emit(self, job: Job, event: ev.Event) -> None:
        log.info(
            "%s",
            _event_text(event),
            extra={"job": job.correlation_id, "pr": job.pr, "event": type(event).__name__},
        )
        for listener in list(self._listeners):
            try:
                listener.job_event(job, event)
            except Exception:
                log.exception("a progress listener failed", extra={"job": job.correlation_id})

    def notify(self, notice: Notice) -> None:
        log.info("%s", notice.text, extra={"pr": notice.pr, "event": "Notice"})
        for listener in list(self._listeners):
            try:
                listener.notice(notice)
            except Exception:
                log.exception("a listener failed on a notice", extra={"pr": notice.pr})


class Jobs:
    """Submits jobs for every entry point, queues and cancels them (one per process)."""

    def __init__(
        self,
        deps: Deps,
        runner: JobRunner,
        broadcast: Broadcast,
        mirror: DeploymentMirror,
        *,
        owner: str,
        stopping: threading.Event,
        threads: Threads | None = None,
    ) -> None:
        self._deps = deps
        self.runner = runner
        self._broadcast = broadcast
        self._owner = owner
        self._stopping = stopping
        self._threads = threads
        self._lock = threading.Lock()
        # Begun but not yet handed to the runner (its status message is being posted):
        # heart-beaten like running jobs, so nobody adopts them from under it.
        self._pending: set[str] = set()
        self.execution = Execution(
            deps,
            runner,
            broadcast.emit,
            owner=owner,
            stopping=stopping,
            open_thread=lambda job: self._report(job, Reporting(channel=job.channel)),
        )
        self.queue = PrQueue(deps, self)
        self.execution.after_each(self.queue.next_of)
        self._validators: dict[JobKind, Validator] = {}
        for kind, handler, validator in (
            (JobKind.START, lambda run: start.run_start(run, mirror), start.validate),
            (JobKind.STOP, lambda run: changes.run_stop(run, mirror), changes.validate),
            (JobKind.TTL, changes.run_ttl, changes.validate),
            (JobKind.FREEZE, changes.run_freeze, changes.validate),
            (JobKind.UNFREEZE, changes.run_freeze, changes.validate),
            (JobKind.CHECK, lambda run: start.run_check(run, mirror), start.validate_check),
        ):
            self.register(kind, handler, validator)

    @property
    def owner(self) -> str:
        return self._owner

    @property
    def store(self) -> JobStore:
        return self._deps.store

    def register(self, kind: JobKind, handler: Handler, validator: Validator) -> None:
        """What a kind of job does, for kinds whose work lives elsewhere (cleanup's)."""
        self.execution.handle(kind, handler)
        self._validators[kind] = validator

    def after_each(self, hook: Callable[[Job], None]) -> None:
        """``hook(job)`` once each job this process ran has ended (caches)."""
        self.execution.after_each(hook)

    # ----- the one way in ------------------------------------------------------------------

    def submit(self, request: JobRequest, *, queue: bool = True) -> Answer:
        """Record, validate, open the status message, run — or queue it behind the PR's
        running job, or say why not, changing nothing."""
        try:
            job = self.begin(request)
        except JobBusyError as exc:
            if queue and request.kind in QUEUEABLE and request.pr is not None:
                return self._queued(request, exc.job)
            return Busy(exc.job)
        except DuplicateRequestError as exc:
            return Duplicate(exc.job)
        except ShowtimeError as exc:
            return Refused(exc)
        try:
            job = self._report(job, request.reporting)
        except CannotPostError as exc:
            self.abandon(job.id, f"cannot post in the channel ({exc.code})")
            return CannotPost(exc.code)
        except BaseException as exc:
            # Slack timing out after its retries, the store: whatever it is, the job is given
            # up; if even that fails, it is no longer heart-beaten and is adopted (SPEC §12).
            try:
                self.abandon(
                    job.id, f"the request failed before the job ran ({type(exc).__name__})"
                )
            except Exception:
                log.exception("could not give up job %s; it will be adopted", job.correlation_id)
            raise
        self.run(job)
        return Started(job)

    def begin(self, request: JobRequest) -> Job:
        """Record and validate a job (reads only). Raises with a message, changing nothing.

        ``JobBusyError`` when the PR already has a live job, ``DuplicateRequestError`` for a
        repeated delivery of the same request, ``UserInputError``/``RefusedError`` when the
        request cannot be done. The job is not run: ``run`` does that (``submit`` does both).
        """
        if self._stopping.is_set():
            raise RefusedError("the bot is restarting", "try again in a minute")
        channel, thread = self._where(request)
        job = self._deps.store.create_job(
            kind=request.kind,
            requester=request.requester,
            lock_key=request.lock_key,
            pr=request.pr,
            sha=request.sha,
            channel=channel,
            thread_ts=thread,
            params=request.params,
            idempotency_key=request.idempotency_key,
            owner=self._owner,
        )
        with self._lock:
            self._pending.add(job.id)
        try:
            record = self._validators[job.kind](self._deps, job, request.known_pr)
            stored = self._deps.store.record_step(
                job.id, "validate", owner=self._owner, record=record
            )
            return self.execution.remember(stored)
        except BaseException as exc:
            with self._lock:
                self._pending.discard(job.id)
            self.execution.refused(job, exc)
            raise

    def _where(self, request: JobRequest) -> tuple[str | None, str | None]:
        reporting = request.reporting
        if reporting.pr_thread and request.pr is not None:
            found = self._deps.store.latest_thread(request.pr)
            if found:
                return found
        return reporting.channel, reporting.thread_ts

    def _report(self, job: Job, reporting: Reporting) -> Job:
        """Open the job's status message where the request said, before it changes anything."""
        if self._threads is None:
            return job
        if reporting.pressed and job.thread_ts:
            self._threads.show_progress(job)
            return job
        if job.channel and not job.thread_ts:
            try:
                ts = self._threads.open_thread(job)
            except CannotPostError:
                if reporting.must_post:
                    raise
                log.warning("no status message for job %s: Slack refused it", job.id)
                return job
            return self.execution.remember(self._deps.store.set_thread(job.id, job.channel, ts))
        return job

    def abandon(self, job_id: str, reason: str) -> None:
        """Give up a validated job before it changed anything (Slack could not post, ...).

        If even that fails (the store is down), the job is no longer heart-beaten: within a
        minute an adopter — this process too — finds it and runs it, so the PR is never left
        busy by a job nobody runs.
        """
        with self._lock:
            self._pending.discard(job_id)
        try:
            self._deps.store.finish(
                job_id, JobState.FAILED, f"not started: {reason}", owner=self._owner
            )
        except LostJobError:
            pass  # already finished (given up once before) or adopted: not ours to end
        finally:
            self.execution.forget(job_id)

    def run(self, job: Job, *, resumed: bool = False) -> None:
        self.execution.run(job, resumed=resumed)
        with self._lock:
            self._pending.discard(job.id)

    def run_here(self, job: Job) -> Job | None:
        """Execute a begun job in this thread (a job started by a job: cleanup's stops)."""
        with self._lock:
            self._pending.discard(job.id)
        self.execution.run_here(job)
        return self._deps.store.get(job.id)

    def wait(self, job_id: str, timeout: float | None = None) -> Job | None:
        self.runner.wait(job_id, timeout)
        return self._deps.store.get(job_id)

    def resume(self, job: Job) -> None:
        """An adopted job: run on from its last finished step."""
        if job.step is None:  # cut off before validation finished: nothing was changed
            self._deps.store.finish(
                job.id,
                JobState.FAILED,
                "not started: interrupted before validation",
                owner=self._owner,
            )
            return
        self.run(job, resumed=True)

    def _queued(self, request: JobRequest, running: Job) -> Answer:
        """``request`` waits for ``running`` (the PR's queue of one); a stop during a deploy
        also cancels the deploy."""
        answer = self.queue.enqueue(request, running)
        stops_a_deploy = request.kind is JobKind.STOP and running.kind is JobKind.START
        if isinstance(answer, Queued) and stops_a_deploy and running.pr is not None:
            self.cancel(running.pr, request.requester)
        return answer

    def queued_left(self) -> None:
        self.queue.left()

    # ----- cancel ------------------------------------------------------------------------

    def cancel(self, pr: int, by: Requester, *, queued_id: str | None = None) -> CancelAnswer:
        """Stop the PR's running deploy (and undo what it made), or — with ``queued_id``, or
        when no deploy runs — remove its queued one."""
        store = self._deps.store
        running = store.live_job(pr_lock(pr))
        if queued_id is None and running is not None and running.kind is JobKind.START:
            if not start.cancellable(running.step):
                return TooLate(running)
            store.request_cancel(running.id, by.stored)
            self.runner.cancel(running.id, by.stored)  # at once, when it runs here
            return Cancelling(running)
        queued = store.queued(pr)
        if queued is not None and queued_id in (None, queued.id):
            dropped = store.dequeue(queued.id)
            if dropped is not None:
                return DroppedQueued(dropped)
        return NothingToCancel(pr, running)

    def pass_on_cancels(self) -> None:
        """Cancels pressed on other replicas, for the jobs this process runs (a tick)."""
        ids = self.runner.inflight_ids()
        if not ids:
            return
        for job_id, by in self._deps.store.cancel_requests(ids).items():
            self.runner.cancel(job_id, by)

    # ----- the rest ------------------------------------------------------------------------

    @contextmanager
    def holding(self, pr: int, requester: Requester) -> Iterator[None]:
        """Hold the PR's job lock for a short change made outside a job (cleanup's).

        ``JobBusyError`` when a job runs for the PR: nothing is changed under it.
        """
        job = self._deps.store.create_job(
            kind=JobKind.CLEANUP,
            requester=requester,
            lock_key=pr_lock(pr),
            pr=pr,
            owner=self._owner,
            state=JobState.RUNNING,
        )
        outcome, state = "done", JobState.SUCCEEDED
        try:
            yield
        except BaseException as exc:
            outcome, state = f"failed: {public_text(str(exc))}", JobState.FAILED
            raise
        finally:
            self._deps.store.finish(job.id, state, outcome)

    def notify(self, notice: Notice) -> None:
        self._broadcast.notify(notice)

    def notify_pr(
        self,
        pr: int,
        sha: str,
        text: str,
        *,
        to: Requester | None = None,
        offer: str = "none",
    ) -> None:
        """Tell the PR's thread (else SHOWTIME_NOTIFY_CHANNEL) something no job says."""
        found = self._deps.store.latest_thread(pr)
        channel, thread = found if found else (self._deps.policy.notify_channel, None)
        self._broadcast.notify(
            Notice(pr, sha, text, channel, thread, offer=offer, to=to)  # type: ignore[arg-type]
        )

    def working_ids(self) -> list[str]:
        """Jobs this process works on: running or queued here, or begun and not yet run."""
        with self._lock:
            pending = set(self._pending)
        return sorted(pending | set(self.runner.inflight_ids()))

    def cached(self) -> int:
        return self.execution.cached()


def _event_text(event: ev.Event) -> str:
    for attr in ("text", "reason"):
        value = getattr(event, attr, None)
        if value:
            return str(value)
    return type(event).__name__
