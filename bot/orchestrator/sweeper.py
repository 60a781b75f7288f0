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
from datetime import datetime
from typing import Protocol

from bot.domain import labels as L
from bot.domain.ttl import expires_at, format_duration, next_ttl
from bot.errors import ShowtimeError, UserInputError
from bot.orchestrator import costs
from bot.orchestrator import decisions as D
from bot.orchestrator import inventory as inv
from bot.orchestrator.context import Deps
from bot.orchestrator.jobs import Job, JobKind, JobState, StopParams
from bot.orchestrator.metering import mend
from bot.orchestrator.models import CleanupAction, CleanupReport, JobRequest, Notice
from bot.orchestrator.ports import LabelledPr, Service

log = logging.getLogger(__name__)


class JobStarter(Protocol):
    """What the sweeper needs of the orchestrator: start a job, or hold a PR's lock."""

    def begin(self, request: JobRequest) -> Job: ...
    def run(self, job_id: str) -> None: ...
    def run_here(self, job_id: str) -> Job | None: ...
    def holding(self, pr: int, requester: str) -> AbstractContextManager[None]: ...
    def notify(self, notice: Notice) -> None: ...


@dataclass(frozen=True)
class Planned:
    kind: str  # "stop_pr" | "remove_labels" | "delete_service" | "delete_definitions"
    pr: int | None
    what: str
    names: tuple[str, ...] = field(default=())


