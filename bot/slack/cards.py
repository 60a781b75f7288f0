"""Status-message cards from what a job knows (its recorded labels), with no extra API calls.

Pure: a card is computed from the job (or the environment view the orchestrator gave),
the repository and the time. Cards carry plain text as it was written (titles, label
values, error texts); ``views.card_blocks`` quotes it when it builds the message.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from bot.domain import events as ev
from bot.domain import labels as L
from bot.domain.cost import Estimate
from bot.domain.events import format_elapsed
from bot.domain.labels import parse_labels
from bot.domain.requester import RequesterKind
from bot.domain.ttl import format_duration
from bot.orchestrator.inventory import EnvView
from bot.orchestrator.jobs import Job, JobKind, Outdated, PrRecord, StartRecord, TtlParams
from bot.orchestrator.models import PrStatus
from bot.slack.views import Card


@dataclass(frozen=True)
class Where:
    """What every card needs besides the job: whose repository, and when it is."""

    repository: str
    default_ttl: str
    now: datetime


def _card(where: Where, job: Job, **fields: Any) -> Card:
    """A card for ``job``'s PR with the common fields filled in."""
    # Only a Slack user becomes a mention; a GitHub login (a webhook's) is named.
    fields.setdefault("requester", job.requester.slack_user)
    if job.requester.kind is RequesterKind.GITHUB:
        who = f"requested by {job.requester.label_name} on GitHub"
        fields["details"] = (who, *fields.get("details", ()))
    record = job.record
    return Card(
        pr=job.pr or 0,
        repository=where.repository,
        title=record.title if isinstance(record, PrRecord) else "",
        **fields,
    )


# What a short change on a PR's environment is doing, for its status message meanwhile.
_DOING = {
    JobKind.TTL: "changing the TTL",
    JobKind.FREEZE: "freezing",
    JobKind.UNFREEZE: "unfreezing",
}


def progress_card(where: Where, job: Job) -> Card:
    record = job.record
    if job.kind is JobKind.CHECK and isinstance(record, StartRecord):
        return _card(
            where,
            job,
            state="deploying",
            sha=record.sha7 or None,
            headline=f"Checking {record.sha7} again",
            logs_url=record.logs_url or None,
        )
    if isinstance(record, StartRecord):
        headline = f"{record.mode.headline} {record.sha7}".strip()
        return _card(
            where,
            job,
            state="deploying",
            sha=record.sha7 or None,
            headline=headline,
            logs_url=record.logs_url or None,
            can_cancel=True,
        )
    if job.kind is JobKind.STOP:
        return _card(where, job, state="stopping", headline="Stopping", reason=job.params.reason)
    if job.kind is JobKind.CLEANUP:
        return cleanup_card(where, job, "Cleaning up")
    doing = _DOING.get(job.kind, f"{job.kind} in progress")
    if isinstance(job.params, TtlParams) and job.params.extend:
        doing = "extending the TTL"
    if isinstance(record, PrRecord) and parse_labels(list(record.labels)).active is not None:
        # The environment runs on while its TTL or freeze changes: the card keeps showing it.
        card = labels_card(
            where,
            job,
            list(record.labels),
            logs_url=record.logs_url or None,
            checked=record.checked,
            degraded=record.degraded,
        )
        return replace(card, headline=f"{card.headline} · {doing}")
    return _card(where, job, state="deploying", headline=doing[:1].upper() + doing[1:])


def cleanup_card(where: Where, job: Job, headline: str, *, done: bool = False) -> Card:
    """Cleanup is about no single PR: its card names none."""
    return Card(
        pr=None,
        repository=where.repository,
        state="stopped" if done else "deploying",
        headline=headline,
        requester=job.requester.slack_user,
    )


def labels_card(
    where: Where,
    job: Job,
    names: list[str],
    *,
    logs_url: str | None,
    estimate: Estimate | None = None,
    checked: str = "",
    degraded: str = "",
) -> Card:
    """The card the PR's labels describe: its active environment, or 'no environment' —
    with what its smoke check found, when the job ran one."""
    labels = parse_labels(names)
    show = labels.active
    if show is None:
        return _card(where, job, state="stopped", headline="No environment", frozen=labels.frozen)
    ttl = labels.effective_ttl(show, where.default_ttl)
    expiry = labels.expiry(show, where.default_ttl)
    # TTL close has no time left to show: the badge already says "close".
    left = format_duration(expiry - where.now) if expiry is not None else None
    state = "running" if show.status == L.RUNNING else (show.status or "unknown")
    if state in L.IN_PROGRESS_STATUSES:
        state = "deploying"
    return _card(
        where,
        job,
        state=state,
        sha=show.sha,
        url=show.url,
        headline=_headline(state, show.sha or "", degraded),
        ttl=ttl,
        time_left=left,
        frozen=labels.frozen,
        logs_url=logs_url,
        cost=estimate.text() if estimate is not None else None,
        checked=checked or None,
        degraded=degraded or None,
    )


def _headline(state: str, sha: str, degraded: str) -> str:
    if state != "running":
        return f"{state} {sha}"
    return f"Running {sha}, degraded" if degraded else f"Running {sha}"


