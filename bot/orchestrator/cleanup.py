"""Cleanup and the TTL sweeper: finding what should not be there, and removing it.

Both look through labels (one search per 100 PRs) *and* ECS (services tagged
``showtime_managed``), because the CLI leaks running services when its 🎯 label
goes missing: ECS is the truth for what runs. Stopping goes through the same
stop job as ``/showtime stop``, so a sweep and a person never race on a PR.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from bot.adapters.store import Job
from bot.domain import events as ev
from bot.domain import labels as L
from bot.domain.labels import parse_labels
from bot.domain.ttl import expires_at, format_duration
from bot.errors import ShowtimeError, UserInputError
from bot.orchestrator import decisions as D
from bot.orchestrator import inventory as inv
from bot.orchestrator.models import KIND_STOP, CleanupAction, JobRequest
from bot.orchestrator.ports import LabelledPr, PullRequest

if TYPE_CHECKING:
    from bot.orchestrator.service import Orchestrator

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Planned:
    kind: str  # "stop_pr" | "remove_labels" | "delete_service" | "delete_definitions"
    pr: int | None
    what: str
    names: tuple[str, ...] = field(default=())


def plan_cleanup(orch: Orchestrator) -> list[Planned]:
    """What cleanup would do, decided per PR from the PR's own labels.

    Search (one request per 100 PRs) and ECS find the candidates; but search lags label
    writes, so every PR with something to delete is read once more (one GET) and the
    decision is made again from what it carries now. A PR search does not show is read
    the same way before its service is called an orphan.
    """
    now = orch.now()
    default_ttl = orch.settings.showtime_default_ttl
    found = {p.number: p for p in orch.github.find_labelled_prs()}
    services = [inv.to_facts(s) for s in orch.ecs.find_services()]
    live = {j.pr for j in orch.store.live_jobs() if j.pr is not None}
    facts = {number: _facts(p) for number, p in found.items()}
    suspects = {
        pr for pr, planned in _plan_from(facts, services, live, now, default_ttl).items() if planned
    }
    plan: list[Planned] = []
    for number in sorted(suspects):
        current = _current_facts(orch, number)
        plan.extend(
            _plan_from({number: current} if current else {}, services, live, now, default_ttl).get(
                number, []
            )
        )
    attached = {name for p in found.values() for name in p.labels}
    stray = [name for name in orch.github.sha_label_definitions() if name not in attached]
    if stray:
        stray_set = set(stray) - orch.github.attached_labels(stray)
        stray = sorted(stray_set)
    if stray:
        shown = ", ".join(f"`{n}`" for n in stray[:5]) + (" …" if len(stray) > 5 else "")
        plan.append(
            Planned(
                "delete_definitions",
                None,
                f"delete {len(stray)} unattached SHA label definition(s): {shown}",
                tuple(stray),
            )
        )
    return plan


def _facts(pr: LabelledPr | PullRequest) -> inv.PrFacts:
    return inv.PrFacts(pr.number, pr.state, pr.title, pr.html_url, parse_labels(pr.labels))


def _current_facts(orch: Orchestrator, number: int) -> inv.PrFacts | None:
    """The PR as it is now (one GET); None when GitHub has no such PR."""
    try:
        return _facts(orch.github.get_pr(number))
    except UserInputError:  # PrNotFoundError: the PR is gone, so are its labels
        return None


def _plan_from(
    prs: dict[int, inv.PrFacts],
    services: list[inv.ServiceFacts],
    live: set[int],
    now: datetime,
    default_ttl: str,
) -> dict[int, list[Planned]]:
    """Per PR, what is to be removed given these facts (pure)."""
    plan: dict[int, list[Planned]] = {}
    numbers = set(prs) | {s.pr for s in services if s.pr is not None}
    for number in numbers:
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
        views = inv.environments([pr] if pr else [], mine, default_ttl=default_ttl)
        items: list[Planned] = []
        dead: list[str] = []
        for view in views:
            if view.status == "unlabelled":
                if D.too_young_to_be_an_orphan(view.created, now):
                    continue  # a deploy whose labels are on their way
                items.append(
                    Planned(
                        "delete_service",
                        number,
                        f"#{number}: delete `{view.service}`, which runs without labels",
                        (view.service,),
                    )
                )
            elif view.status == L.FAILED and view.ecs_status == "ACTIVE":
                items.append(
                    Planned(
                        "delete_service",
                        number,
                        f"#{number}: delete `{view.service}`, left running by a failed deploy",
                        (view.service,),
                    )
                )
            elif (
                view.ecs_status in (None, "INACTIVE") and view.status not in L.IN_PROGRESS_STATUSES
            ):
                # In-progress claims are left alone: a stale one is taken over by the next start.
                dead.append(view.sha)
        if dead and pr is not None:
            listed = ", ".join(dead)
            if len(dead) == len(pr.labels.shows):
                # Nothing of the PR runs: a stop, so its ⌛ goes too and search stops finding it.
                what = (
                    f"#{number}: labels of {listed}, which has no service — remove all its labels"
                )
                items.append(Planned("stop_pr", number, what))
            else:
                names = L.render_labels(pr.labels)
                gone = tuple(n for sha in dead for n in L.labels_of_sha(names, sha))
                what = f"#{number}: remove {len(gone)} label(s) of {listed}, which has no service"
                items.append(Planned("remove_labels", number, what, gone))
        if items:
            plan[number] = items
    return plan


def run_cleanup(orch: Orchestrator, plan: list[Planned], parent: Job | None) -> list[CleanupAction]:
    actions: list[CleanupAction] = []
    for item in plan:
        try:
            if item.kind == "stop_pr" and item.pr is not None:
                _stop(
                    orch,
                    item.pr,
                    requester=parent.requester if parent else "cleanup",
                    reason=item.what,
                    wait=True,
                )
            elif item.kind == "delete_service" and item.pr is not None:
                with orch.holding(item.pr, "cleanup"):  # never under a running job's feet
                    for name in item.names:
                        orch.ecs.delete_service(name)
            elif item.kind == "remove_labels" and item.pr is not None:
                # Per-SHA labels: deleting the definition takes the label off the PR too.
                with orch.holding(item.pr, "cleanup"):
                    orch.github.delete_label_definitions(D.sha_definitions(list(item.names)))
            elif item.kind == "delete_definitions":
                orch.github.delete_label_definitions(list(item.names))
            actions.append(CleanupAction(item.pr, item.what, done=True))
        except ShowtimeError as exc:
            actions.append(CleanupAction(item.pr, item.what, error=str(exc)))
    return actions


def _where(orch: Orchestrator, pr: int) -> tuple[str | None, str | None]:
    """The PR's latest thread, else SHOWTIME_NOTIFY_CHANNEL (a new message there), else none."""
    where = orch.store.latest_thread(pr)
    return where if where else (orch.settings.showtime_notify_channel, None)