class Sweeper:
    def __init__(self, deps: Deps, jobs: JobStarter) -> None:
        self._deps = deps
        self._jobs = jobs

    # ----- cleanup -------------------------------------------------------------------

    def cleanup(self, *, dry_run: bool, requester: str = "cleanup") -> CleanupReport:
        """Expired environments, orphan services, labels without a service, closed PRs,
        stray SHA label definitions. ``dry_run`` only says what it would do."""
        plan = self.plan()
        if dry_run:
            return CleanupReport(dry_run=True, actions=[CleanupAction(p.pr, p.what) for p in plan])
        return CleanupReport(dry_run=False, actions=self.execute(plan, requester))

    def execute(self, plan: list[Planned], requester: str) -> list[CleanupAction]:
        """Do what was planned; a PR whose job started since is left alone (busy)."""
        return [self._do(item, requester) for item in plan]

    def plan(self) -> list[Planned]:
        """What cleanup would do, decided per PR from the PR's own labels."""
        deps = self._deps
        now = deps.clock.now()
        default_ttl = deps.settings.showtime_default_ttl
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
            plan.append(Planned("delete_definitions", None, what, tuple(stray)))
        return plan

    def _do(self, item: Planned, requester: str) -> CleanupAction:
        deps = self._deps
        try:
            if item.kind == "stop_pr" and item.pr is not None:
                done = self._stop(item.pr, requester=requester, reason=item.what, here=True)
                if done is not None and done.state is JobState.FAILED:
                    raise ShowtimeError(done.outcome or "the stop failed")
            elif item.kind == "delete_service" and item.pr is not None:
                with self._jobs.holding(item.pr, requester):  # never under a job's feet
                    for name in item.names:
                        deps.ecs.delete_service(name)
            elif item.kind == "remove_labels" and item.pr is not None:
                # Per-SHA labels: deleting the definition takes the label off the PR too.
                with self._jobs.holding(item.pr, requester):
                    deps.github.delete_label_definitions(D.sha_definitions(list(item.names)))
            elif item.kind == "delete_definitions":
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
        default_ttl = deps.settings.showtime_default_ttl
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
                self._warn_once(pr.number, show, labels.ttl_for(show) or default_ttl, pr.labels)
        for service in services:
            if service.pr is None or service.pr in labelled or service.pr in live:
                continue
            if _past(service, default_ttl, now):
                self._sweep_confirmed(service.pr, services, now)

    def _sweep_confirmed(self, pr: int, services: list[Service], now: datetime) -> None:
        """Re-read the PR and act only on what its current labels still call for."""
        default_ttl = self._deps.settings.showtime_default_ttl
        current = self._current(pr)
        if current is not None:
            if current.labels.blocked:
                return
            if reason := D.stop_reason(pr, current.state, current.labels, now, default_ttl):
                try:
                    self._stop(pr, requester="sweeper", reason=reason, here=False)
                except ShowtimeError as exc:
                    log.info("sweeper skipped #%s: %s", pr, exc)
                return
        mine = [s for s in services if s.pr == pr]
        for item in _plan({pr: current} if current else {}, mine, set(), now, default_ttl).get(
            pr, []
        ):
            # Labels without services are cleanup's business, not the sweeper's.
            unlabelled_and_old = any(
                _past(s, default_ttl, now) for s in mine if s.name in item.names
            )
            if item.kind == "delete_service" and (
                current is None or "failed deploy" in item.what or unlabelled_and_old
            ):
                self._delete(item)

    def _delete(self, item: Planned) -> None:
        assert item.pr is not None
        try:
            with self._jobs.holding(item.pr, "sweeper"):  # never under a running job's feet
                for name in item.names:
                    self._deps.ecs.delete_service(name)
            log.info("sweeper: %s", item.what)
        except ShowtimeError as exc:
            log.info("sweeper skipped #%s: %s", item.pr, exc)

    def _warn_once(self, pr: int, show: L.Show, ttl: str, names: Sequence[str] = ()) -> None:
        created = show.created_at
        expiry = expires_at(created, ttl) if created else None
        key = f"warn:{pr}:{show.sha}:{expiry.isoformat() if expiry else ''}"
        if expiry is None or not self._deps.store.remember_once(key):
            return
        channel, thread = self._where(pr)
        left = format_duration(expiry - self._deps.clock.now())
        text = f"#{pr} ({show.sha}) expires in {left}; press Extend to keep it"
        if estimate := costs.estimate_of_show(self._deps, pr, show, ttl):
            text += f"\n{estimate.text()}"
            longer = next_ttl(ttl)
            if names and (added := costs.ttl_change(self._deps, pr, names, longer).text()):
                text += f" · Extend to {longer}: {added}"
        self._jobs.notify(Notice(pr=pr, sha=show.sha, text=text, channel=channel, thread_ts=thread))

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
                default_ttl=deps.settings.showtime_default_ttl,
                public_ip=deps.settings.ecs_assign_public_ip == "ENABLED",
            )
        except Exception:
            log.warning("could not mend the record of running environments", exc_info=True)

    # ----- shared ------------------------------------------------------------------------

    def _stop(self, pr: int, *, requester: str, reason: str, here: bool) -> Job | None:
        """A stop job for ``pr``, run in this thread (cleanup waits for it) or on the pool."""
        channel, thread = self._where(pr)
        job = self._jobs.begin(
            JobRequest(
                kind=JobKind.STOP,
                requester=requester,
                requester_name=requester,
                pr=pr,
                channel=channel,
                thread_ts=thread,
                params=StopParams(reason=reason),
            )
        )
        if here:
            return self._jobs.run_here(job.id)
        self._jobs.run(job.id)
        return None

    def _where(self, pr: int) -> tuple[str | None, str | None]:
        """The PR's latest thread, else SHOWTIME_NOTIFY_CHANNEL (a new message), else none."""
        where = self._deps.store.latest_thread(pr)
        return where if where else (self._deps.settings.showtime_notify_channel, None)

    def _current(self, number: int) -> inv.PrFacts | None:
        """The PR as it is now (one GET); None when GitHub has no such PR."""
        try:
            return inv.facts(self._deps.github.get_pr(number))
        except UserInputError:  # PrNotFoundError: the PR is gone, so are its labels
            return None

    def _live_prs(self) -> set[int]:
        return {j.pr for j in self._deps.store.live_jobs() if j.pr is not None}


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
            plan[number] = [Planned("stop_pr", number, reason)]
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
        if view.status == "unlabelled":
            if D.too_young_to_be_an_orphan(view.created, now):
                continue  # a deploy whose labels are on their way
            what = f"#{number}: delete `{view.service}`, which runs without labels"
            items.append(Planned("delete_service", number, what, (view.service,)))
        elif view.status == L.FAILED and view.ecs_status == "ACTIVE":
            what = f"#{number}: delete `{view.service}`, left running by a failed deploy"
            items.append(Planned("delete_service", number, what, (view.service,)))
        elif view.ecs_status in (None, "INACTIVE") and view.status not in L.IN_PROGRESS_STATUSES:
            # In-progress claims are left alone: a stale one is taken over by the next start.
            dead.append(view.sha)
    if dead and pr is not None:
        listed = ", ".join(dead)
        if len(dead) == len(pr.labels.shows):
            # Nothing of the PR runs: a stop, so its ⌛ goes too and search stops finding it.
            what = f"#{number}: labels of {listed}, which has no service — remove all its labels"
            items.append(Planned("stop_pr", number, what))
        else:
            names = L.render_labels(pr.labels)
            gone = tuple(n for sha in dead for n in L.labels_of_sha(names, sha))
            what = f"#{number}: remove {len(gone)} label(s) of {listed}, which has no service"
            items.append(Planned("remove_labels", number, what, gone))
    return items


def _failed_but_running(pr: int, labels: L.PrLabels, services: list[Service]) -> bool:
    active = {s.sha for s in services if s.pr == pr and s.status == "ACTIVE"}
    return any(show.status == L.FAILED and show.sha in active for show in labels.shows)


def _past(service: Service, default_ttl: str, now: datetime) -> bool:
    """An unlabelled service past the default TTL from its creation."""
    if service.status != "ACTIVE" or service.created is None:
        return False
    expiry = expires_at(service.created, default_ttl)
    return expiry is not None and expiry <= now