def final_card(where: Where, job: Job, event: ev.Outcome) -> Card:
    record = job.record
    start = record if isinstance(record, StartRecord) else None
    # Every job on a PR's message knows its environment's console link (a failed deploy's
    # only when it left a log), so Logs stays whatever ran last (SPEC §17).
    logs_url = record.logs_url if isinstance(record, PrRecord) and record.logs_url else None
    if job.kind is JobKind.CLEANUP:
        return cleanup_card(
            where,
            job,
            "Cleanup failed" if isinstance(event, ev.Failed) else "Cleanup finished",
            done=True,
        )
    sha7 = start.sha7 if start and start.sha7 else None
    if isinstance(event, ev.Cancelled):
        return _card(
            where,
            job,
            state="cancelled",
            sha=sha7,
            headline="Cancelled" + (f": {sha7} was not deployed" if sha7 else ""),
            details=(f"cancelled after {format_elapsed(event.after_seconds)}",),
        )
    if isinstance(event, ev.Failed) and job.kind in _ON_A_RUNNING_ONE:
        return _change_failed_card(where, job, event, logs_url)
    if isinstance(event, ev.Failed):
        return _card(
            where,
            job,
            state="failed",
            sha=sha7,
            headline=f"{job.kind.capitalize()} failed" + (f" for {sha7}" if sha7 else ""),
            reason=event.reason,
            next_action=event.next_action or None,
            correlation_id=event.correlation_id,
            logs_url=logs_url,
        )
    if job.kind is JobKind.STOP:
        return _card(where, job, state="stopped", headline="Stopped", details=(event.text,))
    names = list(record.labels) if isinstance(record, PrRecord) else []
    return labels_card(
        where,
        job,
        names,
        logs_url=logs_url,
        estimate=event.estimate,
        # A deploy's or Check again's own finding; a later change carries the last one.
        checked=event.checked or (record.checked if isinstance(record, PrRecord) else ""),
        degraded=event.degraded or (record.degraded if isinstance(record, PrRecord) else ""),
    )


def _change_failed_card(where: Where, job: Job, event: ev.Failed, logs_url: str | None) -> Card:
    """The change (or Check again) failed, the environment did not: the message keeps what
    it offers, and says why the change failed."""
    record = job.record
    names = list(record.labels) if isinstance(record, PrRecord) else []
    # A check that cannot even log in leaves the environment up, and unusable: degraded,
    # with Check again still there.
    broken = event.reason if job.kind is JobKind.CHECK else ""
    found = record if isinstance(record, PrRecord) else PrRecord()
    card = labels_card(
        where,
        job,
        names,
        logs_url=logs_url,
        checked=found.checked,
        degraded=broken or found.degraded,
    )
    return replace(
        card,
        reason=None if broken else f"{job.kind} failed: {event.reason}",
        next_action=event.next_action or None,
        correlation_id=event.correlation_id,
    )


# Jobs that change or look at a running environment without replacing it.
_ON_A_RUNNING_ONE = (JobKind.TTL, JobKind.FREEZE, JobKind.UNFREEZE, JobKind.CHECK)


def outdated_card(where: Where, job: Job, message: Outdated) -> Card:
    """An earlier status message of the PR, once ``job`` stopped or replaced what it showed:
    "Stopped" or "Replaced by `abc1234`", with only Start again (SPEC §17)."""
    record = job.record
    headline = f"Replaced by `{message.replaced_by}`" if message.replaced_by else "Stopped"
    return Card(
        pr=job.pr or 0,
        repository=where.repository,
        title=record.title if isinstance(record, PrRecord) else "",
        state="stopped",
        sha=message.sha or None,
        headline=headline,
        details=(f"since {where.now.strftime('%Y-%m-%d %H:%M UTC')}",),
    )


def view_card(where: Where, status: PrStatus, view: EnvView) -> Card:
    """One environment in a ``status`` answer: labels and ECS side by side."""
    state = view.status
    if state in L.IN_PROGRESS_STATUSES:
        state = "deploying"
    details = []
    if view.requester:
        details.append(f"🤡 {view.requester}")
    if view.created:
        details.append(f"📅 {view.created.strftime('%Y-%m-%d %H:%M UTC')}")
    details.append(f"ECS: {view.ecs_status or 'no service'}")
    if view.active:
        details.append("🎯 active")
    left = view.time_left(where.now)
    return Card(
        pr=status.pr,
        repository=where.repository,
        title="",
        state=state if state in ("running", "failed", "deploying") else "unknown",
        sha=view.sha,
        url=view.url,
        headline=f"{view.status} {view.sha}",
        reason=f"⚠️ mismatch: {view.mismatch}" if view.mismatch else None,
        degraded=view.degraded,
        ttl=view.ttl,
        time_left=format_duration(left) if view.ttl != "close" and left is not None else None,
        frozen=status.frozen,
        logs_url=view.logs_url or None,
        details=tuple(details),
        cost=view.estimate.text() if view.estimate is not None else None,
    )
