"""The orchestrator: one service layer for every entry point (SPEC §1, §6, §9).

Slash commands, buttons, the TTL sweeper and the CLI all come through here: ``begin``
records a job (the database enforces one live job per PR, and an idempotency key per
request) and validates it with reads only; ``run`` executes it on the orchestrator's own
pool, from its last finished step. What a job does lives next door — ``start`` (the
deploy's step table), ``changes`` (stop, TTL, freeze), ``sweeper`` (cleanup and expiry),
``queries`` (status, list), ``lifecycle`` (heartbeats, orphans, shutdown) — and progress
goes out as typed events to every ``Listener`` (Slack thread, console, tests).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from typing import Protocol

from bot.clock import SYSTEM_CLOCK, Clock
from bot.config import Settings
from bot.domain import events as ev
from bot.errors import RefusedError, ShowtimeError, public_text
from bot.orchestrator import changes, start
from bot.orchestrator.context import Background, Deps, JobRun
from bot.orchestrator.fencing import FencedEcs, FencedGitHub
from bot.orchestrator.github_events import GitHubEvents
from bot.orchestrator.inventory import EnvView
from bot.orchestrator.jobs import (
    CleanupParams,
    CleanupRecord,
    Job,
    JobKind,
    JobRecord,
    JobState,
    JobStore,
    LostJobError,
)
from bot.orchestrator.lifecycle import Lifecycle
from bot.orchestrator.metering import MeteredEcs
from bot.orchestrator.mirror import DeploymentMirror
from bot.orchestrator.models import (
    CleanupReport,
    JobRequest,
    Notice,
    Overview,
    PrLogs,
    PrStatus,
)
from bot.orchestrator.ports import (
    DeploymentsPort,
    EcsPort,
    GitHubPort,
    HealthProbe,
    LogsPort,
    PullRequest,
)
from bot.orchestrator.queries import Queries
from bot.orchestrator.runner import Interrupted, JobLost, JobRunner, current_job_id
from bot.orchestrator.sweeper import Sweeper

log = logging.getLogger(__name__)


class Listener(Protocol):
    """Whoever shows what jobs do (the Slack thread reporter, the console, tests)."""

    def job_event(self, job: Job, event: ev.Event) -> None: ...
    def notice(self, notice: Notice) -> None: ...


class ThreadOpener(Protocol):
    """Opens a job's thread when it has a channel but no status message yet (the sweeper's
    stops): a top-level message whose ts becomes the job's thread."""

    def open_thread(self, job: Job) -> str | None: ...


Handler = Callable[[JobRun], ev.Succeeded]
Validator = Callable[[Deps, Job, PullRequest | None], JobRecord]


