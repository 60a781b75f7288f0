"""Cleanup and the TTL sweeper: finding what should not be there, and removing it.

Both look through labels (one search per 100 PRs) *and* ECS (services tagged
``showtime_managed``), because the CLI leaks running services when its 🎯 label goes
missing: ECS is the truth for what runs. Search lags label writes, so it only finds
candidates: whatever is to be deleted is decided again from the PR's current labels
(one GET per PR), and a service younger than ten minutes is never called an orphan.

Stopping goes through the same stop job as ``/showtime stop`` (begun and run through
the narrow ``JobStarter`` interface), so a sweep and a person never race on a PR; direct
changes (an orphan service, stray labels) hold the PR's job lock while they are made.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from bot.domain import events as ev
from bot.domain import labels as L
from bot.domain.naming import service_name
from bot.domain.requester import CLEANUP, SWEEPER, Requester
from bot.domain.ttl import expires_at, format_duration, next_ttl
from bot.errors import ShowtimeError, UserInputError
from bot.orchestrator import costs
from bot.orchestrator import decisions as D
from bot.orchestrator import inventory as inv
from bot.orchestrator.context import Deps, JobRun
from bot.orchestrator.jobs import CleanupParams, CleanupRecord, Job, JobKind, JobState, StopParams
from bot.orchestrator.metering import mend
from bot.orchestrator.models import (
    Answer,
    CleanupAction,
    CleanupReport,
    JobRequest,
    Notice,
    Reporting,
)
from bot.orchestrator.ports import LabelledPr, PullRequest, Service, ServiceState

log = logging.getLogger(__name__)

RECONCILE_WINDOW = timedelta(days=2)  # how far back the PRs the bot touched are reconciled


class JobStarter(Protocol):
    """What the sweeper needs of ``Jobs``: submit a stop, or hold a PR's lock."""

    def submit(self, request: JobRequest, *, queue: bool = True) -> Answer: ...
    def begin(self, request: JobRequest) -> Job: ...
    def run_here(self, job: Job) -> Job | None: ...
    def holding(self, pr: int, requester: Requester) -> AbstractContextManager[None]: ...
    def notify(self, notice: Notice) -> None: ...


class Action(StrEnum):
    STOP_PR = "stop_pr"  # the stop job, as `/showtime stop` does it
    REMOVE_LABELS = "remove_labels"  # per-SHA labels of an environment that is gone
    DELETE_SERVICE = "delete_service"
    DELETE_DEFINITIONS = "delete_definitions"  # SHA label definitions on no PR


class Why(StrEnum):
    CLOSED = "closed"  # the PR is closed or merged
    EXPIRED = "expired"  # past 📅 + ⌛
    UNLABELLED = "unlabelled"  # a service no label mentions (an orphan)
    FAILED_DEPLOY = "failed_deploy"  # labels say failed, the service still runs
    NO_SERVICE = "no_service"  # labels of an environment ECS does not run
    UNATTACHED = "unattached"  # a SHA label definition no PR carries


@dataclass(frozen=True)
class Planned:
    """One thing cleanup or the sweeper would do: decided by ``action`` and ``why``; ``what``
    is only how it is said."""

    action: Action
    why: Why
    pr: int | None
    what: str
    names: tuple[str, ...] = field(default=())


