"""Work that comes from GitHub (SPEC §11): trigger labels, pushes, closes.

The webhook entry point parses a delivery into a ``PullRequestEvent`` and hands it here;
what follows is the same jobs Slack starts, so one PR still never has two jobs at once.
The differences from Slack are who asks and where it is said: the requester is a GitHub
login, allowed when it has ``admin``, ``maintain`` or ``write`` on the repository (looked
up once per 5 minutes per login), and the thread is the PR's latest status message, else
SHOWTIME_NOTIFY_CHANNEL, else none (labels and the optional PR comment only).

Unlike the workflow it replaces, this fails closed: a sender whose permission is unknown
is not allowed, an unauthorised trigger label is removed (not the PR blocked), and a push
while a job runs is remembered — one rolling update to the head of that moment follows
when the job ends (``Followup``), so intermediate heads are never deployed.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Protocol

from bot.domain import labels as L
from bot.domain.requester import Requester
from bot.errors import ShowtimeError
from bot.orchestrator.context import Deps
from bot.orchestrator.jobs import Followup, Job, JobKind, StartParams, StopParams, pr_lock
from bot.orchestrator.models import (
    Answer,
    Busy,
    Duplicate,
    JobRequest,
    Notice,
    Refused,
    Reporting,
    Started,
)
from bot.orchestrator.ports import PullRequest

log = logging.getLogger(__name__)

ALLOWED_ROLES = frozenset({"admin", "maintain", "write"})
PERMISSION_FRESH_SECONDS = 300.0  # SPEC §11: cached at most 5 minutes


@dataclass(frozen=True)
class PullRequestEvent:
    """One ``pull_request`` delivery, as far as showtime cares."""

    delivery: str  # X-GitHub-Delivery: a redelivery carries the same GUID
    action: str  # "labeled", "synchronize", "closed", …
    sender: str
    pull: PullRequest  # the PR as the delivery has it (no need to read it again)
    label: str | None = None  # labeled: the label added

    @property
    def pr(self) -> int:
        return self.pull.number


class Jobs(Protocol):
    """What this needs of ``Jobs``: submit a job, tell a PR's thread something."""

    def submit(self, request: JobRequest) -> Answer: ...
    def notify(self, notice: Notice) -> None: ...