class Orchestrator:
    def __init__(
        self,
        settings: Settings,
        *,
        github: GitHubPort,
        ecs: EcsPort,
        health: HealthProbe,
        logs: LogsPort,
        store: JobStore,
        deployments: DeploymentsPort | None = None,
        clock: Clock = SYSTEM_CLOCK,
        stopping: threading.Event | None = None,
        owner: str | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.stopping = stopping or threading.Event()
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.runner = JobRunner(settings.showtime_job_workers, self.stopping)
        self._store = store
        self.deps = Deps(
            settings=settings,
            github=FencedGitHub(github, self._fence_current),
            # Every create and delete also writes the record of when environments ran.
            ecs=MeteredEcs(
                FencedEcs(ecs, self._fence_current),
                store,
                clock,
                public_ip=settings.ecs_assign_public_ip == "ENABLED",
            ),
            health=health,
            logs=logs,
            store=store,
            clock=clock,
            background=Background(),
            deployments=deployments,
        )
        self.mirror = DeploymentMirror(deployments, settings, self.deps.background, store)
        self.queries = Queries(self.deps)
        self.sweeper = Sweeper(self.deps, self)
        self.github_events = GitHubEvents(self.deps, self)
        self.lifecycle = Lifecycle(
            settings=settings,
            store=store,
            runner=self.runner,
            owner=self.owner,
            stopping=self.stopping,
            working_ids=self._working_ids,
            resume=self._resume,
            sweep=self.sweep,
            follow_ups=self.follow_ups_left,
        )
        self._listeners: list[Listener] = []
        self._threads: ThreadOpener | None = None
        self._jobs: dict[str, Job] = {}  # latest copy of each job this process works on
        # Begun but not yet handed to the runner (the intake is posting the status
        # message): heart-beaten like running jobs, so nobody adopts them from under it.
        self._pending: set[str] = set()
        self._jobs_lock = threading.Lock()
        self._validators: dict[JobKind, Validator] = {
            JobKind.START: start.validate,
            JobKind.STOP: changes.validate,
            JobKind.TTL: changes.validate,
            JobKind.FREEZE: changes.validate,
            JobKind.UNFREEZE: changes.validate,
            JobKind.CLEANUP: lambda deps, job, known: CleanupRecord(),
        }
        self._handlers: dict[JobKind, Handler] = {
            JobKind.START: lambda run: start.run_start(run, self.mirror),
            JobKind.STOP: lambda run: changes.run_stop(run, self.mirror),
            JobKind.TTL: changes.run_ttl,
            JobKind.FREEZE: changes.run_freeze,
            JobKind.UNFREEZE: changes.run_freeze,
            JobKind.CLEANUP: self._run_cleanup,
        }

    # ----- who listens ----------------------------------------------------------------

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def open_threads_with(self, opener: ThreadOpener) -> None:
        self._threads = opener

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

    # ----- jobs: intake -----------------------------------------------------------------

    def begin(self, request: JobRequest) -> Job:
        """Record and validate a job (reads only). Raises with a message, changing nothing.

        ``JobBusyError`` when the PR already has a live job, ``DuplicateRequestError`` for
        a repeated delivery of the same request, ``UserInputError``/``RefusedError`` when
        the request cannot be done.
        """
        if self.stopping.is_set():
            raise RefusedError("the bot is restarting", "try again in a minute")
        job = self._store.create_job(
            kind=request.kind,
            requester=request.requester,
            requester_name=request.requester_name,
            lock_key=request.lock_key,
            pr=request.pr,
            sha=request.sha,
            channel=request.channel,
            thread_ts=request.thread_ts,
            params=request.params,
            idempotency_key=request.idempotency_key,
            owner=self.owner,
        )
        with self._jobs_lock:
            self._pending.add(job.id)
        try:
            record = self._validators[job.kind](self.deps, job, request.known_pr)
            return self._remember(
                self._store.record_step(job.id, "validate", owner=self.owner, record=record)
            )
        except BaseException as exc:
            with self._jobs_lock:
                self._pending.discard(job.id)
            reason = (
                f"refused: {exc}"
                if isinstance(exc, ShowtimeError)
                else "refused: internal error while validating"
            )
            try:
                self._store.finish(job.id, JobState.FAILED, public_text(reason), owner=self.owner)
            except ShowtimeError:
                log.warning("could not record refused job %s; it is adopted later", job.id)
            raise

    def abandon(self, job_id: str, reason: str) -> None:
        """Give up a validated job before it changed anything (e.g. Slack could not post).

        If even that fails (the store is down), the job is no longer heart-beaten: within a
        minute an adopter — this process too — finds it and runs it, so the PR is never left
        busy by a job nobody runs.
        """
        with self._jobs_lock:
            self._pending.discard(job_id)
        try:
            self._store.finish(job_id, JobState.FAILED, f"not started: {reason}", owner=self.owner)
        except LostJobError:
            pass  # already finished (given up once before) or adopted: not ours to end
        finally:
            self._forget(job_id)

    def attach_thread(self, job_id: str, channel: str, thread_ts: str) -> Job:
        return self._remember(self._store.set_thread(job_id, channel, thread_ts))

    def run(self, job_id: str, *, resumed: bool = False) -> None:
        """Execute a begun job on the pool; says so in its thread if it has to queue."""
        job = self._current(job_id)
        ahead = self.runner.submit(job_id, lambda: self._execute(job_id, resumed))
        with self._jobs_lock:
            self._pending.discard(job_id)
        if ahead:
            self.emit(
                job, ev.Queued(f"queued: {ahead} job(s) ahead; it starts when a worker frees up")
            )

    def run_here(self, job_id: str) -> Job | None:
        """Execute a begun job in this thread (a job started by a job: cleanup's stops)."""
        with self._jobs_lock:
            self._pending.discard(job_id)
        self.runner.run_here(job_id, lambda: self._execute(job_id, resumed=False))
        return self._store.get(job_id)

    def wait(self, job_id: str, timeout: float | None = None) -> Job | None:
        self.runner.wait(job_id, timeout)
        return self._store.get(job_id)

    @contextmanager
    def holding(self, pr: int, requester: str) -> Iterator[None]:
        """Hold the PR's job lock for a short change made outside a job (cleanup's).

        ``JobBusyError`` when a job runs for the PR: nothing is changed under it.
        """
        job = self._store.create_job(
            kind=JobKind.CLEANUP,
            requester=requester,
            lock_key=f"pr:{pr}",
            pr=pr,
            owner=self.owner,
            state=JobState.RUNNING,
        )
        outcome, state = "done", JobState.SUCCEEDED
        try:
            yield
        except BaseException as exc:
            outcome, state = f"failed: {public_text(str(exc))}", JobState.FAILED
            raise
        finally:
            self._store.finish(job.id, state, outcome)

    # ----- what people ask to see --------------------------------------------------------

    def status(self, pr: int) -> PrStatus:
        return self.queries.status(pr)

    def list_environments(self) -> list[EnvView]:
        return self.queries.list_environments()

    def overview(self) -> Overview:
        """Every environment, priced, with this month's spend (shared for a few seconds)."""
        return self.queries.overview()

    def thread_of(self, pr: int) -> tuple[str, str] | None:
        return self.queries.thread_of(pr)

    def logs(self, pr: int, lines: int, sha: str | None = None) -> PrLogs:
        return self.queries.logs(pr, lines, sha)

    def cleanup(self, *, dry_run: bool, requester: str = "cleanup") -> CleanupReport:
        return self.sweeper.cleanup(dry_run=dry_run, requester=requester)

    def sweep(self) -> None:
        self.sweeper.sweep()

    def now(self) -> datetime:
        return self.clock.now()

    def jobs_in_flight(self) -> int:
        return len(self.runner.inflight_ids())

    # ----- life of the process -----------------------------------------------------------

    def resume_orphans(self, stale_after_seconds: float | None = None) -> list[Job]:
        return self.lifecycle.resume_orphans(stale_after_seconds)

    def start_background(self) -> None:
        self.lifecycle.start_background()

    def shutdown(self, timeout: float = 20.0) -> bool:
        finished = self.lifecycle.shutdown(timeout)
        self.deps.background.shutdown(1.0)
        return finished

    def cached_jobs(self) -> int:
        with self._jobs_lock:
            return len(self._jobs)

    # ----- jobs: execution ---------------------------------------------------------------

    def _execute(self, job_id: str, resumed: bool) -> None:
        pr = None
        try:
            pr = self._current(job_id).pr
            self._work(job_id, resumed)
        finally:
            self._forget(job_id)
            self.queries.forget()
        if pr is not None and not self.stopping.is_set():
            self.follow_up(pr)

    def follow_up(self, pr: int) -> None:
        """A push or a close that came while the PR's job ran: its job now (SPEC §11)."""
        try:
            followup = self._store.followup(pr)
            if followup is not None:
                # Forgotten only once its job began (or it was dropped): a crash between the
                # two leaves it for the adopt tick, never loses the push.
                done = self.github_events.follow_up(followup)
                log.info("follow-up for #%s: %s", pr, done, extra={"pr": pr})
        except Exception:
            log.exception("follow-up for #%s failed", pr, extra={"pr": pr})

    def follow_ups_left(self) -> None:
        """Follow-ups whose PR has no live job (their process stopped between the two)."""
        for pr in self._store.followup_prs():
            if self._store.live_job(f"pr:{pr}") is None:
                self.follow_up(pr)

    def _work(self, job_id: str, resumed: bool) -> None:
        try:
            job = self._remember(self._store.mark_running(job_id, self.owner))
        except LostJobError as exc:
            log.warning("not running job %s: %s", job_id, exc)
            return
        job = self._open_thread(job)
        run = JobRun(
            self.deps,
            job,
            owner=self.owner,
            resumed=resumed,
            emit=self.emit,
            remember=self._remember,
        )
        if resumed:
            run.say(ev.Resumed(step=job.step or "start"))
        elif job.params.reason and job.step == "validate":
            run.say(ev.Note(job.params.reason))  # asked by the sweeper or GitHub: say why
        try:
            result = self._handlers[job.kind](run)
        except JobLost:
            log.warning(
                "job lost to another process (this one paused too long); stopping, undoing nothing",
                extra={"job": job.correlation_id},
            )
            return
        except Interrupted:
            log.info(
                "job paused by shutdown; it resumes on the next start",
                extra={"job": job.correlation_id},
            )
            return
        except ShowtimeError as exc:
            self._end(
                run, ev.Failed(exc.message, exc.next_action, job.correlation_id, run.failure_log)
            )
            return
        except Exception:
            log.exception("job failed with an internal error", extra={"job": job.correlation_id})
            ref = job.correlation_id
            self._end(
                run,
                ev.Failed(
                    f"internal error (ref {ref})",
                    f"try again; if it repeats, report ref {ref} to the bot's admins",
                    ref,
                    run.failure_log,
                ),
            )
            return
        self._end(run, result)

    def _end(self, run: JobRun, outcome: ev.Succeeded | ev.Failed) -> None:
        """Announce the outcome, do the writes nobody waited for, record the end.

        Listeners (the status message update) finish before the job is recorded as done,
        so "finished" in the store means everything a person sees is final. A process that
        lost the job says and records nothing.
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
            self.emit(run.job, outcome)
            for what, work in run.afterwards:
                try:
                    work()
                except (JobLost, Interrupted):
                    raise
                except Exception:
                    log.warning("could not %s", what, exc_info=True, extra={"job": job.id})
            if isinstance(outcome, ev.Succeeded):
                state, text = JobState.SUCCEEDED, outcome.text
                comment = f"🎪 Showtime: {text}"
            else:
                state, text = JobState.FAILED, outcome.reason
                comment = f"🎪 Showtime: {job.kind} failed: {text}"
            if job.kind.announced and job.step not in (None, "validate"):
                self._comment(job, comment)
            run.fence()
            self.emit(run.job, ev.Ended(outcome))
            self._store.finish(job.id, state, text, owner=self.owner)
        except JobLost:
            log.warning("job lost to another process before it ended", extra={"job": job.id})
        except Interrupted:
            log.info("job paused by shutdown while ending", extra={"job": job.id})

    def _comment(self, job: Job, text: str) -> None:
        """The optional PR comment (SHOWTIME_PR_COMMENTS); never fails the job."""
        if job.pr is None or not self.settings.showtime_pr_comments:
            return
        try:
            self.deps.github.comment(job.pr, text)
        except ShowtimeError as exc:
            log.warning("could not comment on #%s: %s", job.pr, exc, extra={"job": job.id})

    def _open_thread(self, job: Job) -> Job:
        """A job with a channel but no status message yet gets one (its thread)."""
        if not job.channel or job.thread_ts or self._threads is None:
            return job
        ts = self._threads.open_thread(job)
        return self.attach_thread(job.id, job.channel, ts) if ts else job

    def _run_cleanup(self, run: JobRun) -> ev.Succeeded:
        params = run.job.params
        assert isinstance(params, CleanupParams)
        report = self.sweeper.cleanup(dry_run=params.dry_run, requester=run.job.requester)
        return ev.Succeeded(text=report.text)

    def _resume(self, job: Job) -> None:
        """An adopted job: run on from its last finished step."""
        self._remember(job)
        if job.step is None:  # cut off before validation finished: nothing was changed
            self._store.finish(
                job.id,
                JobState.FAILED,
                "not started: interrupted before validation",
                owner=self.owner,
            )
            self._forget(job.id)
            return
        self.run(job.id, resumed=True)

    # ----- fencing and the job cache -----------------------------------------------------

    def _fence_current(self) -> None:
        """Before a remote write from a job thread: is that job still ours?"""
        job_id = current_job_id()
        if job_id is None:
            return
        try:
            self._store.check_owner(job_id, self.owner)
        except LostJobError as exc:
            self.runner.mark_lost(job_id)
            raise JobLost(str(exc)) from exc

    def _working_ids(self) -> list[str]:
        """Jobs this process works on: running or queued here, or begun and not yet run."""
        with self._jobs_lock:
            pending = set(self._pending)
        return sorted(pending | set(self.runner.inflight_ids()))

    def _remember(self, job: Job) -> Job:
        with self._jobs_lock:
            self._jobs[job.id] = job
        return job

    def _forget(self, job_id: str) -> None:
        """A finished job leaves the cache (each entry holds the PR's body)."""
        with self._jobs_lock:
            self._jobs.pop(job_id, None)

    def _current(self, job_id: str) -> Job:
        with self._jobs_lock:
            job = self._jobs.get(job_id)
        if job is None:
            stored = self._store.get(job_id)
            if stored is None:
                raise KeyError(job_id)
            job = self._remember(stored)
        return job


def _event_text(event: ev.Event) -> str:
    for attr in ("text", "reason"):
        value = getattr(event, attr, None)
        if value:
            return str(value)
    return type(event).__name__