class Sweeper:
    def __init__(self, deps: Deps, jobs: JobStarter) -> None:
        self._deps = deps
        self._jobs = jobs

    # ----- cleanup -------------------------------------------------------------------

    def cleanup(self, *, dry_run: bool, requester: Requester = CLEANUP) -> CleanupReport:
        """Expired environments, orphan services, labels without a service, closed PRs,
        stray SHA label definitions. ``dry_run`` only says what it would do."""
        plan = self.plan()
        if dry_run:
            return CleanupReport(dry_run=True, actions=[CleanupAction(p.pr, p.what) for p in plan])
        return CleanupReport(dry_run=False, actions=self.execute(plan, requester))

    def run_cleanup(self, run: JobRun) -> ev.Succeeded:
        """The cleanup job's handler (``/showtime cleanup``)."""
        params = run.job.params
        assert isinstance(params, CleanupParams)
        report = self.cleanup(dry_run=params.dry_run, requester=run.job.requester)
        return ev.Succeeded(text=report.text)

    def execute(self, plan: list[Planned], requester: Requester) -> list[CleanupAction]:
        """Do what was planned; a PR whose job started since is left alone (busy)."""
        return [self._do(item, requester) for item in plan]

    def plan(self) -> list[Planned]:
        """What cleanup would do, decided per PR from the PR's own labels."""
        deps = self._deps
        now = deps.clock.now()
        default_ttl = deps.policy.default_ttl
        found = {p.number: p for p in deps.github.find_labelled_prs()}
        services = list(deps.ecs.find_services())
        live = self._live_prs()
        suspects = _plan(
            {n: inv.facts(p) for n, p in found.items()}, services, live, now, default_ttl
        )
        plan: list[Planned] = []
        for number in sorted(suspects):
            current = self._current(number)
            confirmed = _plan(
                {number: current} if current else {}, services, live, now, default_ttl
            )
            plan.extend(confirmed.get(number, []))
        attached = {name for p in found.values() for name in p.labels}
        stray = [n for n in deps.github.sha_label_definitions() if n not in attached]
        if stray:
            stray = sorted(set(stray) - deps.github.attached_labels(stray))
        if stray:
            shown = ", ".join(f"`{n}`" for n in stray[:5]) + (" …" if len(stray) > 5 else "")
            what = f"delete {len(stray)} unattached SHA label definition(s): {shown}"
            plan.append(
                Planned(Action.DELETE_DEFINITIONS, Why.UNATTACHED, None, what, tuple(stray))
            )
        return plan

    def _do(self, item: Planned, requester: Requester) -> CleanupAction:
        deps = self._deps
        try:
            if item.action is Action.STOP_PR and item.pr is not None:
                done = self._stop(item.pr, requester=requester, reason=item.what, here=True)
                if done is not None and done.state is JobState.FAILED:
                    raise ShowtimeError(done.outcome or "the stop failed")
            elif item.action is Action.DELETE_SERVICE and item.pr is not None:
                with self._jobs.holding(item.pr, requester):  # never under a job's feet
                    for name in item.names:
                        deps.ecs.delete_service(name)
            elif item.action is Action.REMOVE_LABELS and item.pr is not None:
                # Per-SHA labels: deleting the definition takes the label off the PR too.
                with self._jobs.holding(item.pr, requester):
                    deps.github.delete_label_definitions(D.sha_definitions(list(item.names)))
            elif item.action is Action.DELETE_DEFINITIONS:
                deps.github.delete_label_definitions(list(item.names))
        except ShowtimeError as exc:
            return CleanupAction(item.pr, item.what, error=str(exc))
        return CleanupAction(item.pr, item.what, done=True)

    # ----- the TTL sweeper -----------------------------------------------------------

    def sweep(self) -> None:
        """Stop expired environments and those of closed PRs; warn once within the last
        hour; delete services left running by failed deploys, and unlabelled ones past the
        default TTL. Whatever is removed is confirmed from the PR's current labels first."""
        deps = self._deps
        now = deps.clock.now()
        default_ttl = deps.policy.default_ttl
        prs = list(deps.github.find_labelled_prs())
        services = list(deps.ecs.find_services())
        live = self._live_prs()
        self._mend_record(prs, services, live, listed_at=now)
        labelled = {p.number for p in prs}
        for pr in prs:
            labels = L.parse_labels(pr.labels)
            if labels.blocked or not labels.has_environment or pr.number in live:
                continue
            if D.stop_reason(pr.number, pr.state, labels, now, default_ttl) or _failed_but_running(
                pr.number, labels, services
            ):
                self._sweep_confirmed(pr.number, services, now)
                continue
            for show in D.expiring_shows(labels, now, default_ttl):
                self._warn_once(pr.number, labels, show, pr.labels)
        for service in services:
            if service.pr is None or service.pr in labelled or service.pr in live:
                continue
            if _past(service, default_ttl, now):
                self._sweep_confirmed(service.pr, services, now)
        self._reconcile_unsearched(labelled, services, live, now)

    def _reconcile_unsearched(
        self, labelled: set[int], services: list[Service], live: set[int], now: datetime
    ) -> None:
        """Labels that say an environment runs where ECS runs none, on the PRs the bot itself
        touched lately that search does not find (SPEC §12): a PR without ⌛ — say, labels a
        paused replica wrote after losing its job — is invisible to a ``label:`` search.
        One read of each such PR, decided from its labels as they are now."""
        since = now - RECONCILE_WINDOW
        with_service = {s.pr for s in services}
        for pr in self._deps.store.prs_touched(since):
            if pr in labelled or pr in live or pr in with_service:
                continue  # search found it, a job works on it, or ECS runs something of it
            current = self._current(pr)
            if current is None or current.labels.blocked or not current.labels.has_environment:
                continue
            plan = _plan({pr: current}, [], set(), now, self._deps.policy.default_ttl)
            for item in plan.get(pr, []):
                if item.why in (Why.NO_SERVICE, Why.CLOSED, Why.EXPIRED):
                    done = self._do(item, SWEEPER)
                    log.info("sweeper: %s%s", item.what, f" ({done.error})" if done.error else "")

    def _sweep_confirmed(self, pr: int, services: list[Service], now: datetime) -> None:
        """Re-read the PR and act only on what its current labels still call for."""
        default_ttl = self._deps.policy.default_ttl
        current = self._current(pr)
        if current is not None:
            if current.labels.blocked:
                return
            if reason := D.stop_reason(pr, current.state, current.labels, now, default_ttl):
                self._stop(pr, requester=SWEEPER, reason=reason, here=False)
                return
        mine = [s for s in services if s.pr == pr]
        for item in _plan({pr: current} if current else {}, mine, set(), now, default_ttl).get(
            pr, []
        ):
            # Labels without services are cleanup's business, not the sweeper's.
            unlabelled_and_old = any(
                _past(s, default_ttl, now) for s in mine if s.name in item.names
            )
            if item.action is Action.DELETE_SERVICE and (
                current is None or item.why is Why.FAILED_DEPLOY or unlabelled_and_old
            ):
                self._delete(item)

    def _delete(self, item: Planned) -> None:
        assert item.pr is not None
        try:
            with self._jobs.holding(item.pr, SWEEPER):  # never under a running job's feet
                for name in item.names:
                    self._deps.ecs.delete_service(name)
            log.info("sweeper: %s", item.what)
        except ShowtimeError as exc:
            log.info("sweeper skipped #%s: %s", item.pr, exc)

    def _warn_once(self, pr: int, labels: L.PrLabels, show: L.Show, names: Sequence[str]) -> None:
        ttl = labels.effective_ttl(show, self._deps.policy.default_ttl)
        expiry = labels.expiry(show, self._deps.policy.default_ttl)
        key = f"warn:{pr}:{show.sha}:{expiry.isoformat() if expiry else ''}"
        if expiry is None or not self._deps.store.remember_once(key):
            return
        channel, thread = self._where(pr)
        left = format_duration(expiry - self._deps.clock.now())
        longer = next_ttl(ttl)  # None at the longest TTL: Extend adds nothing (SPEC §17)
        keep = (
            "press Extend to keep it"
            if longer
            else f"it is at the longest TTL; `/showtime ttl {pr} close` keeps it until the PR closes"
        )
        text = f"#{pr} ({show.sha}) expires in {left}; {keep}"
        if estimate := costs.estimate_of_show(self._deps, pr, labels, show):
            text += f"\n{estimate.text()}"
            if (
                longer
                and names
                and (added := costs.ttl_change(self._deps, pr, names, longer).text())
            ):
                text += f" · Extend to {longer}: {added}"
        self._jobs.notify(
            Notice(
                pr=pr,
                sha=show.sha,
                text=text,
                channel=channel,
                thread_ts=thread,
                to=self._requester_of(pr, show.sha),
                about="expiry",
                offer="extend" if longer else "none",
            )
        )

    def _requester_of(self, pr: int, sha: str) -> Requester | None:
        """Whose environment it is: its service's ``requested_by`` tag (the person the
        warning is for, and whom it is sent to directly). Asked of ECS only here, once per
        environment and expiry; not knowing it never stops the warning."""
        try:
            name = service_name(pr, sha)
            found = (s for s in self._deps.ecs.find_services(pr) if s.name == name)
            return next((s.requested_by for s in found), None)
        except ShowtimeError as exc:
            log.info("sweeper: whose #%s is could not be read: %s", pr, exc)
            return None

    def _mend_record(
        self,
        prs: Sequence[LabelledPr],
        services: Sequence[Service],
        live: set[int],
        listed_at: datetime,
    ) -> None:
        """Bring the record of when environments ran in line with ECS (best effort)."""
        deps = self._deps
        try:
            mend(
                deps.store,
                deps.ecs,
                services=services,
                labels={p.number: L.parse_labels(p.labels) for p in prs},
                live=live,
                listed_at=listed_at,
                default_ttl=deps.policy.default_ttl,
                public_ip=deps.policy.public_ip,
            )
        except Exception:
            log.warning("could not mend the record of running environments", exc_info=True)

    # ----- shared ------------------------------------------------------------------------

    def _stop(self, pr: int, *, requester: Requester, reason: str, here: bool) -> Job | None:
        """A stop job for ``pr``, run in this thread (cleanup waits for it) or on the pool."""
        request = JobRequest(
            kind=JobKind.STOP,
            requester=requester,
            pr=pr,
            params=StopParams(reason=reason),
            reporting=Reporting.in_pr_thread(self._deps.policy.notify_channel),
        )
        if here:
            return self._jobs.run_here(self._jobs.begin(request))
        answer = self._jobs.submit(request, queue=False)  # a PR whose job runs: next round
        log.info("sweeper: stop of #%s: %s", pr, type(answer).__name__, extra={"pr": pr})
        return None

    def _where(self, pr: int) -> tuple[str | None, str | None]:
        """The PR's latest thread, else SHOWTIME_NOTIFY_CHANNEL (a new message), else none."""
        where = self._deps.store.latest_thread(pr)
        return where if where else (self._deps.policy.notify_channel, None)

    def _current(self, number: int) -> inv.PrFacts | None:
        """The PR as it is now (one GET); None when GitHub has no such PR."""
        try:
            return inv.facts(self._deps.github.get_pr(number))
        except UserInputError:  # PrNotFoundError: the PR is gone, so are its labels
            return None

    def _live_prs(self) -> set[int]:
        return {j.pr for j in self._deps.store.live_jobs() if j.pr is not None}


