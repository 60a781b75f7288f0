"""Jobs: the one way work starts, and how it runs (SPEC §1, §6, §9).

Every entry point — a slash command, a button, the Home tab, a GitHub delivery, the
sweeper — hands ``Jobs.submit`` one ``JobRequest`` (who asks, what, where to report) and
shows the ``Answer`` it gets back. Inside, always the same way: the job is recorded (the
database enforces one live job per PR, and an idempotency key per request), validated
with reads only, its status message is opened where the request says, and it runs on this
process's pool from its last finished step; if anything fails before it runs, it is given
up so the PR is never left busy. What a job does lives next door — ``start`` (the deploy's
step table), ``changes`` (stop, TTL, freeze), ``sweeper`` (cleanup) — and progress goes out
as typed events to every listener (``Broadcast``: the Slack thread, the console, tests).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Protocol

from bot.domain import events as ev
from bot.domain.requester import Requester
from bot.errors import RefusedError, ShowtimeError, public_text
from bot.orchestrator import changes, start
from bot.orchestrator.context import Deps, JobRun
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
    CannotPost,
    Duplicate,
    JobRequest,
    Notice,
    Refused,
    Reporting,
    Started,
)
from bot.orchestrator.ports import CannotPostError, PullRequest, Threads
from bot.orchestrator.runner import Interrupted, JobControl, JobLost, JobRunner

log = logging.getLogger(__name__)

Handler = Callable[[JobRun], ev.Succeeded]
Validator = Callable[[Deps, Job, PullRequest | None], JobRecord]


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
    """Submits, runs and ends jobs for every entry point (one instance per process)."""

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
        self._jobs: dict[str, Job] = {}  # latest copy of each job this process works on
        # Begun but not yet handed to the runner (its status message is being posted):
        # heart-beaten like running jobs, so nobody adopts them from under it.
        self._pending: set[str] = set()
        self._after: list[Callable[[Job], None]] = []
        self._validators: dict[JobKind, Validator] = {
            JobKind.START: start.validate,
            JobKind.STOP: changes.validate,
            JobKind.TTL: changes.validate,
            JobKind.FREEZE: changes.validate,
            JobKind.UNFREEZE: changes.validate,
        }
        self._handlers: dict[JobKind, Handler] = {
            JobKind.START: lambda run: start.run_start(run, mirror),
            JobKind.STOP: lambda run: changes.run_stop(run, mirror),
            JobKind.TTL: changes.run_ttl,
            JobKind.FREEZE: changes.run_freeze,
            JobKind.UNFREEZE: changes.run_freeze,
        }

    @property
    def owner(self) -> str:
        return self._owner

    @property
    def store(self) -> JobStore:
        return self._deps.store

    def register(self, kind: JobKind, handler: Handler, validator: Validator) -> None:
        """What a kind of job does, for kinds whose work lives elsewhere (cleanup's)."""
        self._handlers[kind] = handler
        self._validators[kind] = validator

    def after_each(self, hook: Callable[[Job], None]) -> None:
        """``hook(job)`` once each job this process ran has ended (caches, follow-ups)."""
        self._after.append(hook)

    # ----- the one way in ------------------------------------------------------------------

    def submit(self, request: JobRequest) -> Answer:
        """Record, validate, open the status message, run — or say why not, changing nothing."""
        try:
            job = self.begin(request)
        except JobBusyError as exc:
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
        self.run(job.id)
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
            return self._remember(stored)
        except BaseException as exc:
            with self._lock:
                self._pending.discard(job.id)
            reason = (
                f"refused: {exc}"
                if isinstance(exc, ShowtimeError)
                else "refused: internal error while validating"
            )
            try:
                self._deps.store.finish(
                    job.id, JobState.FAILED, public_text(reason), owner=self._owner
                )
            except ShowtimeError:
                log.warning("could not record refused job %s; it is adopted later", job.id)
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
            return self._attach(job, job.channel, ts)
        return job

    def _attach(self, job: Job, channel: str, ts: str) -> Job:
        return self._remember(self._deps.store.set_thread(job.id, channel, ts))

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
            self._forget(job_id)

    def run(self, job_id: str, *, resumed: bool = False) -> None:
        """Execute a begun job on the pool; says so in its thread if it has to queue."""
        job = self._current(job_id)
        ahead = self.runner.submit(job_id, lambda control: self._execute(job_id, control, resumed))
        with self._lock:
            self._pending.discard(job_id)
        if ahead:
            self._broadcast.emit(
                job, ev.Queued(f"queued: {ahead} job(s) ahead; it starts when a worker frees up")
            )

    def run_here(self, job_id: str) -> Job | None:
        """Execute a begun job in this thread (a job started by a job: cleanup's stops)."""
        with self._lock:
            self._pending.discard(job_id)
        self.runner.run_here(job_id, lambda control: self._execute(job_id, control, False))
        return self._deps.store.get(job_id)

    def wait(self, job_id: str, timeout: float | None = None) -> Job | None:
        self.runner.wait(job_id, timeout)
        return self._deps.store.get(job_id)

    def resume(self, job: Job) -> None:
        """An adopted job: run on from its last finished step."""
        self._remember(job)
        if job.step is None:  # cut off before validation finished: nothing was changed
            self._deps.store.finish(
                job.id,
                JobState.FAILED,
                "not started: interrupted before validation",
                owner=self._owner,
            )
            self._forget(job.id)
            return
        self.run(job.id, resumed=True)

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

    def working_ids(self) -> list[str]:
        """Jobs this process works on: running or queued here, or begun and not yet run."""
        with self._lock:
            pending = set(self._pending)
        return sorted(pending | set(self.runner.inflight_ids()))

    def cached(self) -> int:
        with self._lock:
            return len(self._jobs)

    # ----- execution -------------------------------------------------------------------------

    def _execute(self, job_id: str, control: JobControl, resumed: bool) -> None:
        job: Job | None = None
        try:
            job = self._current(job_id)
            self._work(job_id, control, resumed)
        finally:
            self._forget(job_id)
        if job is not None and not self._stopping.is_set():
            for hook in self._after:
                try:
                    hook(job)
                except Exception:
                    log.exception("after job %s", job.correlation_id, extra={"pr": job.pr})

    def _work(self, job_id: str, control: JobControl, resumed: bool) -> None:
        try:
            job = self._remember(self._deps.store.mark_running(job_id, self._owner))
        except LostJobError as exc:
            log.warning("not running job %s: %s", job_id, exc)
            return
        if job.channel and not job.thread_ts:
            job = self._report(job, Reporting(channel=job.channel))  # a resumed job's
        run = JobRun(
            self._deps,
            job,
            control,
            owner=self._owner,
            resumed=resumed,
            emit=self._broadcast.emit,
            remember=self._remember,
        )
        if resumed:
            run.say(ev.Resumed(step=job.step or "start"))
        elif job.params.reason and job.step == "validate":
            run.say(ev.Note(job.params.reason))  # asked by the sweeper or GitHub: say why
        outcome = self._outcome(run)
        if outcome is not None:
            self._end(run, outcome)

    def _outcome(self, run: JobRun) -> ev.Succeeded | ev.Failed | None:
        """Run the job's handler; its outcome, or None when this process must say nothing."""
        job = run.job
        try:
            return self._handlers[job.kind](run)
        except JobLost:
            log.warning(
                "job lost to another process (this one paused too long); stopping, undoing nothing",
                extra={"job": job.correlation_id},
            )
        except Interrupted:
            log.info(
                "job paused by shutdown; it resumes on the next start",
                extra={"job": job.correlation_id},
            )
        except ShowtimeError as exc:
            return ev.Failed(exc.message, exc.next_action, job.correlation_id, run.failure_log)
        except Exception:
            log.exception("job failed with an internal error", extra={"job": job.correlation_id})
            ref = job.correlation_id
            return ev.Failed(
                f"internal error (ref {ref})",
                f"try again; if it repeats, report ref {ref} to the bot's admins",
                ref,
                run.failure_log,
            )
        return None

    def _end(self, run: JobRun, outcome: ev.Succeeded | ev.Failed) -> None:
        """Announce the outcome, do the writes nobody waited for, record the end.

        Listeners (the status message update) finish before the job is recorded as done, so
        "finished" in the store means everything a person sees is final. A process that lost
        the job says and records nothing.
        """
        job = run.job
        if isinstance(outcome, ev.Failed):
            outcome = replace(
                outcome,
                reason=public_text(outcome.reason),
                next_action=public_text(outcome.next_action),
            )
        try:
            run.fence()
            self._broadcast.emit(run.job, outcome)
            self._afterwards(run)
            state, text = (
                (JobState.SUCCEEDED, outcome.text)
                if isinstance(outcome, ev.Succeeded)
                else (JobState.FAILED, outcome.reason)
            )
            if job.kind.announced and job.step not in (None, "validate"):
                self._comment(run, _comment_text(job, outcome))
            run.fence()
            self._broadcast.emit(run.job, ev.Ended(outcome))
            self._deps.store.finish(job.id, state, text, owner=self._owner)
        except JobLost:
            log.warning("job lost to another process before it ended", extra={"job": job.id})
        except Interrupted:
            log.info("job paused by shutdown while ending", extra={"job": job.id})

    def _afterwards(self, run: JobRun) -> None:
        for what, work in run.afterwards:
            try:
                work()
            except (JobLost, Interrupted):
                raise
            except Exception:
                log.warning("could not %s", what, exc_info=True, extra={"job": run.job.id})

    def _comment(self, run: JobRun, text: str) -> None:
        """The optional PR comment (SHOWTIME_PR_COMMENTS); never fails the job."""
        if run.job.pr is None or not self._deps.policy.pr_comments:
            return
        try:
            run.deps.github.comment(run.job.pr, text)
        except ShowtimeError as exc:
            log.warning("could not comment on #%s: %s", run.job.pr, exc, extra={"job": run.job.id})

    # ----- the job cache -------------------------------------------------------------------

    def _remember(self, job: Job) -> Job:
        with self._lock:
            self._jobs[job.id] = job
        return job

    def _forget(self, job_id: str) -> None:
        """A finished job leaves the cache (each entry holds the PR's body)."""
        with self._lock:
            self._jobs.pop(job_id, None)

    def _current(self, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            stored = self._deps.store.get(job_id)
            if stored is None:
                raise KeyError(job_id)
            job = self._remember(stored)
        return job


def _comment_text(job: Job, outcome: ev.Succeeded | ev.Failed) -> str:
    if isinstance(outcome, ev.Succeeded):
        return f"🎪 Showtime: {outcome.text}"
    return f"🎪 Showtime: {job.kind} failed: {outcome.reason}"


def _event_text(event: ev.Event) -> str:
    for attr in ("text", "reason"):
        value = getattr(event, attr, None)
        if value:
            return str(value)
    return type(event).__name__
