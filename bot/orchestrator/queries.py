"""What people ask to see: one PR's status, every environment (priced, with this month's
spend), where a PR's thread is, an environment's log."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime

from bot.domain.commands import parse_sha
from bot.domain.events import LogTail
from bot.domain.labels import FAILED, parse_labels
from bot.domain.modes import DeployMode
from bot.domain.naming import service_name
from bot.errors import UserInputError
from bot.orchestrator import costs
from bot.orchestrator import inventory as inv
from bot.orchestrator.context import Deps
from bot.orchestrator.jobs import JobKind, JobState, StartRecord, pr_lock
from bot.orchestrator.models import Overview, PrLogs, PrStatus
from bot.orchestrator.ports import ServiceState

# How long one look at every environment (a GitHub search and ECS list/describe rounds)
# serves everyone who asks: many people running `list` or opening the Home tab at once cost
# one look.
LIST_FRESH_SECONDS = 5.0
# How far back the Logs button looks for the deploy of its SHA (one PR's jobs, newest first).
RECENT_JOBS = 50


class Queries:
    def __init__(self, deps: Deps) -> None:
        self._deps = deps
        self._lock = threading.Lock()
        self._fetched = threading.Condition(self._lock)
        self._cached: tuple[float, Overview] | None = None
        self._fetching = False

    def status(self, pr: int) -> PrStatus:
        """One PR: labels (one GitHub request) merged with ECS truth."""
        deps = self._deps
        info = deps.github.get_pr(pr)
        facts = inv.facts(info)
        live = deps.store.live_job(pr_lock(pr))
        services = list(deps.ecs.find_services(pr))
        views = inv.environments(
            [facts],
            services,
            default_ttl=deps.policy.default_ttl,
            live_job_prs={pr: live.id} if live else {},
        )
        periods = costs.open_periods(deps, deps.clock.now())
        views = costs.priced(deps, views, costs.sizes(deps, services, periods))
        return PrStatus(
            pr=pr,
            title=info.title,
            state="merged" if info.merged else str(info.state),
            html_url=info.html_url,
            frozen=facts.labels.frozen,
            blocked=facts.labels.blocked,
            ttl=facts.labels.ttl,
            environments=[self._linked(view) for view in views],
            live_job=live,
            live_job_thread=(live.channel, live.thread_ts)
            if live and live.channel and live.thread_ts
            else None,
        )

    def list_environments(self) -> list[inv.EnvView]:
        return self.overview().environments

    def overview(self) -> Overview:
        """Every environment, priced, and this month's spend: one search per 100 PRs plus ECS
        list/describe in batches of 10, shared by everyone asking within
        ``LIST_FRESH_SECONDS`` (one of them looks; the others wait for its answer)."""
        clock = self._deps.clock
        with self._fetched:
            while True:
                if self._cached and clock.monotonic() - self._cached[0] < LIST_FRESH_SECONDS:
                    return self._cached[1]
                if not self._fetching:
                    self._fetching = True
                    break
                self._fetched.wait(30)
        overview: Overview | None = None
        try:
            overview = self._look()
            return overview
        finally:
            with self._fetched:
                if overview is not None:
                    self._cached = (clock.monotonic(), overview)
                self._fetching = False
                self._fetched.notify_all()

    def forget(self) -> None:
        """Something changed (a job ended): the next look is a fresh one."""
        with self._lock:
            self._cached = None

    def _look(self) -> Overview:
        deps = self._deps
        prs = [inv.facts(p) for p in deps.github.find_labelled_prs()]
        services = list(deps.ecs.find_services())
        live = {job.pr: job.id for job in deps.store.live_jobs() if job.pr is not None}
        views = inv.environments(
            prs, services, default_ttl=deps.policy.default_ttl, live_job_prs=live
        )
        now = deps.clock.now()
        shown = [
            self._linked(v)
            for v in views
            if v.ecs_status in (ServiceState.ACTIVE, None) or v.status != inv.UNLABELLED
        ]
        shown = costs.priced(
            deps, shown, costs.sizes(deps, services, costs.open_periods(deps, now))
        )
        return Overview(shown, costs.spend(deps, shown, now), now)

    def now(self) -> datetime:
        return self._deps.clock.now()

    def thread_of(self, pr: int) -> tuple[str, str] | None:
        """(channel, ts) of the PR's latest status message, if it has one."""
        return self._deps.store.latest_thread(pr)

    def logs(self, pr: int, lines: int, sha: str | None = None) -> PrLogs:
        """The last ``lines`` of the log of the PR's environment for ``sha`` (a status
        message's Logs button knows it), else of its active one (🎯; one GitHub request) —
        or, with none active, of its failed one.

        A failed deploy's service is gone (its undo deleted it), but CloudWatch keeps its
        task's log: the job store names that task, so the failure's log is read, not "runs no
        task now" (SPEC §17). ``UserInputError`` when the PR has no environment; what the
        log itself cannot tell (no stream yet, no permission) is the tail's ``problem``.
        """
        deps = self._deps
        if sha is None:
            labels = parse_labels(deps.github.get_pr(pr).labels)
            show = labels.active or next((s for s in labels.shows if s.status == FAILED), None)
            if show is None:
                raise UserInputError(
                    f"#{pr} has no active environment (🎯), so there is no log to show",
                    f"start one with `/showtime start {pr}`",
                )
            sha = show.sha
        if parse_sha(sha) is None:
            raise UserInputError(
                f"`{sha[:40]}` is not a commit SHA", "press Logs on a newer message"
            )
        sha7 = sha[:7].lower()
        name = service_name(pr, sha7)
        failed = self._failed_deploy(pr, sha7)
        if failed is None:
            tail = deps.logs.tail(name, lines)
            console = deps.logs.console_url(name)
        elif failed.failed_task:
            tail = deps.logs.tail(name, lines, failed.failed_task)
            console = failed.logs_url
        elif failed.logs_url:  # its log could not be read when it failed: look again
            tail = deps.logs.tail(name, lines)
            console = failed.logs_url
        else:
            tail = LogTail(
                problem=f"no log: the deploy of `{sha7}` failed before its container ran, "
                "so it wrote none (its thread says why)"
            )
            console = ""
        return PrLogs(pr=pr, sha=sha7, service=name, tail=tail, console_url=console)

    def _failed_deploy(self, pr: int, sha7: str) -> StartRecord | None:
        """The record of the PR's latest deploy of ``sha7`` when it failed and took its
        service with it (a fresh deploy or a rolling update; a failed in-place redeploy
        leaves the running one, whose log is the one to read)."""
        for job in self._deps.store.recent(RECENT_JOBS, pr=pr):
            record = job.record
            if job.kind is JobKind.START and isinstance(record, StartRecord):
                if record.sha7 != sha7:
                    continue
                failed = job.state is JobState.FAILED and record.mode is not DeployMode.REDEPLOY
                return record if failed else None
        return None

    def _linked(self, view: inv.EnvView) -> inv.EnvView:
        return replace(view, logs_url=self._deps.logs.console_url(view.service))