def validate_cleanup(deps: Deps, job: Job, known: PullRequest | None = None) -> CleanupRecord:
    """A cleanup run needs nothing checked up front: what it does is planned as it runs."""
    return CleanupRecord()


def _plan(
    prs: dict[int, inv.PrFacts],
    services: Sequence[Service],
    live: set[int],
    now: datetime,
    default_ttl: str,
) -> dict[int, list[Planned]]:
    """Per PR, what is to be removed given these facts (pure)."""
    plan: dict[int, list[Planned]] = {}
    for number in set(prs) | {s.pr for s in services if s.pr is not None}:
        if number in live:
            continue  # never under a job's feet
        pr = prs.get(number)
        if pr is not None and pr.labels.blocked:
            continue
        if pr is not None and (
            reason := D.stop_reason(number, pr.state, pr.labels, now, default_ttl)
        ):
            why = Why.CLOSED if pr.state != "open" else Why.EXPIRED
            plan[number] = [Planned(Action.STOP_PR, why, number, reason)]
            continue
        mine = [s for s in services if s.pr == number]
        items = _service_items(number, pr, mine, now, default_ttl)
        if items:
            plan[number] = items
    return plan


def _service_items(
    number: int, pr: inv.PrFacts | None, services: list[Service], now: datetime, default_ttl: str
) -> list[Planned]:
    items: list[Planned] = []
    dead: list[str] = []
    for view in inv.environments([pr] if pr else [], services, default_ttl=default_ttl):
        if view.status == inv.UNLABELLED:
            if D.too_young_to_be_an_orphan(view.created, now):
                continue  # a deploy whose labels are on their way
            what = f"#{number}: delete `{view.service}`, which runs without labels"
            items.append(
                Planned(Action.DELETE_SERVICE, Why.UNLABELLED, number, what, (view.service,))
            )
        elif view.status == L.FAILED and view.ecs_status is ServiceState.ACTIVE:
            what = f"#{number}: delete `{view.service}`, left running by a failed deploy"
            items.append(
                Planned(Action.DELETE_SERVICE, Why.FAILED_DEPLOY, number, what, (view.service,))
            )
        elif (
            view.ecs_status in (None, ServiceState.INACTIVE)
            and view.status not in L.IN_PROGRESS_STATUSES
        ):
            # In-progress claims are left alone: a stale one is taken over by the next start.
            dead.append(view.sha)
    if dead and pr is not None:
        listed = ", ".join(dead)
        if len(dead) == len(pr.labels.shows):
            # Nothing of the PR runs: a stop, so its ⌛ goes too and search stops finding it.
            what = f"#{number}: labels of {listed}, which has no service — remove all its labels"
            items.append(Planned(Action.STOP_PR, Why.NO_SERVICE, number, what))
        else:
            names = L.render_labels(pr.labels)
            gone = tuple(n for sha in dead for n in L.labels_of_sha(names, sha))
            what = f"#{number}: remove {len(gone)} label(s) of {listed}, which has no service"
            items.append(Planned(Action.REMOVE_LABELS, Why.NO_SERVICE, number, what, gone))
    return items


def _failed_but_running(pr: int, labels: L.PrLabels, services: list[Service]) -> bool:
    active = {s.sha for s in services if s.pr == pr and s.status is ServiceState.ACTIVE}
    return any(show.status == L.FAILED and show.sha in active for show in labels.shows)


def _past(service: Service, default_ttl: str, now: datetime) -> bool:
    """An unlabelled service past the default TTL from its creation."""
    if service.status is not ServiceState.ACTIVE or service.created is None:
        return False
    expiry = expires_at(service.created, default_ttl)
    return expiry is not None and expiry <= now
