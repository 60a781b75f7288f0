"""Status-message cards from what a job knows (its recorded labels), with no extra API calls.

Cards carry plain text as it was written (titles, label values, error texts);
``views.card_blocks`` quotes it when it builds the message.
"""

from __future__ import annotations

from typing import Any

from bot.adapters.store import Job
from bot.domain import events as ev
from bot.domain import labels as L
from bot.domain.labels import parse_labels
from bot.domain.naming import service_name
from bot.domain.ttl import format_duration, time_left
from bot.orchestrator.inventory import EnvView
from bot.orchestrator.models import KIND_CLEANUP, KIND_START, KIND_STOP, PrStatus
from bot.orchestrator.service import Orchestrator
from bot.slack.text import slack_user_id
from bot.slack.views import Card

_MODE_WORDS = {"fresh": "Deploying", "redeploy": "Redeploying", "rolling": "Rolling update to"}


def _card(orch: Orchestrator, job: Job, **fields: Any) -> Card:
    """A card for ``job``'s PR with the common fields filled in."""
    # Only a Slack user id becomes a mention; sweeper, webhook and CLI requesters do not.
    fields.setdefault("requester", slack_user_id(job.requester))
    return Card(
        pr=job.pr or 0,
        repository=orch.settings.github_repository,
        title=str(job.data.get("title") or ""),
        **fields,
    )


def progress_card(orch: Orchestrator, job: Job) -> Card:
    sha7 = job.data.get("sha7")
    if job.kind == KIND_START:
        headline = (
            f"{_MODE_WORDS.get(job.data.get('mode', 'fresh'), 'Deploying')} {sha7 or ''}".strip()
        )
        logs = orch.logs.console_url(service_name(job.pr or 0, sha7)) if sha7 else None
        return _card(orch, job, state="deploying", sha=sha7, headline=headline, logs_url=logs)
    if job.kind == KIND_STOP:
        reason = job.params.get("reason")
        return _card(orch, job, state="stopping", headline="Stopping", reason=reason)
    if job.kind == KIND_CLEANUP:
        return _card(orch, job, state="deploying", headline="Cleaning up")
    return _card(orch, job, state="deploying", headline=f"{job.kind} in progress")


def labels_card(orch: Orchestrator, job: Job, names: list[str]) -> Card:
    """The card the PR's labels describe: its active environment, or 'no environment'."""
    labels = parse_labels(names)
    show = labels.active
    if show is None:
        return _card(orch, job, state="stopped", headline="No environment", frozen=labels.frozen)
    ttl = labels.ttl_for(show) or orch.settings.showtime_default_ttl
    created = show.created_at
    left = format_duration(time_left(created, ttl, orch.now())) if created else None
    state = "running" if show.status == L.RUNNING else (show.status or "unknown")
    if state in L.IN_PROGRESS_STATUSES:
        state = "deploying"
    return _card(
        orch,
        job,
        state=state,
        sha=show.sha,
        url=show.url,
        headline=f"Running {show.sha}" if state == "running" else f"{show.status} {show.sha}",
        ttl=ttl,
        time_left=left,
        frozen=labels.frozen,
        logs_url=orch.logs.console_url(service_name(job.pr or 0, show.sha)),
    )


def final_card(orch: Orchestrator, job: Job, event: ev.Succeeded | ev.Failed) -> Card | None:
    names = list(job.data.get("labels") or [])
    if job.kind == KIND_CLEANUP:
        return None
    if isinstance(event, ev.Failed):
        sha7 = job.data.get("sha7") if job.kind == KIND_START else None
        return _card(
            orch,
            job,
            state="failed",
            sha=sha7,
            headline=f"{job.kind.capitalize()} failed" + (f" for {sha7}" if sha7 else ""),
            reason=event.reason,
            next_action=event.next_action or None,
            correlation_id=event.correlation_id,
            logs_url=orch.logs.console_url(service_name(job.pr or 0, sha7)) if sha7 else None,
        )
    if job.kind == KIND_STOP:
        return _card(orch, job, state="stopped", headline="Stopped", details=(event.text,))
    return labels_card(orch, job, names)


def view_card(orch: Orchestrator, status: PrStatus, view: EnvView) -> Card:
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
    left = view.time_left(orch.now())
    return Card(
        pr=status.pr,
        repository=orch.settings.github_repository,
        title="",
        state=state if state in ("running", "failed", "deploying") else "unknown",
        sha=view.sha,
        url=view.url,
        headline=f"{view.status} {view.sha}",
        reason=f"⚠️ mismatch: {view.mismatch}" if view.mismatch else None,
        ttl=view.ttl,
        time_left=format_duration(left) if view.ttl != "close" else None,
        frozen=status.frozen,
        logs_url=orch.logs.console_url(view.service),
        details=tuple(details),
    )
