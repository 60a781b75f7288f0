"""What people ask to see: one PR's status, every environment (priced, with this month's
spend), where a PR's thread is, an environment's log and admin login, and whether a PR can be
started (the Start modal's check)."""

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
from bot.orchestrator import decisions as D
from bot.orchestrator import inventory as inv
from bot.orchestrator.context import Deps
from bot.orchestrator.jobs import (
    SMOKE_JOBS,
    Job,
    JobKind,
    JobState,
    StartRecord,
    pr_lock,
    smoke_results,
)
from bot.orchestrator.models import Credentials, Overview, PrLogs, PrStatus, StartCheck
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
            environments=self._checked(
                [self._linked(view) for view in views], deps.store.recent(SMOKE_JOBS, pr=pr)
            ),
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
        shown = self._checked(shown, deps.store.recent(SMOKE_JOBS * 10))
        return Overview(shown, costs.spend(deps, shown, now), now)

    def _checked(self, views: list[inv.EnvView], jobs: list[Job]) -> list[inv.EnvView]:
        """Each running environment with what its latest smoke check found (SPEC §15): a
        deploy's or a Check again's, from the job store — no remote call."""
        latest = smoke_results(jobs)
        return [
            replace(view, degraded=found.degraded or None)
            if (found := latest.get((view.pr, view.sha)))
            else view
            for view in views
        ]

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

    def credentials(self, pr: int, sha: str | None = None) -> Credentials:
        """The admin login of the PR's environment for ``sha`` (a status message's or a
        direct message's Credentials button knows it), else of its active one (🎯).

        One GitHub read (the labels: which environment, its URL), ECS's list of the PR's
        services (which task definition it runs), then ``admin_login`` (no AWS call for a
        revision this process registered, one DescribeTaskDefinition otherwise). What was
        read is never logged: the answer goes to the one person who asked.
        ``UserInputError`` when the PR has no such environment running.
        """
        deps = self._deps
        labels = parse_labels(deps.github.get_pr(pr).labels)
        if sha is None:
            show = labels.active
            if show is None:
                raise UserInputError(
                    f"#{pr} has no active environment (🎯), so there is no login to show",
                    f"start one with `/showtime start {pr}`",
                )
        else:
            wanted = parse_sha(sha)
            show = labels.show(wanted[:7]) if wanted else None
            if show is None:
                raise UserInputError(
                    f"#{pr} no longer has the environment `{sha[:7]}`",
                    f"`/showtime creds {pr}` shows the login of its active one",
                )
        name = service_name(pr, show.sha)
        service = next(
            (
                s
                for s in deps.ecs.find_services(pr)
                if s.name == name and s.status is ServiceState.ACTIVE
            ),
            None,
        )
        if service is None or not service.task_definition:
            raise UserInputError(
                f"#{pr}'s environment `{show.sha}` runs no service in ECS now",
                f"`/showtime status {pr}` shows what runs; start it again if it is gone",
            )
        login = deps.ecs.admin_login(service.task_definition)
        return Credentials(
            pr=pr,
            sha=show.sha,
            url=show.url,
            username=login.username,
            password=login.password,
            generated=login.generated,
        )

    def start_check(self, pr: int, sha: str | None = None) -> StartCheck:
        """Can ``pr`` (at ``sha``) be started? The reads the Start modal makes before its
        answer: the PR (one GitHub read), and its commits when ``sha`` is not its head.

        ``UserInputError`` when GitHub has no such PR. Everything else that refuses a start
        (the environment limit, the budget, a job running) is the job's own validation's.
        """
        deps = self._deps
        info = deps.github.get_pr(pr)
        refusal = D.refuse_start(
            state=info.state, merged=info.merged, labels=parse_labels(info.labels)
        )
        if sha is None or refusal is not None:
            return StartCheck(info, refusal)
        wanted = sha.lower()
        if info.head_sha.startswith(wanted):
            return StartCheck(info, None, sha=info.head_sha)
        matches = [c for c in deps.github.pr_commit_shas(pr) if c.startswith(wanted)]
        if not matches:
            return StartCheck(info, None, sha=None, sha_found=False)
        return StartCheck(info, None, sha=matches[-1])

    def _linked(self, view: inv.EnvView) -> inv.EnvView:
        return replace(view, logs_url=self._deps.logs.console_url(view.service))