def _stop(orch: Orchestrator, pr: int, *, requester: str, reason: str, wait: bool) -> Job:
    channel, thread = _where(orch, pr)
    job = orch.begin(
        JobRequest(
            kind=KIND_STOP,
            requester=requester,
            requester_name=requester,
            pr=pr,
            channel=channel,
            thread_ts=thread,
            extra={"reason": reason},
        )
    )
    orch.emit(job, ev.Warning(f"{reason}"))
    orch.run(job.id)
    if wait:
        done = orch.wait(job.id, timeout=None)
        if done is not None and done.outcome and done.state.value == "failed":
            raise ShowtimeError(done.outcome)
    return job


def sweep(orch: Orchestrator) -> None:
    """Stop expired environments and those of closed PRs; warn once within the last hour;
    delete services left running by failed deploys and unlabelled ones past the default TTL.

    Whatever is to be stopped or deleted is confirmed from the PR's current labels first
    (search lags label writes, and may be incomplete).
    """
    now = orch.now()
    default_ttl = orch.settings.showtime_default_ttl
    prs = list(orch.github.find_labelled_prs())
    services = [inv.to_facts(s) for s in orch.ecs.find_services()]
    live = {j.pr for j in orch.store.live_jobs() if j.pr is not None}
    labelled = {p.number for p in prs}
    for pr in prs:
        labels = parse_labels(pr.labels)
        if labels.blocked or not labels.has_environment or pr.number in live:
            continue
        if D.stop_reason(pr.number, pr.state, labels, now, default_ttl) or _failed_but_running(
            pr.number, labels, services
        ):
            _sweep_confirmed(orch, pr.number, services, now)
            continue
        for show in D.expiring_shows(labels, now, default_ttl):
            _warn_once(orch, pr.number, show, labels.ttl_for(show) or default_ttl)
    for service in services:
        if service.pr is None or service.pr in labelled or service.status != "ACTIVE":
            continue
        created = service.created
        expiry = expires_at(created, default_ttl) if created else None
        if expiry is not None and expiry <= now and service.pr not in live:
            _sweep_confirmed(orch, service.pr, services, now)


