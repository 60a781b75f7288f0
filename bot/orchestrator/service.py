"""The orchestrator: one service layer for every entry point (SPEC §1, §6, §9).

Slash commands, buttons, the TTL sweeper and the CLI all come through here.
``begin`` records a job (the database enforces one live job per PR, and an
idempotency key per request) and validates it with reads only; ``run`` executes
it on the orchestrator's own pool. Steps record themselves in the job store as
they finish, so a job cut off by a restart resumes from its last finished step.
Progress goes out as typed events to every listener (Slack thread, log, console).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

from bot.adapters.store import (
    BusyError,
    DuplicateJobError,
    Job,
    JobState,
    JobStore,
    LostJobError,
)
from bot.clock import SYSTEM_CLOCK, Clock
from bot.config import Settings
from bot.domain import events as ev
from bot.domain import labels as L
from bot.domain.labels import parse_labels
from bot.domain.naming import service_name
from bot.domain.ttl import expires_at, next_ttl
from bot.errors import (
    AlreadyRunningError,
    RefusedError,
    ShowtimeError,
    UserInputError,
    public_text,
)
from bot.orchestrator import decisions as D
from bot.orchestrator import inventory as inv
from bot.orchestrator.cleanup import plan_cleanup, run_cleanup, sweep
from bot.orchestrator.models import (
    KIND_CLEANUP,
    KIND_FREEZE,
    KIND_START,
    KIND_STOP,
    KIND_TTL,
    KIND_UNFREEZE,
    CleanupAction,
    CleanupReport,
    JobRequest,
    PrStatus,
)
from bot.orchestrator.ports import EcsPort, GitHubPort, HealthProbe, LogsPort
from bot.orchestrator.runner import (
    HEARTBEAT_SECONDS,
    ORPHAN_AFTER_SECONDS,
    Interrupted,
    JobLost,
    JobRunner,
    Ticker,
    current_job_id,
)

log = logging.getLogger(__name__)

# Steps of a start, in order. A job's ``step`` is the last one it finished.
START_STEPS = (
    "validate",
    "claim",
    "task_definition",
    "clear_name",
    "create_service",
    "redeploy",
    "wait_stable",
    "health",
    "labels_running",
    "retire_previous",
)


class DuplicateRequestError(ShowtimeError):
    """The very same request (same idempotency key) was already taken; ``job`` is its job."""

    def __init__(self, job: Job) -> None:
        super().__init__("this request was already received", "")
        self.job = job


class JobBusyError(AlreadyRunningError):
    """Another job runs for the PR; ``job`` is that job (who, since when, which thread)."""

    def __init__(self, job: Job) -> None:
        started = job.created_at.strftime("%H:%M UTC")
        who = f"<@{job.requester}>" if job.requester.startswith(("U", "W")) else job.requester
        subject = f"#{job.pr}" if job.pr is not None else "cleanup"
        super().__init__(
            f"{subject} is busy: `{job.kind}` started by {who} at {started} is still running",
            "follow it in its thread; try again when it has finished",
        )
        self.job = job


@dataclass(frozen=True)
class Notice:
    """Where an event that belongs to no job goes (expiry warnings)."""

    id: str
    kind: str
    pr: int | None
    sha: str | None
    channel: str | None
    thread_ts: str | None
    requester: str = "sweeper"
    correlation_id: str = ""


class EventContext(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def pr(self) -> int | None: ...
    @property
    def channel(self) -> str | None: ...
    @property
    def thread_ts(self) -> str | None: ...
    @property
    def requester(self) -> str: ...
    @property
    def correlation_id(self) -> str: ...


Listener = Callable[[EventContext, ev.Event], None]


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
        clock: Clock = SYSTEM_CLOCK,
        stopping: threading.Event | None = None,
        owner: str | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        # Every remote write a job makes first checks, in the store, that the job is still
        # this process's (fencing): a replica that paused and lost the job stops there.
        self.github = cast(GitHubPort, _Fenced(github, _GITHUB_WRITES, self._fence_current))
        self.ecs = cast(EcsPort, _Fenced(ecs, _ECS_WRITES, self._fence_current))
        self.health = health
        self.logs = logs
        self.clock = clock
        self.stopping = stopping or threading.Event()
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.runner = JobRunner(settings.showtime_job_workers, self.stopping)
        self._listeners: list[Listener] = []
        self._tickers: list[Ticker] = []
        self._jobs: dict[str, Job] = {}  # latest copy of each job this process runs
        self._resumed: set[str] = set()  # jobs adopted from a previous process
        # Begun but not yet handed to the runner (the intake is posting the status message):
        # heart-beaten like running jobs, so nobody adopts them from under the intake.
        self._pending: set[str] = set()
        self._jobs_lock = threading.Lock()

    # ----- listeners ----------------------------------------------------------

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def emit(self, context: EventContext, event: ev.Event) -> None:
        log.info(
            "%s",
            _event_text(event),
            extra={"job": context.correlation_id, "pr": context.pr, "event": type(event).__name__},
        )
        for listener in list(self._listeners):
            try:
                listener(context, event)
            except Exception:
                log.exception("a progress listener failed", extra={"job": context.correlation_id})

    # ----- jobs: intake -------------------------------------------------------

    def begin(self, request: JobRequest) -> Job:
        """Record and validate a job (reads only). Raises with a message, changing nothing.

        ``JobBusyError`` when the PR already has a live job, ``DuplicateRequestError``
        for a repeated delivery of the same request, ``UserInputError`` /
        ``RefusedError`` when the request cannot be done.
        """
        if self.stopping.is_set():
            raise RefusedError("the bot is restarting", "try again in a minute")
        params: dict[str, Any] = {"ttl": request.ttl, "dry_run": request.dry_run, **request.extra}
        try:
            job = self.store.create_job(
                kind=request.kind,
                requester=request.requester,
                requester_name=request.requester_name,
                lock_key=request.lock_key,
                pr=request.pr,
                sha=request.sha,
                channel=request.channel,
                thread_ts=request.thread_ts,
                params=params,
                idempotency_key=request.idempotency_key,
                owner=self.owner,
            )
        except DuplicateJobError as exc:
            raise DuplicateRequestError(exc.existing) from None
        except BusyError as exc:
            raise JobBusyError(exc.existing) from None
        with self._jobs_lock:
            self._pending.add(job.id)
        try:
            data = self._validate(job)
            return self._remember(
                self.store.record_step(job.id, "validate", owner=self.owner, **data)
            )
        except BaseException as exc:
            with self._jobs_lock:
                self._pending.discard(job.id)
            reason = (
                f"refused: {exc}"
                if isinstance(exc, ShowtimeError)
                else "refused: internal error while validating"
            )
            with contextlib.suppress(ShowtimeError):  # a lost or unreachable store: adopted later
                self.store.finish(job.id, JobState.FAILED, public_text(reason), owner=self.owner)
            raise

    @contextmanager
    def holding(self, pr: int, requester: str) -> Iterator[None]:
        """Hold the PR's job lock for a short change made outside a job (cleanup's).

        ``JobBusyError`` when a job runs for the PR: nothing is changed under it.
        """
        try:
            job = self.store.create_job(
                kind=KIND_CLEANUP,
                requester=requester,
                lock_key=f"pr:{pr}",
                pr=pr,
                owner=self.owner,
                state=JobState.RUNNING,
            )
        except BusyError as exc:
            raise JobBusyError(exc.existing) from None
        outcome, state = "done", JobState.SUCCEEDED
        try:
            yield
        except BaseException as exc:
            outcome, state = f"failed: {exc}", JobState.FAILED
            raise
        finally:
            self.store.finish(job.id, state, outcome)

    def abandon(self, job_id: str, reason: str) -> None:
        """Give up a validated job before it changed anything (e.g. Slack could not post).

        If even that fails (the store is down), the job is no longer heart-beaten: within a
        minute an adopter — this process too — finds it and runs it, so the PR is never left
        busy by a job nobody runs.
        """
        with self._jobs_lock:
            self._pending.discard(job_id)
        try:
            self.store.finish(job_id, JobState.FAILED, f"not started: {reason}", owner=self.owner)
        except LostJobError:
            pass  # already finished (given up once before) or adopted: not ours to end
        finally:
            self._forget(job_id)

    def attach_thread(self, job_id: str, channel: str, thread_ts: str) -> Job:
        return self._remember(self.store.set_thread(job_id, channel, thread_ts))

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

    def wait(self, job_id: str, timeout: float | None = None) -> Job | None:
        self.runner.wait(job_id, timeout)
        return self.store.get(job_id)

    # ----- read-only ----------------------------------------------------------

    def status(self, pr: int) -> PrStatus:
        """One PR: labels (1 GitHub request) merged with ECS truth."""
        info = self.github.get_pr(pr)
        labels = parse_labels(info.labels)
        services = self.ecs.find_services(pr)
        live = self.store.live_job(f"pr:{pr}")
        views = inv.environments(
            [inv.PrFacts(info.number, info.state, info.title, info.html_url, labels)],
            [inv.to_facts(s) for s in services],
            default_ttl=self.settings.showtime_default_ttl,
            live_job_prs={pr: live.id} if live else {},
        )
        return PrStatus(
            pr=pr,
            title=info.title,
            state="merged" if info.merged else info.state,
            html_url=info.html_url,
            frozen=labels.frozen,
            blocked=labels.blocked,
            ttl=labels.ttl,
            environments=views,
            live_job=live,
        )

    def list_environments(self) -> list[inv.EnvView]:
        """Every environment: one search per 100 PRs plus ECS list/describe in batches of 10."""
        prs = [
            inv.PrFacts(p.number, p.state, p.title, p.html_url, parse_labels(p.labels))
            for p in self.github.find_labelled_prs()
        ]
        services = [inv.to_facts(s) for s in self.ecs.find_services()]
        live = {job.pr: job.id for job in self.store.live_jobs() if job.pr is not None}
        views = inv.environments(
            prs, services, default_ttl=self.settings.showtime_default_ttl, live_job_prs=live
        )
        return [v for v in views if v.ecs_status in ("ACTIVE", None) or v.status != "unlabelled"]

    # ----- jobs: execution ----------------------------------------------------

    def _execute(self, job_id: str, resumed: bool) -> None:
        try:
            self._work(job_id, resumed)
        finally:
            self._forget(job_id)

    def _work(self, job_id: str, resumed: bool) -> None:
        try:
            job = self._remember(self.store.mark_running(job_id, self.owner))
        except LostJobError as exc:
            log.warning("not running job %s: %s", job_id, exc)
            return
        if resumed:
            self._resumed.add(job_id)
            self.emit(job, ev.Resumed(step=job.step or "start"))
        handlers: dict[str, Callable[[Job], ev.Succeeded]] = {
            KIND_START: self._run_start,
            KIND_STOP: self._run_stop,
            KIND_TTL: self._run_ttl,
            KIND_FREEZE: self._run_freeze,
            KIND_UNFREEZE: self._run_freeze,
            KIND_CLEANUP: self._run_cleanup,
        }
        try:
            result = handlers[job.kind](job)
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
            self._fail(job_id, exc.message, exc.next_action)
            return
        except Exception:
            log.exception("job failed with an internal error", extra={"job": job.correlation_id})
            self._fail(
                job_id,
                f"internal error (ref {job.correlation_id})",
                f"try again; if it repeats, report ref {job.correlation_id} to the bot's admins",
            )
            return
        # Listeners (the status message update) finish before the job is recorded as
        # done, so "finished" in the store means everything a person sees is final.
        try:
            self._fence(job_id)
            self.emit(self._current(job_id), result)
            if job.kind in (KIND_START, KIND_STOP):
                self._comment(job, f"🎪 Showtime: {result.text}")
            self.store.finish(job_id, JobState.SUCCEEDED, result.text, owner=self.owner)
        except JobLost:
            log.warning("job lost to another process before it finished", extra={"job": job_id})

    def _fail(self, job_id: str, reason: str, next_action: str) -> None:
        """Say why the job failed (in words fit for people) and record it, if still ours."""
        reason, next_action = public_text(reason), public_text(next_action)
        job = self._current(job_id)
        try:
            self._fence(job_id)
            self.emit(
                job,
                ev.Failed(
                    reason=reason, next_action=next_action, correlation_id=job.correlation_id
                ),
            )
            if job.kind in (KIND_START, KIND_STOP) and job.step not in (None, "validate"):
                self._comment(job, f"🎪 Showtime: {job.kind} failed: {reason}")
            self.store.finish(job_id, JobState.FAILED, reason, owner=self.owner)
        except JobLost:
            log.warning("job lost to another process; not failing it", extra={"job": job_id})

    def _comment(self, job: Job, text: str) -> None:
        """The optional PR comment (SHOWTIME_PR_COMMENTS); never fails the job."""
        if job.pr is None:
            return
        try:
            self.github.comment(job.pr, text)
        except ShowtimeError as exc:
            log.warning(
                "could not comment on #%s: %s", job.pr, exc, extra={"job": job.correlation_id}
            )

    def _step(self, job: Job, step: str, **data: Any) -> Job:
        """Record a finished step; only the job's owner can (``JobLost`` otherwise)."""
        try:
            return self._remember(self.store.record_step(job.id, step, owner=self.owner, **data))
        except LostJobError as exc:
            raise JobLost(str(exc)) from exc

    def _fence(self, job_id: str) -> None:
        """``JobLost`` unless the store still names this process as the job's owner."""
        try:
            self.store.check_owner(job_id, self.owner)
        except LostJobError as exc:
            self.runner.mark_lost(job_id)
            raise JobLost(str(exc)) from exc

    def _fence_current(self) -> None:
        """Before a remote write from a job thread: is that job still ours?"""
        job_id = current_job_id()
        if job_id is not None:
            self._fence(job_id)

    def _progress(self, job: Job) -> ev.Progress:
        return lambda event: self.emit(self._current(job.id), event)

    # ----- validation (reads only) --------------------------------------------

    def _validate(self, job: Job) -> dict[str, Any]:
        if job.kind == KIND_CLEANUP:
            return {}
        assert job.pr is not None
        info = self.github.get_pr(job.pr)
        labels = parse_labels(info.labels)
        data: dict[str, Any] = {"labels": list(info.labels), "title": info.title}
        if job.kind != KIND_START:
            if refusal := D.refuse_change(labels):
                raise RefusedError(refusal.message, refusal.next_action)
            if job.params.get("button") and job.kind != KIND_STOP and not labels.has_environment:
                raise UserInputError(
                    f"#{job.pr} has no environment any more; this message is out of date",
                    f"start one with `/showtime start {job.pr}`",
                )
            return data
        # Cheapest refusals first: blocked or closed needs no further request.
        _raise(D.refuse_start(state=info.state, merged=info.merged, labels=labels), job.pr)
        sha = self._resolve_sha(job.pr, job.sha) if job.sha else info.head_sha
        plan = D.plan_start(
            labels,
            sha,
            self.clock.now(),
            timedelta(minutes=self.settings.showtime_stale_lock_minutes),
        )
        if isinstance(plan, D.Refusal):
            raise RefusedError(plan.message, plan.next_action)
        if plan.mode is D.DeployMode.FRESH:  # redeploys and rolling updates add nothing
            self._reserve_environment(job, service_name(job.pr, plan.sha7))
        data.update(
            sha=sha,
            sha7=plan.sha7,
            mode=plan.mode.value,
            previous_sha=plan.previous_sha,
            takeover=plan.takeover.sha if plan.takeover else None,
            takeover_status=plan.takeover.status if plan.takeover else None,
            body=info.body,
        )
        return data

    def _reserve_environment(self, job: Job, name: str) -> None:
        """Hold one of SHOWTIME_MAX_ENVIRONMENTS for this job, atomically across jobs.

        ECS's count alone is not enough: two starts validated at the same moment both see
        room for one more. The store checks and holds in one transaction, counting what
        other live jobs hold for services ECS does not list yet; the hold ends with the job.
        """
        names = self.ecs.environment_names()
        limit = self.settings.showtime_max_environments
        total = self.store.reserve(
            job.id, "environments", item=name, amount=1, in_use=len(names), seen=names, limit=limit
        )
        if total is not None:
            _raise(D.refuse_new_environment(round(total) - 1, limit), job.pr or 0)

    def _resolve_sha(self, pr: int, wanted: str) -> str:
        matches = [sha for sha in self.github.pr_commit_shas(pr) if sha.startswith(wanted.lower())]
        if not matches:
            raise UserInputError(
                f"`{wanted}` is not a commit of #{pr}",
                "give a SHA from the PR's commits, or leave it out to deploy the PR's head",
            )
        return matches[-1]

    # ----- start --------------------------------------------------------------

    def _run_start(self, job: Job) -> ev.Succeeded:
        assert job.pr is not None
        pr, data = job.pr, job.data
        sha, sha7 = data["sha"], data["sha7"]
        mode = D.DeployMode(data["mode"])
        name = service_name(pr, sha7)
        progress = self._progress(job)
        try:
            return self._start_steps(job, pr, sha, sha7, mode, name, progress)
        except Interrupted:
            raise
        except Exception:
            # A failure seen by a process that lost the job (another replica adopted it and
            # may have built on it since) undoes nothing: the fence raises JobLost here.
            self._fence(job.id)
            self._undo_failed_start(self._current(job.id), pr, sha7, mode, name)
            raise

    def _start_steps(
        self,
        job: Job,
        pr: int,
        sha: str,
        sha7: str,
        mode: D.DeployMode,
        name: str,
        progress: ev.Progress,
    ) -> ev.Succeeded:
        def done(step: str) -> bool:
            current = self._current(job.id).step
            return current is not None and START_STEPS.index(current) >= START_STEPS.index(step)

        if not done("claim"):
            job = self._claim(job, pr, sha7, mode, progress)
        if not done("task_definition"):
            progress(
                ev.StepStarted("task_definition", f"Registering the task definition for {sha7}")
            )
            arn = self.ecs.register_task_definition(
                pr, sha, self._current(job.id).data.get("body") or "", progress
            )
            job = self._step(job, "task_definition", task_definition=arn)
            progress(
                ev.StepFinished(
                    "task_definition", f"Task definition `{arn.rsplit('/', 1)[-1]}` registered"
                )
            )
        arn = self._current(job.id).data["task_definition"]
        if mode is D.DeployMode.REDEPLOY:
            if not done("redeploy"):
                progress(ev.StepStarted("redeploy", f"Redeploying `{name}` in place (no downtime)"))
                self.ecs.redeploy(name, arn, progress)
                job = self._step(job, "redeploy")
                progress(ev.StepFinished("redeploy", f"New deployment of `{name}` started"))
        else:
            if not done("clear_name"):
                progress(ev.StepStarted("clear_name", f"Making sure the name `{name}` is free"))
                self.ecs.clear_name(name, progress)
                job = self._step(job, "clear_name")
                progress(ev.StepFinished("clear_name", f"`{name}` is free"))
            if not done("create_service"):
                progress(ev.StepStarted("create_service", f"Creating service `{name}`"))
                created = self.clock.now()
                ttl = parse_labels(self._labels(job)).ttl
                self.ecs.create_service(
                    pr=pr,
                    sha=sha7,
                    task_definition_arn=arn,
                    requested_by=job.requester,
                    expires=expires_at(created, ttl or self.settings.showtime_default_ttl),
                    client_token=job.id,
                    progress=progress,
                )
                job = self._step(job, "create_service", created_service=True)
                progress(ev.StepFinished("create_service", f"Service `{name}` created"))
        if not done("wait_stable"):
            progress(
                ev.StepStarted(
                    "wait_stable", "Waiting for the task to start and the service to be stable"
                )
            )
            self.ecs.wait_stable(name, progress)
            job = self._step(job, "wait_stable")
            progress(ev.StepFinished("wait_stable", "Service is stable"))
        if not done("health"):
            ip = self.ecs.address(name)
            address = f"{ip}:{self.settings.showtime_env_port}"
            url = f"http://{address}{self.settings.showtime_health_path}"
            progress(ev.StepStarted("health", f"Checking health at {url}"))
            self.health.wait_healthy(url, progress)
            job = self._step(job, "health", address=address)
            progress(ev.StepFinished("health", "Superset answers its health check"))
        address = self._current(job.id).data["address"]
        if not done("labels_running"):
            job = self._labels_running(job, pr, sha7, address, progress)
        previous = self._current(job.id).data.get("previous_sha")
        if mode is D.DeployMode.ROLLING and previous and not done("retire_previous"):
            progress(
                ev.StepStarted("retire_previous", f"Removing the previous environment {previous}")
            )
            # Its labels went with the running labels; the service goes now (no DRAINING wait).
            self.ecs.delete_service(service_name(pr, previous))
            job = self._step(job, "retire_previous")
            progress(ev.StepFinished("retire_previous", f"Previous environment {previous} removed"))
        url = f"http://{address}"
        verb = {"fresh": "runs", "redeploy": "was redeployed and runs", "rolling": "now runs"}[
            mode.value
        ]
        return ev.Succeeded(text=f"#{pr} {verb} {sha7} at {url}", url=url)

    def _claim(
        self, job: Job, pr: int, sha7: str, mode: D.DeployMode, progress: ev.Progress
    ) -> Job:
        data = job.data
        if job.id in self._resumed:  # validated by a previous process: labels may have moved
            data = {**data, "labels": list(self.github.get_pr(pr).labels)}
        names = list(data["labels"])
        labels = parse_labels(names)
        takeover = (
            L.Show(sha=data["takeover"], status=data.get("takeover_status"))
            if data.get("takeover")
            else None
        )
        plan = D.StartPlan(mode, sha7, data.get("previous_sha"), takeover)
        if takeover is not None:
            progress(
                ev.Warning(
                    f"took over a stale claim: {takeover.sha} said {takeover.status} with no job running it"
                )
            )
        change = D.claim_labels(
            labels,
            plan,
            now=self.clock.now(),
            requester=job.requester_name or job.requester,
            ttl=job.params.get("ttl"),
            default_ttl=self.settings.showtime_default_ttl,
            current_names=names,
        )
        what = {"fresh": "Deploying", "redeploy": "Redeploying", "rolling": "Rolling update to"}[
            mode.value
        ]
        progress(ev.StepStarted("claim", f"{what} {sha7}: labelling the PR 🚦 deploying"))
        names = self._apply(pr, names, change)
        job = self._step(job, "claim", labels=names)
        progress(ev.StepFinished("claim", f"PR #{pr} claimed for {sha7}"))
        return job

    def _labels_running(
        self, job: Job, pr: int, sha7: str, address: str, progress: ev.Progress
    ) -> Job:
        """One write: claim labels go, 🚦 running + 🌐 + 🎯 come, a replaced SHA's labels go.

        Runs only after the new environment passed its health check, so the labels
        never point at something that does not answer.
        """
        names = self._labels(job)
        previous_active = parse_labels(names).active_sha
        change = D.running_labels(sha7, address, previous_active, names)
        retired = job.data.get("previous_sha") if job.data.get("mode") == "rolling" else None
        if retired:
            gone = [n for n in L.labels_of_sha(names, retired) if n not in change.remove]
            change = L.LabelChange(add=change.add, remove=(*change.remove, *gone))
        progress(ev.StepStarted("labels_running", "Labelling the PR 🚦 running"))
        # The claim's 🚦/🏗️, a moved 🎯 and a retired SHA's labels: nobody carries them now.
        names = self._apply_and_prune(pr, names, change)
        job = self._step(job, "labels_running", labels=names)
        progress(ev.StepFinished("labels_running", f"PR #{pr} labelled 🚦 running, 🎯 {sha7}"))
        return job

    def _undo_failed_start(
        self, job: Job, pr: int, sha7: str, mode: D.DeployMode, name: str
    ) -> None:
        """A failed deploy leaves no service it created running, and labels that say failed."""
        if job.data.get("created_service") and mode is not D.DeployMode.REDEPLOY:
            try:
                self.ecs.delete_service(name)
                self.emit(
                    job, ev.Warning(f"deleted `{name}`, which this failed deploy had created")
                )
            except Exception as exc:
                self.emit(job, ev.Warning(f"could not delete `{name}` after the failure: {exc}"))
        if job.step is None or START_STEPS.index(job.step) < START_STEPS.index("claim"):
            return
        names = self._labels(job)
        previous = parse_labels(names).active
        if mode is D.DeployMode.ROLLING and previous and previous.url:
            self.emit(
                job,
                ev.Warning(
                    f"the previous environment {previous.sha} still serves at {previous.url}"
                ),
            )
        try:
            change = D.failed_labels(sha7, names, still_running=mode is D.DeployMode.REDEPLOY)
            names = self._apply_and_prune(pr, names, change)
            self._step(job, job.step, labels=names)
        except Exception as exc:
            self.emit(
                job,
                ev.Warning(
                    f"could not label the PR failed ({exc}); its 🚦 deploying claim goes stale after "
                    f"{self.settings.showtime_stale_lock_minutes:g} minutes"
                ),
            )

    # ----- stop ---------------------------------------------------------------

    def _run_stop(self, job: Job) -> ev.Succeeded:
        """Delete the PR's services (found in ECS, not only through labels) and its labels.

        Done once ECS accepted the deletions and the labels are gone; DRAINING is
        the next start's business. Each half is recorded, so a resumed stop skips it.
        """
        assert job.pr is not None
        pr = job.pr
        progress = self._progress(job)
        if job.step == "validate":
            progress(ev.StepStarted("delete_services", f"Deleting the ECS services of #{pr}"))
            deleted = self.ecs.delete_pr_environments(pr)
            job = self._step(job, "delete_services", deleted=deleted)
            what = ", ".join(f"`{n}`" for n in deleted) or "none was running"
            progress(ev.StepFinished("delete_services", f"ECS services deleted: {what}"))
        deleted = list(self._current(job.id).data.get("deleted", []))
        # The labels read at validation, moments ago (no second GET).
        stored = self._current(job.id).data.get("labels")
        names = list(stored) if stored is not None else list(self.github.get_pr(pr).labels)
        change = D.teardown_labels(names)
        progress(ev.StepStarted("labels", f"Removing {len(change.remove)} showtime label(s)"))
        names = self._apply_and_prune(pr, names, change)
        self._step(job, "labels", labels=names)
        progress(ev.StepFinished("labels", f"Removed {len(change.remove)} showtime label(s)"))
        if not deleted and not change.remove:
            return ev.Succeeded(text=f"#{pr} had no environment; nothing to stop")
        what = ", ".join(f"`{n}`" for n in deleted) or "no running service"
        return ev.Succeeded(text=f"#{pr} stopped: deleted {what} and {len(change.remove)} label(s)")

    # ----- ttl, freeze --------------------------------------------------------

    def _run_ttl(self, job: Job) -> ev.Succeeded:
        """Set the PR-level TTL, or with ``extend`` move it one step (24h → … → close)."""
        assert job.pr is not None
        names = list(job.data["labels"])
        labels = parse_labels(names)
        ttl = next_ttl(labels.ttl) if job.params.get("extend") else job.params["ttl"]
        names = self._apply(job.pr, names, D.set_ttl_labels(labels, ttl))
        self._step(job, "labels", labels=names)
        return ev.Succeeded(text=f"#{job.pr} TTL is now {ttl} (`{L.ttl_label(ttl)}`)")

    def _run_freeze(self, job: Job) -> ev.Succeeded:
        assert job.pr is not None
        names = list(job.data["labels"])
        freeze = job.kind == KIND_FREEZE
        change = L.LabelChange(
            add=(L.FREEZE,) if freeze and L.FREEZE not in names else (),
            remove=(L.FREEZE,) if not freeze and L.FREEZE in names else (),
        )
        self._step(job, "labels", labels=self._apply(job.pr, names, change))
        if freeze:
            return ev.Succeeded(text=f"#{job.pr} is frozen: new commits do not redeploy it")
        return ev.Succeeded(text=f"#{job.pr} is unfrozen")

    # ----- cleanup, sweeping --------------------------------------------------

    def _run_cleanup(self, job: Job) -> ev.Succeeded:
        report = self.cleanup(dry_run=bool(job.params.get("dry_run")), parent=job)
        return ev.Succeeded(text=report.text)

    def cleanup(self, *, dry_run: bool, parent: Job | None = None) -> CleanupReport:
        """Expired environments, orphan services, labels without service, closed PRs, stray definitions."""
        plan = plan_cleanup(self)
        if dry_run:
            return CleanupReport(dry_run=True, actions=[CleanupAction(a.pr, a.what) for a in plan])
        return CleanupReport(dry_run=False, actions=run_cleanup(self, plan, parent))

    def sweep(self) -> None:
        sweep(self)

    # ----- durability ---------------------------------------------------------

    def resume_orphans(self, stale_after_seconds: float | None = None) -> list[Job]:
        """Adopt jobs whose owner stopped beating and run them from their last finished step."""
        if stale_after_seconds is None:
            sqlite = self.settings.showtime_db_url.startswith("sqlite")
            stale_after_seconds = 0.0 if sqlite else ORPHAN_AFTER_SECONDS
        adopted = self.store.adopt_orphans(
            self.owner, stale_after_seconds, keep=self._working_ids()
        )
        for job in adopted:
            self._remember(job)
            if job.step is None:  # cut off before validation finished: nothing was changed
                self.store.finish(
                    job.id,
                    JobState.FAILED,
                    "not started: interrupted before validation",
                    owner=self.owner,
                )
                self._forget(job.id)
                continue
            self.run(job.id, resumed=True)
        return adopted

    def start_background(self) -> None:
        """Heartbeats, orphan adoption and the TTL sweeper, each in its own thread."""
        self._tickers = [
            Ticker("heartbeat", HEARTBEAT_SECONDS, self._beat, self.stopping),
            Ticker(
                "adopt",
                ORPHAN_AFTER_SECONDS,
                self._adopt,
                self.stopping,
            ),
            Ticker("sweeper", self.settings.showtime_sweep_seconds, self.sweep, self.stopping),
        ]
        for ticker in self._tickers:
            ticker.start()

    def _adopt(self) -> None:
        self.resume_orphans(ORPHAN_AFTER_SECONDS)

    def _working_ids(self) -> list[str]:
        """Jobs this process works on: running or queued here, or begun and not yet run."""
        with self._jobs_lock:
            pending = set(self._pending)
        return sorted(pending | set(self.runner.inflight_ids()))

    def _beat(self) -> None:
        ids = self._working_ids()
        if not ids:
            return
        held = self.store.heartbeat(self.owner, ids)
        for job_id in set(ids) - held:
            # Adopted elsewhere (this process paused past the orphan limit) or finished:
            # its worker stops at its next wait or fenced write.
            log.warning("job %s is no longer this process's; stopping it", job_id)
            self.runner.mark_lost(job_id)

    def shutdown(self, timeout: float = 20.0) -> bool:
        """SIGTERM: stop taking work; running jobs stop at their next wait and resume later."""
        finished = self.runner.shutdown(timeout)
        for ticker in self._tickers:
            ticker.join(1.0)
        return finished

    # ----- helpers ------------------------------------------------------------

    def _labels(self, job: Job) -> list[str]:
        return list(self._current(job.id).data.get("labels", []))

    def _apply(self, pr: int, names: list[str], change: L.LabelChange) -> list[str]:
        return list(self.github.apply_labels(pr, change, names))

    def _apply_and_prune(self, pr: int, names: list[str], change: L.LabelChange) -> list[str]:
        """Apply ``change``, then delete the definitions of the SHA labels it removed.

        Per-SHA label definitions would otherwise pile up in the repository (SPEC §6).
        """
        names = self._apply(pr, names, change)
        self.github.delete_label_definitions(D.sha_definitions(list(change.remove)))
        return names

    def _remember(self, job: Job) -> Job:
        with self._jobs_lock:
            self._jobs[job.id] = job
        return job

    def _forget(self, job_id: str) -> None:
        """A finished job leaves the cache (each entry holds the PR's body)."""
        with self._jobs_lock:
            self._jobs.pop(job_id, None)
            self._resumed.discard(job_id)

    def cached_jobs(self) -> int:
        with self._jobs_lock:
            return len(self._jobs)

    def _current(self, job_id: str) -> Job:
        with self._jobs_lock:
            job = self._jobs.get(job_id)
        if job is None:
            stored = self.store.get(job_id)
            if stored is None:
                raise KeyError(job_id)
            job = self._remember(stored)
        return job

    def notice(self, pr: int, sha: str | None, channel: str | None, thread: str | None) -> Notice:
        return Notice(
            id=f"notice-{pr}", kind="notice", pr=pr, sha=sha, channel=channel, thread_ts=thread
        )

    def current_job(self, job_id: str) -> Job:
        return self._current(job_id)

    def now(self) -> datetime:
        return self.clock.now()


def _raise(refusal: D.Refusal | None, pr: int) -> None:
    if refusal is not None:
        error = UserInputError if refusal.bad_input else RefusedError
        raise error(f"#{pr}: {refusal.message}", refusal.next_action)


def _event_text(event: ev.Event) -> str:
    for attr in ("text", "reason"):
        value = getattr(event, attr, None)
        if value:
            return str(value)
    return type(event).__name__


_GITHUB_WRITES = frozenset(
    {
        "apply_labels",
        "add_labels",
        "remove_labels",
        "replace_labels",
        "delete_label_definitions",
        "comment",
    }
)
_ECS_WRITES = frozenset(
    {
        "clear_name",
        "register_task_definition",
        "create_service",
        "redeploy",
        "delete_service",
        "delete_pr_environments",
    }
)


class _Fenced:
    """A port whose write methods first run ``check`` (the job-ownership fence)."""

    def __init__(self, port: object, writes: frozenset[str], check: Callable[[], None]) -> None:
        self._port = port
        self._writes = writes
        self._check = check

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._port, name)
        if name not in self._writes:
            return attr

        def fenced(*args: Any, **kwargs: Any) -> Any:
            self._check()
            return attr(*args, **kwargs)

        return fenced
