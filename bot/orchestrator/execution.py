"""How a job runs in this process: on the pool, from its last finished step, to its end.

``Jobs.submit`` (``service``) decides that a job runs; ``Execution`` runs it. A job's
handler (the deploy's step table, a stop, ...) works through a ``JobRun`` whose ports are
the job's own; what it returns, raises or is told (a cancel) becomes one outcome —
succeeded, failed or cancelled — announced to the listeners before the job is recorded as
done. A process that lost the job, or is shutting down, says and records nothing: the job
stays live and resumes where it stopped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace

from bot.domain import events as ev
from bot.domain.events import format_elapsed
from bot.domain.requester import Requester
from bot.errors import NothingToDo, ShowtimeError, public_text
from bot.orchestrator import decisions as D
from bot.orchestrator.context import Deps, JobRun
from bot.orchestrator.jobs import Job, JobKind, JobState, LostJobError
from bot.orchestrator.runner import Cancelled, Interrupted, JobControl, JobLost, JobRunner

log = logging.getLogger(__name__)

Handler = Callable[[JobRun], ev.Succeeded]
Emit = Callable[[Job, ev.Event], None]


class Execution:
    """Runs begun jobs on this process's pool and ends them."""

    def __init__(
        self,
        deps: Deps,
        runner: JobRunner,
        emit: Emit,
        *,
        owner: str,
        stopping: threading.Event,
        open_thread: Callable[[Job], Job],
    ) -> None:
        self._deps = deps
        self.runner = runner
        self._emit = emit
        self._owner = owner
        self._stopping = stopping
        self._open_thread = open_thread
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}  # latest copy of each job this process works on
        self._handlers: dict[JobKind, Handler] = {}
        self._after: list[Callable[[Job], None]] = []

    def handle(self, kind: JobKind, handler: Handler) -> None:
        self._handlers[kind] = handler

    def after_each(self, hook: Callable[[Job], None]) -> None:
        self._after.append(hook)

    def run(self, job: Job, *, resumed: bool = False) -> None:
        """Execute a begun job on the pool; says so in its thread if it has to wait."""
        self.remember(job)
        ahead = self.runner.submit(job.id, lambda control: self._execute(job.id, control, resumed))
        if ahead:
            self._emit(
                job, ev.Queued(f"queued: {ahead} job(s) ahead; it starts when a worker frees up")
            )

    def run_here(self, job: Job) -> None:
        """Execute a begun job in this thread (a job started by a job: cleanup's stops)."""
        self.remember(job)
        self.runner.run_here(job.id, lambda control: self._execute(job.id, control, False))

    def refused(self, job: Job, exc: BaseException) -> None:
        """A begun job its validation refused: recorded as failed, with why — or, when it
        had nothing to do (SPEC §17), as done: nothing went wrong."""
        state = JobState.SUCCEEDED if isinstance(exc, NothingToDo) else JobState.FAILED
        if isinstance(exc, NothingToDo):
            reason = f"nothing to do: {exc}"
        elif isinstance(exc, ShowtimeError):
            reason = f"refused: {exc}"
        else:
            reason = "refused: internal error while validating"
        try:
            self._deps.store.finish(job.id, state, public_text(reason), owner=self._owner)
        except ShowtimeError:
            log.warning("could not record refused job %s; it is adopted later", job.id)

    def cached(self) -> int:
        with self._lock:
            return len(self._jobs)

    # ----- one job -------------------------------------------------------------------------

    def _execute(self, job_id: str, control: JobControl, resumed: bool) -> None:
        job: Job | None = None
        try:
            job = self._current(job_id)
            self._work(job_id, control, resumed)
        finally:
            self.forget(job_id)
        if job is not None and not self._stopping.is_set():
            for hook in self._after:
                try:
                    hook(job)
                except Exception:
                    log.exception("after job %s", job.correlation_id, extra={"pr": job.pr})

    def _work(self, job_id: str, control: JobControl, resumed: bool) -> None:
        try:
            job = self.remember(self._deps.store.mark_running(job_id, self._owner))
        except LostJobError as exc:
            log.warning("not running job %s: %s", job_id, exc)
            return
        if job.channel and not job.thread_ts:
            job = self._open_thread(job)  # a resumed job whose status message never got out
        run = JobRun(
            self._deps,
            job,
            control,
            owner=self._owner,
            resumed=resumed,
            emit=self._emit,
            remember=self.remember,
        )
        if resumed:
            run.say(ev.Resumed(step=job.step or "start"))
        elif job.params.reason and job.step == "validate":
            run.say(ev.Note(job.params.reason))  # asked by the sweeper or GitHub: say why
        started = self._deps.clock.monotonic()
        outcome = self._outcome(run, started)
        if outcome is not None:
            self._end(run, outcome)

    def _outcome(self, run: JobRun, started: float) -> ev.Outcome | None:
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
        except Cancelled as exc:  # the handler undid what it had made
            after = self._deps.clock.monotonic() - started
            return ev.Cancelled(exc.by, after, cancelled_text(run.job, exc.by, after))
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

    def _end(self, run: JobRun, outcome: ev.Outcome) -> None:
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
            self._emit(run.job, outcome)
            self._late_cancel(run, outcome)
            self._afterwards(run)
            state, text = _final(outcome)
            if job.kind.announced and job.step not in (None, "validate"):
                self._comment(run, _comment_text(job, outcome))
            ending = run.job
            if (
                isinstance(outcome, ev.Succeeded)
                and job.pr is not None
                and D.ends_environments(job)
            ):
                # The PR's earlier status messages that showed what this job stopped or
                # replaced: listeners update them, so none still says Running (SPEC §17).
                try:
                    earlier = self._deps.store.status_messages(job.pr, D.OUTDATED_LIMIT + 1)
                    ending = D.with_outdated(ending, earlier)
                except Exception:  # best effort: the job's own end goes on
                    log.warning("could not list the earlier status messages", exc_info=True)
            run.fence()
            self._emit(ending, ev.Ended(outcome))
            self._deps.store.finish(job.id, state, text, owner=self._owner)
        except JobLost:
            log.warning("job lost to another process before it ended", extra={"job": job.id})
        except Interrupted:
            log.info("job paused by shutdown while ending", extra={"job": job.id})

    def _late_cancel(self, run: JobRun, outcome: ev.Outcome) -> None:
        """A cancel that came once the environment was up (past the point of no return)."""
        by = run.control.cancelled_by
        if by is not None and not isinstance(outcome, ev.Cancelled):
            who = Requester.parse(by).label_name
            self._emit(
                run.job,
                ev.Warning(
                    f"the cancel by {who} came after the environment was up, so it stays; "
                    f"press Stop to remove it"
                ),
            )

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

    def remember(self, job: Job) -> Job:
        with self._lock:
            self._jobs[job.id] = job
        return job

    def forget(self, job_id: str) -> None:
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
            job = self.remember(stored)
        return job


def cancelled_text(job: Job, by: str, after: float) -> str:
    """ "#36121: cancelled by maintainer after 2m10s" (the thread mentions a Slack user)."""
    who = Requester.parse(by).label_name
    subject = f"#{job.pr}" if job.pr is not None else "the job"
    return f"{subject}: {job.kind} cancelled by {who} after {format_elapsed(after)}"


def _final(outcome: ev.Outcome) -> tuple[JobState, str]:
    if isinstance(outcome, ev.Succeeded):
        return JobState.SUCCEEDED, outcome.text
    if isinstance(outcome, ev.Cancelled):
        return JobState.CANCELLED, f"cancelled by {outcome.by}: {outcome.text}"
    return JobState.FAILED, outcome.reason


def _comment_text(job: Job, outcome: ev.Outcome) -> str:
    if isinstance(outcome, ev.Succeeded):
        return f"🎪 Showtime: {outcome.text}"
    if isinstance(outcome, ev.Cancelled):
        return f"🎪 Showtime: {outcome.text}"
    return f"🎪 Showtime: {job.kind} failed: {outcome.reason}"
