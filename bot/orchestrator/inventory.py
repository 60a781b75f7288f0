"""What environments exist: labels and ECS, merged, with every disagreement named.

ECS is the truth for what runs; labels are the shared, visible state. Status and
list show both, and a disagreement (labels say running, ECS has nothing; a
service runs that no label mentions) is shown as a mismatch, never hidden.
Pure: callers fetch labels and services, this module only compares them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain import labels as L
from bot.domain.cost import Estimate
from bot.domain.labels import PrLabels
from bot.domain.naming import service_name
from bot.domain.requester import Requester
from bot.orchestrator.ports import LabelledPr, PrState, PullRequest, Service, ServiceState

UNLABELLED = "unlabelled"  # the status of an ECS service no label mentions


@dataclass(frozen=True)
class PrFacts:
    number: int
    state: PrState
    title: str
    html_url: str
    labels: PrLabels


@dataclass(frozen=True)
class EnvView:
    pr: int
    sha: str
    status: str  # label status, or UNLABELLED for an ECS service no label mentions
    active: bool
    url: str | None
    requester: str | None
    created: datetime | None
    ttl: str | None
    expires: datetime | None
    service: str
    ecs_status: ServiceState | None  # None: ECS has no such service
    mismatch: str | None
    pr_state: str = "open"
    pr_url: str = ""
    logs_url: str = ""  # where people with console access read its logs
    requester_id: Requester | None = None  # the service's requested_by tag
    title: str = ""  # the PR's title (its author's words)
    estimate: Estimate | None = None  # what it costs, when ECS runs it (queries fill it in)
    degraded: str | None = None  # up, but its smoke check keeps failing: which, and how

    def time_left(self, now: datetime) -> timedelta | None:
        return None if self.expires is None else self.expires - now


def facts(pr: LabelledPr | PullRequest) -> PrFacts:
    """What inventory needs of a PR, its labels read."""
    return PrFacts(pr.number, pr.state, pr.title, pr.html_url, L.parse_labels(pr.labels))


def environments(
    prs: Iterable[PrFacts],
    services: Iterable[Service],
    *,
    default_ttl: str,
    live_job_prs: Mapping[int, str] | None = None,
) -> list[EnvView]:
    """One ``EnvView`` per environment found through labels or ECS, sorted by PR and SHA."""
    live = live_job_prs or {}
    by_name: dict[str, Service] = {}
    for service in services:
        by_name[service.name] = service
    views: list[EnvView] = []
    seen: set[str] = set()
    pr_by_number: dict[int, PrFacts] = {}
    for pr in prs:
        pr_by_number[pr.number] = pr
        for show in pr.labels.shows:
            name = service_name(pr.number, show.sha)
            seen.add(name)
            views.append(
                _labelled_view(pr, show, by_name.get(name), default_ttl, pr.number in live)
            )
    for name, service in by_name.items():
        if name in seen or service.status is not ServiceState.ACTIVE or service.pr is None:
            continue
        pr_facts = pr_by_number.get(service.pr)
        views.append(
            EnvView(
                pr=service.pr,
                sha=(service.sha or "?")[:7],
                status=UNLABELLED,
                active=False,
                url=None,
                requester=service.requested_by.label_name if service.requested_by else None,
                created=service.created,
                ttl=pr_facts.labels.ttl if pr_facts else None,
                expires=None,
                service=name,
                ecs_status=service.status,
                mismatch="service runs in ECS but no label mentions it (orphan)",
                pr_state=pr_facts.state if pr_facts else "unknown",
                pr_url=pr_facts.html_url if pr_facts else "",
                requester_id=service.requested_by,
                title=pr_facts.title if pr_facts else "",
            )
        )
    return sorted(views, key=lambda v: (v.pr, v.sha))


def _labelled_view(
    pr: PrFacts, show: L.Show, service: Service | None, default_ttl: str, has_live_job: bool
) -> EnvView:
    labels = pr.labels
    ttl = labels.effective_ttl(show, default_ttl)
    created = show.created_at
    ecs_status = service.status if service else None
    return EnvView(
        pr=pr.number,
        sha=show.sha,
        status=show.status or "unknown",
        active=labels.active is not None and labels.active.sha == show.sha,
        url=show.url,
        requester=show.requester,
        created=created,
        ttl=ttl,
        expires=labels.expiry(show, default_ttl),
        service=service_name(pr.number, show.sha),
        ecs_status=ecs_status,
        mismatch=_mismatch(show, ecs_status, pr.state, has_live_job),
        pr_state=pr.state,
        pr_url=pr.html_url,
        requester_id=service.requested_by if service else None,
        title=pr.title,
    )


def _mismatch(
    show: L.Show, ecs_status: str | None, pr_state: str, has_live_job: bool
) -> str | None:
    if show.status == L.RUNNING and ecs_status is not ServiceState.ACTIVE:
        found = f"the service is {ecs_status}" if ecs_status else "ECS has no such service"
        return f"labels say running, but {found}"
    if show.in_progress and not has_live_job:
        return (
            f"labels say {show.status}, but no job of this bot is running (CLI, or a stale claim)"
        )
    if show.status == L.FAILED and ecs_status is ServiceState.ACTIVE:
        return "labels say failed, but the service is still ACTIVE in ECS"
    if pr_state != PrState.OPEN and ecs_status is ServiceState.ACTIVE:
        return "the PR is closed, but its environment still runs"
    return None
