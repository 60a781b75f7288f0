"""Cleanup and the TTL sweeper: finding what should not be there, and removing it.

Both look through labels (one search per 100 PRs) *and* ECS (services tagged
``showtime_managed``), because the CLI leaks running services when its 🎯 label
goes missing: ECS is the truth for what runs. Stopping goes through the same
stop job as ``/showtime stop``, so a sweep and a person never race on a PR.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.adapters.store import Job
from bot.domain import events as ev
from bot.domain import labels as L
from bot.domain.labels import parse_labels
from bot.domain.ttl import expires_at, format_duration
from bot.errors import ShowtimeError
from bot.orchestrator import decisions as D
from bot.orchestrator import inventory as inv
from bot.orchestrator.models import KIND_STOP, CleanupAction, JobRequest

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
    now = orch.now()
    default_ttl = orch.settings.showtime_default_ttl
    prs = list(orch.github.find_labelled_prs())
    services = list(orch.ecs.find_services())
    live = {j.pr for j in orch.store.live_jobs() if j.pr is not None}
    plan: list[Planned] = []
    stopping: set[int] = set()
    facts = [
        inv.PrFacts(p.number, p.state, p.title, p.html_url, parse_labels(p.labels)) for p in prs
    ]
    for pr in facts:
        labels = pr.labels
        if labels.blocked or pr.number in live:
            continue
        if reason := D.stop_reason(pr.number, pr.state, labels, now, default_ttl):
            plan.append(Planned("stop_pr", pr.number, reason))
            stopping.add(pr.number)
    views = inv.environments(
        facts,
        [inv.to_facts(s) for s in services],
        default_ttl=default_ttl,
        live_job_prs={pr: "" for pr in live},
    )
    names_by_pr = {p.number: list(p.labels) for p in prs}
    shows_by_pr = {p.number: len(p.labels.shows) for p in facts}
    dead: dict[int, list[str]] = {}
    for view in views:
        if view.pr in stopping or view.pr in live:
            continue
        if view.status == "unlabelled":
            plan.append(
                Planned(
                    "delete_service",
                    view.pr,
                    f"#{view.pr}: delete `{view.service}`, which runs without labels",
                    (view.service,),
                )
            )
        elif view.ecs_status in (None, "INACTIVE") and view.status not in L.IN_PROGRESS_STATUSES:
            # In-progress claims are left alone: a stale one is taken over by the next start.
            dead.setdefault(view.pr, []).append(view.sha)
    for number, dead_shas in dead.items():
        listed = ", ".join(dead_shas)
        if len(dead_shas) == shows_by_pr.get(number):
            # Nothing of the PR runs: a stop, so its ⌛ goes too and search stops finding it.
            what = f"#{number}: labels of {listed}, which has no service — remove all its labels"
            plan.append(Planned("stop_pr", number, what))
            continue
        names = names_by_pr.get(number, [])
        gone = tuple(n for sha in dead_shas for n in L.labels_of_sha(names, sha))
        what = f"#{number}: remove {len(gone)} label(s) of {listed}, which has no service"
        plan.append(Planned("remove_labels", number, what, gone))
    attached = {name for p in prs for name in p.labels}
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
    """Stop expired environments and those of closed PRs; warn once within the last hour."""
    now = orch.now()
    default_ttl = orch.settings.showtime_default_ttl
    prs = list(orch.github.find_labelled_prs())
    services = list(orch.ecs.find_services())
    labelled = {p.number for p in prs}
    for pr in prs:
        labels = parse_labels(pr.labels)
        if labels.blocked or not labels.has_environment:
            continue
        if reason := D.stop_reason(pr.number, pr.state, labels, now, default_ttl):
            _sweep_stop(orch, pr.number, reason)
            continue
        for show in D.expiring_shows(labels, now, default_ttl):
            _warn_once(orch, pr.number, show, labels.ttl_for(show) or default_ttl)
    for service in services:
        if service.pr is None or service.pr in labelled or service.status != "ACTIVE":
            continue
        created = service.created
        expiry = expires_at(created, default_ttl) if created else None
        if expiry is not None and expiry <= now:
            _sweep_stop(
                orch,
                service.pr,
                f"#{service.pr}: `{service.name}` runs without labels past the default TTL: stopping it",
            )


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
