"""Work that comes from GitHub (SPEC §11): trigger labels, pushes, closes.

A delivery is a claim about the past. Deliveries arrive late, out of order, twice under
different ids, or after a person already acted in Slack, so a delivery is only a hint: the
PR is read as it is now (state, head, labels — one request, which validation then reuses)
and that decides. A push acts only while its head is the PR's head and an environment
runs; a trigger label only while it is on the PR; a close only while the PR is closed.

Who may act: the sender needs ``admin``, ``maintain`` or ``write`` on the repository
(looked up at most every 5 minutes per login). Unknown is not no: a look-up that fails is
retried with backoff for up to 10 minutes, and giving up tells the PR's thread what to do —
nobody is told in public they lack access because GitHub hiccuped. A delivery counts as
handled (and its repeats are ignored) only once acted on, so a redelivery after a failure
works.

What follows is the same job Slack starts, through ``Jobs.submit``: a push or a trigger while
the PR's job runs becomes the PR's queued job, pinned to the pushed head, deployed only if
it is still the head when its turn comes (``head_only``) — so no head nobody allowed is ever
deployed, and a later push by someone not allowed drops it.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass
from datetime import timedelta

from bot.domain import labels as L
from bot.domain.requester import Requester
from bot.errors import ShowtimeError
from bot.orchestrator.context import Deps
from bot.orchestrator.jobs import JobKind, StartParams, StopParams, pr_lock
from bot.orchestrator.models import (
    Answer,
    Duplicate,
    JobRequest,
    Queued,
    Refused,
    Reporting,
    Started,
    Submitter,
)
from bot.orchestrator.ports import PrState, PullRequest

log = logging.getLogger(__name__)

ALLOWED_ROLES = frozenset({"admin", "maintain", "write"})
PERMISSION_FRESH_SECONDS = 300.0  # SPEC §11: cached at most 5 minutes
PERMISSION_RETRY_SECONDS = 600.0  # SPEC §11: a look-up that fails is retried this long
FIRST_RETRY_SECONDS = 5.0  # then twice as long each time, at most a minute apart
DELIVERIES_KEPT = timedelta(days=7)  # SPEC §11: records of handled deliveries


@dataclass(frozen=True)
class PullRequestEvent:
    """One ``pull_request`` delivery, as far as showtime cares: what it claims."""

    delivery: str  # X-GitHub-Delivery: a redelivery carries the same GUID
    body_sha: str  # SHA-256 of the raw body: the same body re-sent under a new GUID
    action: str  # "labeled", "synchronize", "closed", …
    sender: str
    number: int
    head_sha: str  # the head the delivery saw (a push's new head)
    label: str | None = None  # labeled: the label added

    @property
    def pr(self) -> int:
        return self.number


class PermissionUnknown(ShowtimeError):
    """GitHub could not say what someone may do on the repository (it was asked for 10 min)."""


class _AskAgain(Exception):
    """GitHub did not say at once what ``login`` may do: ask again outside the PR's lock."""

    def __init__(self, login: str) -> None:
        super().__init__(login)
        self.login = login


