"""Every orchestration decision, written once and pure (no I/O).

Entry points (slash command, button, sweeper, CLI) all reach these through the
orchestrator, so "is this PR blocked", "is this a redeploy or a rolling update",
"is that claim stale" have exactly one answer in the code base.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal

from bot.domain import labels as L
from bot.domain.cost import money
from bot.domain.labels import PrLabels, Show
from bot.domain.modes import DeployMode
from bot.domain.ttl import CLOSE, LONGEST, next_ttl
from bot.orchestrator.jobs import (
    Job,
    JobKind,
    JobState,
    Outdated,
    PrRecord,
    StartRecord,
    StatusMessage,
)


@dataclass(frozen=True)
class Refusal:
    """Why a request is refused; nothing was changed."""

    message: str
    next_action: str = ""
    bad_input: bool = False  # the request itself was wrong (answered with the usage line)


@dataclass(frozen=True)
class StartPlan:
    mode: DeployMode
    sha7: str
    previous_sha: str | None  # the environment a rolling update replaces
    takeover: Show | None  # a stale claim being taken over (said so in the thread)


def refuse_change(labels: PrLabels) -> Refusal | None:
    """Every change is refused on a PR carrying 🎪 🔒 showtime-blocked."""
    if labels.blocked:
        return Refusal(
            f"this PR carries `{L.BLOCKED}`, so showtime refuses every change to it",
            "a maintainer removes that label to allow environments again",
        )
    return None


def refuse_start(*, state: str, merged: bool, labels: PrLabels) -> Refusal | None:
    if blocked := refuse_change(labels):
        return blocked
    if state != "open":
        what = "merged" if merged else "closed"
        return Refusal(
            f"the PR is {what}", "environments are only for open pull requests", bad_input=True
        )
    return None


def refuse_new_environment(running_count: int, max_environments: int) -> Refusal | None:
    """A new environment (not a redeploy or rolling update) beyond the limit is refused."""
    if running_count >= max_environments:
        return Refusal(
            f"{running_count} environments already run, the limit is {max_environments} "
            "(SHOWTIME_MAX_ENVIRONMENTS)",
            "stop one with `/showtime stop <pr>` or ask an admin to raise the limit",
        )
    return None


def refuse_over_budget(
    *,
    spent: Decimal,
    committed: Decimal,
    running: int,
    held: Decimal,
    request: Decimal,
    what: str,
    budget: Decimal,
    pr: int,
    start: bool,
    ttl: str,
) -> Refusal:
    """A new environment or a longer TTL that would take this month past the budget (§13).

    The figures are this calendar month's (UTC): spent so far, what the running
    environments will cost until they expire (or the month ends), what other starts in
    progress hold, and this request.
    """
    total = spent + committed + held + request
    them = "environment until it expires" if running == 1 else "environments until they expire"
    parts = [
        f"{money(spent)} spent so far",
        f"{money(committed)} more for the {running} running {them}",
    ]
    if held > 0:
        parts.append(f"{money(held)} held by other starts in progress")
    parts.append(f"{money(request)} for {what}")
    message = (
        f"this month's estimated spend would reach {money(total)}, past the "
        f"{money(budget)} monthly budget (SHOWTIME_MONTHLY_BUDGET): " + " + ".join(parts)
    )
    if start:
        shorter = f", start it with a shorter TTL (`/showtime start {pr} ttl=24h`)"
        next_action = (
            "stop an environment nobody uses (`/showtime list` shows them)"
            + (shorter if ttl != "24h" else "")
            + ", or ask an admin to raise SHOWTIME_MONTHLY_BUDGET"
        )
    else:
        next_action = (
            "the environment keeps its current TTL; stop one nobody uses (`/showtime list` "
            "shows them) or ask an admin to raise SHOWTIME_MONTHLY_BUDGET"
        )
    return Refusal(message, next_action)


ORPHAN_MIN_AGE = timedelta(minutes=10)


def too_young_to_be_an_orphan(created: datetime | None, now: datetime) -> bool:
    """A service without labels younger than 10 minutes is a deploy whose labels are on their
    way (ours, or the CLI's, which labels after creating), never an orphan (SPEC §12)."""
    return created is None or now - created < ORPHAN_MIN_AGE


def claim_age(show: Show, now: datetime) -> timedelta | None:
    created = show.created_at
    return None if created is None else now - created


def is_stale_claim(show: Show, now: datetime, stale_after: timedelta) -> bool:
    """An in-progress claim with no live job is stale once older than ``stale_after``.

    A claim without a 📅 label has no age; it counts as stale, since nothing can
    ever make it fresh and refusing forever is how environments get stuck.
    """
    age = claim_age(show, now)
    return age is None or age >= stale_after


def in_progress_claims(labels: PrLabels) -> list[Show]:
    claims = [show for show in labels.shows if show.in_progress]
    if labels.building_sha and not any(s.sha == labels.building_sha for s in claims):
        claims.append(Show(sha=labels.building_sha, status="building"))
    return claims


def plan_start(
    labels: PrLabels, sha: str, now: datetime, stale_after: timedelta
) -> StartPlan | Refusal:
    """Decide what a start of ``sha`` means, given labels and no live job in the store."""
    sha7 = L.short_sha(sha)
    takeover: Show | None = None
    for claim in in_progress_claims(labels):
        if not is_stale_claim(claim, now, stale_after):
            age = claim_age(claim, now)
            since = f" for {int(age.total_seconds() // 60)} min" if age is not None else ""
            return Refusal(
                f"environment {claim.sha} is already being deployed ({claim.status}{since}) "
                "by another tool, such as the superset-showtime CLI",
                "wait for it to finish; a claim older than SHOWTIME_STALE_LOCK_MINUTES is "
                "taken over automatically",
            )
        takeover = takeover or claim
    active = labels.active
    if active is not None and active.sha == sha7 and active.status in (L.RUNNING, None):
        return StartPlan(DeployMode.REDEPLOY, sha7, None, takeover)
    if active is not None and active.sha != sha7 and active.status == L.RUNNING:
        return StartPlan(DeployMode.ROLLING, sha7, active.sha, takeover)
    return StartPlan(DeployMode.FRESH, sha7, None, takeover)


def claim_labels(
    labels: PrLabels,
    plan: StartPlan,
    *,
    now: datetime,
    requester: str,
    ttl: str | None,
    default_ttl: str,
    current_names: list[str],
) -> L.LabelChange:
    """Labels that claim ``plan.sha7``: 🚦 deploying + 🏗️ (+ 📅, 🤡, ⌛ when missing).

    Trigger labels are consumed. A redeploy keeps the running SHA's 📅 and 🌐.
    An explicit ``ttl`` replaces every ⌛ label so exactly one remains.
    """
    sha7 = plan.sha7
    add = [L.status_label(sha7, L.DEPLOYING), L.building_label(sha7)]
    remove: list[str] = []
    existing = labels.show(sha7)
    if plan.mode is DeployMode.REDEPLOY and existing and existing.status:
        remove.append(L.status_label(sha7, existing.status))
    elif existing is not None:
        # A stale claim or a failed attempt of the same SHA: its old per-SHA labels go.
        remove.extend(L.labels_of_sha(current_names, sha7))
        remove = [name for name in remove if name != L.active_label(sha7)]
    if plan.mode is not DeployMode.REDEPLOY or not (existing and existing.created):
        add.append(L.created_label(sha7, now))
    add.append(L.requester_label(sha7, requester))
    if ttl is not None:
        remove.extend(L.ttl_label(value) for value in labels.ttls if value != ttl)
        add.append(L.ttl_label(ttl))
    elif not labels.ttls:
        add.append(L.ttl_label(default_ttl))
    if labels.trigger_start:
        remove.append(L.TRIGGER_START)
    if labels.trigger_sync:
        remove.append(L.TRIGGER_SYNC)
    if plan.takeover and plan.takeover.sha != sha7:
        remove.extend(
            name
            for name in L.labels_of_sha(current_names, plan.takeover.sha)
            if name != L.active_label(plan.takeover.sha)
        )
    return L.change_against(current_names, add=add, remove=remove)


def running_labels(
    sha7: str,
    address: str,
    previous_active: str | None,
    current_names: list[str],
) -> L.LabelChange:
    """Claim labels go, 🚦 running + 🌐 + 🎯 come; the old 🎯 moves."""
    remove = [
        name
        for name in L.labels_of_sha(current_names, sha7)
        if f" {L.STATUS_EMOJI} " in name
        or f" {L.ADDRESS_EMOJI} " in name
        or name == L.building_label(sha7)
    ]
    if previous_active and previous_active != sha7:
        remove.append(L.active_label(previous_active))
    add = [L.status_label(sha7, L.RUNNING), L.address_label(sha7, address), L.active_label(sha7)]
    return L.change_against(current_names, add=add, remove=remove)


def failed_labels(sha7: str, current_names: list[str], *, still_running: bool) -> L.LabelChange:
    """After a failure: 🚦 failed (or back to running for a failed in-place redeploy)."""
    final = L.RUNNING if still_running else L.FAILED
    remove = [
        name
        for name in L.labels_of_sha(current_names, sha7)
        if f" {L.STATUS_EMOJI} " in name or name == L.building_label(sha7)
    ]
    return L.change_against(current_names, add=[L.status_label(sha7, final)], remove=remove)


def expired_shows(labels: PrLabels, now: datetime, default_ttl: str) -> list[Show]:
    """Environments of a PR past 📅 + ⌛ (the CLI's rule). ``close`` never expires by time."""
    return [
        show
        for show in labels.shows
        if not show.in_progress and _left(labels, show, now, default_ttl) <= timedelta(0)
    ]


def _left(labels: PrLabels, show: Show, now: datetime, default_ttl: str) -> timedelta:
    """Time until ``show`` expires; forever (``timedelta.max``) when it never expires by time."""
    expiry = labels.expiry(show, default_ttl)
    return timedelta.max if expiry is None else expiry - now


def stop_reason(
    number: int, state: str, labels: PrLabels, now: datetime, default_ttl: str
) -> str | None:
    """Why the sweeper or cleanup stops a PR's environment: closed, or past its TTL."""
    if state != "open":
        return f"#{number} is closed: stopping its environment and removing its labels"
    if expired := expired_shows(labels, now, default_ttl):
        shas = ", ".join(s.sha for s in expired)
        return f"#{number} expired ({shas}, TTL {labels.ttl or default_ttl}): stopping it"
    return None


def expiring_shows(labels: PrLabels, now: datetime, default_ttl: str) -> list[Show]:
    return [
        show
        for show in labels.shows
        if show.status == L.RUNNING
        and timedelta(0) < _left(labels, show, now, default_ttl) <= timedelta(hours=1)
    ]


def set_ttl_labels(current_names: list[str], ttl: str) -> L.LabelChange:
    """Exactly one ⌛ label remains: the new one."""
    labels = L.parse_labels(current_names)
    return L.change_against(
        current_names, add=[L.ttl_label(ttl)], remove=[L.ttl_label(v) for v in labels.ttls]
    )


def freeze_labels(current_names: list[str], *, frozen: bool) -> L.LabelChange:
    """``freeze`` adds 🧊, ``unfreeze`` removes it."""
    if frozen:
        return L.change_against(current_names, add=[L.FREEZE])
    return L.change_against(current_names, remove=[L.FREEZE])


def teardown_labels(current_names: list[str]) -> L.LabelChange:
    """``stop`` removes every showtime label of the PR (🔒 never gets this far)."""
    return L.change_against(
        current_names,
        remove=[n for n in current_names if L.is_showtime_label(n) and n != L.BLOCKED],
    )


def sha_definitions(names: tuple[str, ...] | list[str]) -> list[str]:
    """The label definitions among ``names`` that carry a SHA (deleted so they do not pile up)."""
    return [name for name in names if L.sha_of_label(name) is not None]


def labels_before_claim(current: list[str], before: list[str], sha7: str) -> L.LabelChange:
    """What a cancelled deploy does to the PR's labels: back to how its claim found them —
    except the trigger labels it consumed, which stay consumed (the request was handled)."""
    consumed = {L.TRIGGER_START, L.TRIGGER_SYNC}
    wanted = [name for name in before if name not in consumed]
    showtime_now = [name for name in current if L.is_showtime_label(name)]
    add = [name for name in wanted if name not in current and L.is_showtime_label(name)]
    remove = [name for name in showtime_now if name not in wanted]
    return L.change_against(current, add=add, remove=remove)


def stale_follow_up(
    state: str, head: str, labels: PrLabels, sha: str, needs_environment: bool
) -> str | None:
    """Why a start GitHub queued for ``sha`` is not deployed now that its turn came
    (SPEC §11): the PR moved on or closed — or, for a push's rolling update, has nothing to
    update any more or is frozen."""
    if state != "open":
        return "the PR is closed"
    if not head.startswith(sha.lower()):
        return f"the PR's head is `{head[:7]}` now"
    if labels.blocked:
        return "the PR is blocked"
    if needs_environment and labels.frozen:
        return "the PR is frozen"
    if needs_environment and not labels.has_environment:
        return "the PR has no environment any more"
    return None


# ----- nothing to do (SPEC §17): said only to the person who asked, nothing written ---------


def nothing_to_stop(
    pr: int, current_names: Sequence[str], services: Sequence[str]
) -> Refusal | None:
    """A stop with no showtime label to remove and no service of the PR in ECS (``services``,
    ECS's own list, not the labels') changes nothing."""
    if services or not teardown_labels(list(current_names)).empty:
        return None
    return Refusal(f"#{pr} has no environment; nothing to stop")


def nothing_to_freeze(pr: int, labels: PrLabels, *, frozen: bool) -> Refusal | None:
    """``freeze`` of a frozen PR, ``unfreeze`` of one that is not: nothing to change."""
    if frozen and labels.frozen:
        return Refusal(
            f"#{pr} is already frozen: new commits do not redeploy it",
            f"`/showtime unfreeze {pr}` lets them again",
        )
    if not frozen and not labels.frozen:
        return Refusal(f"#{pr} is not frozen; nothing to unfreeze")
    return None


def ttl_target(
    labels: PrLabels, *, asked: str | None, extend: bool, default_ttl: str
) -> str | None:
    """The TTL a ``ttl`` command (``asked``) or an Extend press moves the PR to; None when
    Extend has no longer step (it never sets ``close`` by itself, SPEC §17)."""
    current = labels.ttl or default_ttl  # no ⌛ label: the default applies (and is extended)
    return next_ttl(current) if extend else (asked or current)


def nothing_to_set(pr: int, labels: PrLabels, target: str | None) -> Refusal | None:
    """An Extend at the longest TTL, or a TTL the PR has already (one ⌛ label of it)."""
    if target is None and labels.ttl == CLOSE:
        return Refusal(f"#{pr} has TTL close: it runs until the PR closes; nothing to extend")
    if target is None:
        current = labels.ttl or LONGEST
        return Refusal(
            f"#{pr} is already at the longest TTL ({current}); Extend goes no further",
            f"`/showtime ttl {pr} close` keeps it until the PR closes",
        )
    if list(labels.ttls) == [target]:
        return Refusal(f"#{pr}'s TTL is already {target}; nothing to change")
    return None


# ----- old status messages (SPEC §17): none still says Running once it is not --------------

# The earlier status messages a stop or a rolling update updates, newest first: each is one
# Slack chat.update, and a PR rarely has more than one or two that show its environment.
OUTDATED_LIMIT = 5


def ends_environments(job: Job) -> bool:
    """Does ``job``, having succeeded, end an environment that an earlier status message may
    show: a stop (every SHA), or a rolling update (the SHA it replaced)?"""
    record = job.record
    if job.kind is JobKind.STOP:
        return True
    return (
        isinstance(record, StartRecord)
        and record.mode is DeployMode.ROLLING
        and bool(record.previous_sha)
    )


def shown_environment(message: StatusMessage) -> tuple[str, bool] | None:
    """The SHA a status message shows (and whether as running) — so it offers Stop — as the
    newest job on it left it; None when it shows none (stopped, cancelled, cleanup)."""
    record = message.record
    if message.kind is JobKind.START and isinstance(record, StartRecord):
        if message.state is JobState.SUCCEEDED:
            return record.sha7, True
        if message.state is JobState.FAILED and record.sha7:
            return record.sha7, False  # "failed" with Retry and Stop
        return None
    if message.kind in (JobKind.TTL, JobKind.FREEZE, JobKind.UNFREEZE) and isinstance(
        record, PrRecord
    ):
        active = L.parse_labels(list(record.labels)).active
        return (active.sha, active.status == L.RUNNING) if active is not None else None
    return None


def with_outdated(job: Job, earlier: Sequence[StatusMessage]) -> Job:
    """``job`` (a stop or rolling update that succeeded) naming the earlier status messages
    its end made untrue: after a stop, every one that shows an environment ("stopped");
    after a rolling update, every one that shows another SHA running ("replaced by …").
    Its own message is not among them (its end updates it anyway)."""
    record = job.record
    if not isinstance(record, PrRecord) or not ends_environments(job):
        return job
    replaced_by = record.sha7 if isinstance(record, StartRecord) else ""
    outdated = []
    for message in earlier:
        if (message.channel, message.ts) == (job.channel, job.thread_ts):
            continue
        shown = shown_environment(message)
        if shown is None:
            continue
        sha, running = shown
        if replaced_by and (sha == replaced_by or not running):
            continue
        outdated.append(Outdated(message.channel, message.ts, sha, replaced_by))
    return replace(job, record=replace(record, outdated=tuple(outdated[:OUTDATED_LIMIT])))