def _failed_but_running(pr: int, labels: L.PrLabels, services: list[inv.ServiceFacts]) -> bool:
    active = {s.sha for s in services if s.pr == pr and s.status == "ACTIVE"}
    return any(show.status == L.FAILED and show.sha in active for show in labels.shows)


def _sweep_confirmed(
    orch: Orchestrator, pr: int, services: list[inv.ServiceFacts], now: datetime
) -> None:
    """Re-read the PR and act only on what its current labels still call for."""
    default_ttl = orch.settings.showtime_default_ttl
    current = _current_facts(orch, pr)
    if current is not None:
        if current.labels.blocked:
            return
        if reason := D.stop_reason(pr, current.state, current.labels, now, default_ttl):
            _sweep_stop(orch, pr, reason)
            return
    for item in _plan_from({pr: current} if current else {}, services, set(), now, default_ttl).get(
        pr, []
    ):
        if item.kind != "delete_service":
            continue  # labels without services are cleanup's business, not the sweeper's
        if (
            current is None
            or "failed deploy" in item.what
            or _past_default_ttl(item, services, now, default_ttl)
        ):
            _delete_services(orch, item)


def _past_default_ttl(
    item: Planned, services: list[inv.ServiceFacts], now: datetime, default_ttl: str
) -> bool:
    for service in services:
        if service.name in item.names and service.created is not None:
            expiry = expires_at(service.created, default_ttl)
            if expiry is not None and expiry <= now:
                return True
    return False


def _delete_services(orch: Orchestrator, item: Planned) -> None:
    assert item.pr is not None
    try:
        with orch.holding(item.pr, "sweeper"):  # never under a running job's feet
            for name in item.names:
                orch.ecs.delete_service(name)
        log.info("sweeper: %s", item.what)
    except ShowtimeError as exc:
        log.info("sweeper skipped #%s: %s", item.pr, exc)


def _sweep_stop(orch: Orchestrator, pr: int, reason: str) -> None:
    try:
        _stop(orch, pr, requester="sweeper", reason=reason, wait=False)
    except ShowtimeError as exc:
        log.info("sweeper skipped #%s: %s", pr, exc)


def _warn_once(orch: Orchestrator, pr: int, show: L.Show, ttl: str) -> None:
    created = show.created_at
    expiry = expires_at(created, ttl) if created else None
    if expiry is None or not orch.store.remember_once(f"warn:{pr}:{show.sha}:{expiry.isoformat()}"):
        return
    channel, thread = _where(orch, pr)
    left = format_duration(expiry - orch.now())
    orch.emit(
        orch.notice(pr, show.sha, channel, thread),
        ev.ExpiryWarning(
            pr=pr,
            sha=show.sha,
            text=f"#{pr} ({show.sha}) expires in {left}; press Extend to keep it",
        ),
    )