def body_sha(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def delivery_keys(delivery: str, body: str = "") -> list[str]:
    """What the job store remembers of a handled delivery: its GUID and its body's SHA-256
    (the GUID is an unsigned header; the same signed body under a new GUID is a replay)."""
    keys = [f"delivery:{delivery}"]
    return [*keys, f"delivery-body:{body}"] if body else keys


class GitHubEvents:
    def __init__(self, deps: Deps, jobs: Submitter) -> None:
        self._deps = deps
        self._jobs = jobs
        self._lock = threading.Lock()
        self._roles: dict[str, tuple[float, str]] = {}
        self._pr_locks: dict[int, threading.Lock] = {}

    def know_own_login(self) -> None:
        """Look up the bot's own GitHub identity ahead of the first delivery (one read per
        process, like Slack's auth.test), so no delivery pays for it; on failure the first
        delivery looks again."""
        try:
            self._deps.github.own_login()
        except ShowtimeError as exc:
            log.warning("could not read the bot's GitHub identity yet: %s", exc)

    def handle(self, event: PullRequestEvent) -> str:
        """Act on one delivery; returns what was done (for the log and tests).

        Recorded as handled once acted on, so a repeat finds it — and a delivery whose
        handling failed is not, so GitHub's redelivery works."""
        keys = delivery_keys(event.delivery, event.body_sha)
        if self._deps.store.remembered(keys):
            self._deps.store.remember(keys)  # its own GUID too: a repeat of the repeat
            return "a repeat of a handled delivery: nothing"
        if event.sender.casefold() == self._deps.github.own_login().casefold():
            done = "sent by the bot itself: ignored"
        else:
            try:
                done = self._in_order(event)
            except PermissionUnknown as exc:
                self._gave_up(event, exc)
                return f"gave up: {exc.message}"
        self._deps.store.remember(keys)
        return done

    def _in_order(self, event: PullRequestEvent) -> str:
        """Decide one delivery on the PR as it is now, one delivery of a PR at a time: a push
        read before another is never queued after it (its older head would replace the newer
        one, then be dropped as stale — and the newest push never deployed). A permission
        GitHub cannot tell at once is asked again outside the PR's lock (for up to 10
        minutes, without holding up the PR's other deliveries); then the delivery is
        decided afresh, on a new read of the PR."""
        while True:
            with self._lock:
                one_at_a_time = self._pr_locks.setdefault(event.pr, threading.Lock())
            with one_at_a_time:
                try:
                    return self._act(event, self._deps.github.get_pr(event.pr))
                except _AskAgain as unknown:
                    login = unknown.login
            self._learn_permission(login)

    def prune(self) -> None:
        """Forget handled deliveries older than a week (they cannot come back after that)."""
        before = self._deps.clock.now() - DELIVERIES_KEPT
        try:
            gone = self._deps.store.forget_remembered("delivery", before)
            if gone:
                log.info("forgot %d handled deliveries older than a week", gone)
        except ShowtimeError:
            log.warning("could not prune handled deliveries", exc_info=True)

    # ----- the events, decided on the PR as it is now ------------------------------------------

    def _act(self, event: PullRequestEvent, now: PullRequest) -> str:
        labels = L.parse_labels(now.labels)
        if event.action == "labeled" and event.label in (L.TRIGGER_START, L.TRIGGER_STOP):
            if event.label not in now.labels:
                return "the trigger label is gone from the PR: nothing"
            kind = JobKind.START if event.label == L.TRIGGER_START else JobKind.STOP
            return self._trigger(event, now, kind)
        if event.action == "synchronize":
            return self._pushed(event, now, labels)
        if event.action == "closed":
            if now.state is not PrState.CLOSED:
                return "the PR is open again: nothing"
            live = self._deps.store.live_job(pr_lock(event.pr))
            if not labels.has_environment and live is None:
                return "no environment: nothing"  # an unlabelled service is the sweeper's
            reason = f"PR {'merged' if now.merged else 'closed'}"
            return self._submit(event, now, JobKind.STOP, reason)
        return f"{event.action}: nothing to do"

    def _trigger(self, event: PullRequestEvent, now: PullRequest, kind: JobKind) -> str:
        if not self._allowed(event.sender):
            self._refuse_label(event, now)
            return f"{event.sender} may not trigger: label removed"
        return self._submit(event, now, kind, f"{event.label} added by @{event.sender}")

    def _pushed(self, event: PullRequestEvent, now: PullRequest, labels: L.PrLabels) -> str:
        sha7 = event.head_sha[:7]
        if now.head_sha != event.head_sha:
            return f"`{sha7}` is no longer the PR's head (`{now.head_sha[:7]}` is): nothing"
        if now.state is not PrState.OPEN or labels.blocked:
            return "closed or blocked: nothing"
        live = self._deps.store.live_job(pr_lock(event.pr))
        if not labels.has_environment and live is None:
            return "no environment: nothing"
        if why_not := self._why_not_redeploy(labels, event.sender):
            text = f"new commit `{sha7}` by @{event.sender} — {why_not}"
            queued = self._deps.store.queued(event.pr)
            if queued is not None and queued.head_only:
                # The update queued for an earlier head cannot deploy any more: say so once.
                self._deps.store.dequeue(queued.id)
                text += f"; the update to `{(queued.sha or '')[:7]}` queued before it is dropped"
            self._jobs.notify_pr(event.pr, sha7, text, offer="redeploy")
            return f"not deployed: {why_not}"
        return self._submit(event, now, JobKind.START, f"new commit `{sha7}` by @{event.sender}")

    def _submit(self, event: PullRequestEvent, now: PullRequest, kind: JobKind, reason: str) -> str:
        params = StopParams(reason=reason) if kind is JobKind.STOP else StartParams(reason=reason)
        answer = self._jobs.submit(
            JobRequest(
                kind=kind,
                pr=event.pr,
                # A start deploys exactly the head an allowed person pushed or saw.
                sha=now.head_sha if kind is JobKind.START else None,
                requester=Requester.github(event.sender),
                params=params,
                reporting=Reporting.in_pr_thread(self._deps.policy.notify_channel),
                idempotency_key=f"delivery:{event.body_sha}",
                known_pr=now,
                # A start that must wait deploys only if its SHA is still the head then — a
                # push's rolling update only while an environment runs.
                head_only=kind is JobKind.START,
                needs_environment=event.action == "synchronize",
            )
        )
        return _said(answer, event.pr)

    # ----- who may act --------------------------------------------------------------------

    def _why_not_redeploy(self, labels: L.PrLabels, pusher: str) -> str | None:
        """Why a push to a PR with an environment is not rolled out, if it is not."""
        if labels.frozen:
            return "frozen, not deployed"
        if not self._deps.policy.auto_redeploy:
            return "not deployed (SHOWTIME_AUTO_REDEPLOY is off)"
        if not self._allowed(pusher):
            return f"not deployed (@{pusher} may not deploy)"
        return None

    def _allowed(self, login: str) -> bool:
        """``admin``/``maintain``/``write`` on the repository (cached 5 minutes). Asked once
        here; when GitHub cannot say, ``_AskAgain`` — never taken for "no"."""
        key = login.casefold()
        with self._lock:
            cached = self._roles.get(key)
        if (
            cached is not None
            and self._deps.clock.monotonic() - cached[0] < PERMISSION_FRESH_SECONDS
        ):
            return cached[1] in ALLOWED_ROLES
        try:
            role = self._deps.github.collaborator_permission(login)
        except ShowtimeError as exc:
            log.warning("could not read %s's permission (%s); asking again", login, exc)
            raise _AskAgain(login) from exc
        self._remember_role(key, role)
        return role in ALLOWED_ROLES

    def _remember_role(self, key: str, role: str) -> None:
        with self._lock:
            self._roles[key] = (self._deps.clock.monotonic(), role)

    def _learn_permission(self, login: str) -> None:
        """Ask GitHub again, with backoff, what ``login`` may do (the first answer failed):
        ``PermissionUnknown`` once it could not say for 10 minutes."""
        clock = self._deps.clock
        deadline = clock.monotonic() + PERMISSION_RETRY_SECONDS
        pause = FIRST_RETRY_SECONDS
        while True:
            clock.sleep(min(pause, max(deadline - clock.monotonic(), 0.0)))
            pause = min(pause * 2, 60.0)
            try:
                self._remember_role(
                    login.casefold(), self._deps.github.collaborator_permission(login)
                )
                return
            except ShowtimeError as exc:
                left = deadline - clock.monotonic()
                if left <= 0:
                    raise PermissionUnknown(
                        f"GitHub could not say what @{login} may do on "
                        f"{self._deps.policy.repository} for 10 minutes ({exc.message})",
                        "nothing was deployed and the label stays; re-add the label, or run "
                        "the `/showtime` command in Slack",
                    ) from exc
                log.warning("could not read %s's permission (%s); asking again", login, exc)

    def _refuse_label(self, event: PullRequestEvent, now: PullRequest) -> None:
        """An unauthorised trigger label goes, with one comment saying who may add it."""
        assert event.label is not None
        github = self._deps.github
        names = list(now.labels)
        try:
            github.apply_labels(event.pr, L.change_against(names, remove=[event.label]), names)
            github.comment(
                event.pr,
                f"🎪 @{event.sender}: only people with write access to "
                f"{self._deps.policy.repository} may trigger showtime environments, "
                f"so `{event.label}` was removed. A maintainer can add it, or run "
                f"`/showtime {'start' if event.label == L.TRIGGER_START else 'stop'} {event.pr}` "
                "in Slack.",
            )
        except ShowtimeError as exc:
            log.warning("could not remove %r from #%s: %s", event.label, event.pr, exc)

    def _gave_up(self, event: PullRequestEvent, exc: PermissionUnknown) -> None:
        """One line where the PR's people look (its thread, else the notify channel, else the
        log): what was not done, and what to do."""
        text = f"{event.action} by @{event.sender}: {exc.message}. {exc.next_action}"
        log.warning("#%s: %s", event.pr, text, extra={"delivery": event.delivery})
        self._jobs.notify_pr(event.pr, event.head_sha[:7], text)


def _said(answer: Answer, pr: int) -> str:
    """What became of a submitted job, for the log and tests."""
    if isinstance(answer, Started):
        return f"{answer.job.kind} job {answer.job.correlation_id}"
    if isinstance(answer, Queued):
        return f"{answer.entry.kind} queued behind job {answer.behind.correlation_id}"
    if isinstance(answer, Duplicate):
        return "already taken"
    if isinstance(answer, Refused):
        log.info("GitHub event on #%s not acted on: %s", pr, answer.error)
        return f"refused: {answer.error.message}"
    return type(answer).__name__.lower()