class GitHubEvents:
    def __init__(self, deps: Deps, jobs: Jobs) -> None:
        self._deps = deps
        self._jobs = jobs
        self._lock = threading.Lock()
        self._roles: dict[str, tuple[float, str]] = {}

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

        The delivery is recorded as handled once acted on, so a repeat finds it — and a
        delivery whose handling failed is not, so GitHub's redelivery works."""
        keys = delivery_keys(event.delivery)
        if self._deps.store.remembered(keys):
            return "a redelivery: done before"
        done = self._act(event)
        self._deps.store.remember(keys)
        return done

    def _act(self, event: PullRequestEvent) -> str:
        if event.sender.casefold() == self._deps.github.own_login().casefold():
            return "sent by the bot itself: ignored"
        if event.action == "labeled" and event.label == L.TRIGGER_START:
            return self._trigger(event, JobKind.START)
        if event.action == "labeled" and event.label == L.TRIGGER_STOP:
            return self._trigger(event, JobKind.STOP)
        if event.action == "synchronize":
            return self._pushed(event)
        if event.action == "closed":
            return self._closed(event)
        return f"{event.action}: nothing to do"

    # ----- the events ----------------------------------------------------------------

    def _trigger(self, event: PullRequestEvent, kind: JobKind) -> str:
        if not self._allowed(event.sender):
            self._refuse_label(event)
            return f"{event.sender} may not trigger: label removed"
        reason = f"{event.label} added by @{event.sender}"
        return self._start_or_follow(event.pr, kind, event.sender, reason, event.pull)

    def _pushed(self, event: PullRequestEvent) -> str:
        sha7 = event.pull.head_sha[:7]
        labels = L.parse_labels(event.pull.labels)
        live = self._deps.store.live_job(pr_lock(event.pr))
        if labels.blocked:
            return "blocked: nothing"
        if not labels.has_environment and live is None:
            return "no environment: nothing"
        why_not = self._why_not_redeploy(labels, event.sender)
        if why_not:
            self._notify_push(event.pr, sha7, f"new commit `{sha7}` by @{event.sender} — {why_not}")
            return f"not deployed: {why_not}"
        reason = f"new commit `{sha7}` by @{event.sender}"
        return self._start_or_follow(event.pr, JobKind.START, event.sender, reason, event.pull)

    def _closed(self, event: PullRequestEvent) -> str:
        labels = L.parse_labels(event.pull.labels)
        if not labels.has_environment and self._deps.store.live_job(pr_lock(event.pr)) is None:
            return "no environment: nothing"  # an unlabelled service is the sweeper's
        reason = f"PR {'merged' if event.pull.merged else 'closed'}"
        return self._start_or_follow(event.pr, JobKind.STOP, event.sender, reason, event.pull)

    # ----- pieces --------------------------------------------------------------------

    def _why_not_redeploy(self, labels: L.PrLabels, pusher: str) -> str | None:
        """Why a push to a PR with an environment is not rolled out, if it is not."""
        if labels.frozen:
            return "frozen, not deployed"
        if not self._deps.policy.auto_redeploy:
            return "not deployed (SHOWTIME_AUTO_REDEPLOY is off)"
        if not self._allowed(pusher):
            return f"not deployed (@{pusher} may not deploy)"
        return None

    def _start_or_follow(
        self, pr: int, kind: JobKind, login: str, reason: str, known: PullRequest | None = None
    ) -> str:
        """The job now, or — while another job runs for the PR — once that one ends."""
        answer = self._jobs.submit(
            request(self._deps, pr, kind, Requester.github(login), reason, known)
        )
        if isinstance(answer, Busy):
            self._deps.store.set_followup(Followup(pr, kind, Requester.github(login), reason))
            return f"{kind} follows the running job"
        return _said(answer, pr)

    def after_job(self, job: Job) -> None:
        """A job of the PR ended: what came for the PR meanwhile is its job now (SPEC §11)."""
        if job.pr is not None:
            self._follow_up_pr(job.pr)

    def follow_ups_left(self) -> None:
        """Follow-ups whose PR has no live job (their process stopped between the two)."""
        for pr in self._deps.store.followup_prs():
            if self._deps.store.live_job(pr_lock(pr)) is None:
                self._follow_up_pr(pr)

    def _follow_up_pr(self, pr: int) -> None:
        try:
            followup = self._deps.store.followup(pr)
            if followup is not None:
                # Forgotten only once its job began (or it was dropped): a crash between the
                # two leaves it for the adopt tick, never loses the push.
                done = self.follow_up(followup)
                log.info("follow-up for #%s: %s", pr, done, extra={"pr": pr})
        except Exception:
            log.exception("follow-up for #%s failed", pr, extra={"pr": pr})

    def follow_up(self, followup: Followup) -> str:
        """Begin what was remembered for the PR, now that its job ended (a push: only if the
        PR still has an environment and is neither frozen nor blocked), then forget it.

        Forgotten only once its job began (or it was dropped): a crash between the two
        leaves it for the adopt tick, and a push that replaced it meanwhile stays.
        """
        done = self._follow_up(followup)
        if done.startswith(("follow-up dropped", "refused")):
            self._deps.store.drop_followup(followup)
        return done  # busy again: the next job's end takes it

    def _follow_up(self, followup: Followup) -> str:
        if followup.kind is JobKind.START:
            labels = L.parse_labels(self._deps.github.get_pr(followup.pr).labels)
            why_not = "blocked" if labels.blocked else "frozen" if labels.frozen else None
            if not labels.has_environment:
                why_not = "no environment any more"
            if why_not:
                return f"follow-up dropped: {why_not}"
        answer = self._jobs.submit(
            request(self._deps, followup.pr, followup.kind, followup.requester, followup.reason)
        )
        if isinstance(answer, Busy):
            return f"{followup.kind} follows the running job"
        if isinstance(answer, Started):
            self._deps.store.drop_followup(followup)  # its job holds the PR now
        return _said(answer, followup.pr)

    def _refuse_label(self, event: PullRequestEvent) -> None:
        """An unauthorised trigger label goes, with one comment saying who may add it."""
        assert event.label is not None
        github = self._deps.github
        names = list(event.pull.labels)
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

    def _notify_push(self, pr: int, sha7: str, text: str) -> None:
        channel, thread = where(self._deps, pr)
        self._jobs.notify(Notice(pr, sha7, text, channel, thread, offer="redeploy"))

    def _allowed(self, login: str) -> bool:
        """``admin``/``maintain``/``write`` on the repository; unknown counts as no."""
        now = self._deps.clock.monotonic()
        key = login.casefold()
        with self._lock:
            cached = self._roles.get(key)
        if cached is None or now - cached[0] >= PERMISSION_FRESH_SECONDS:
            try:
                role = self._deps.github.collaborator_permission(login)
            except ShowtimeError as exc:
                log.warning("could not read %s's permission: %s; not allowed", login, exc)
                return False
            cached = (now, role)
            with self._lock:
                self._roles[key] = cached
        return cached[1] in ALLOWED_ROLES


def delivery_keys(delivery: str) -> list[str]:
    """What the job store remembers of a handled delivery."""
    return [f"delivery:{delivery}"]


def where(deps: Deps, pr: int) -> tuple[str | None, str | None]:
    """The PR's latest thread, else SHOWTIME_NOTIFY_CHANNEL (a new message), else none."""
    found = deps.store.latest_thread(pr)
    return found if found else (deps.policy.notify_channel, None)


def request(
    deps: Deps,
    pr: int,
    kind: JobKind,
    requester: Requester,
    reason: str,
    known: PullRequest | None = None,
) -> JobRequest:
    """The job a GitHub event asks for, reported in the PR's thread (or the notify channel)."""
    params = StopParams(reason=reason) if kind is JobKind.STOP else StartParams(reason=reason)
    return JobRequest(
        kind=kind,
        pr=pr,
        requester=requester,
        params=params,
        reporting=Reporting.in_pr_thread(deps.policy.notify_channel),
        known_pr=known,
    )


def _said(answer: Answer, pr: int) -> str:
    """What became of a submitted job, for the log and tests."""
    if isinstance(answer, Started):
        return f"{answer.job.kind} job {answer.job.correlation_id}"
    if isinstance(answer, Duplicate):
        return "already taken"
    if isinstance(answer, Refused):
        log.info("GitHub event on #%s not acted on: %s", pr, answer.error)
        return f"refused: {answer.error.message}"
    return type(answer).__name__.lower()
