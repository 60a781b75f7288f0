"""What a person does from the app's own tabs (SPEC §13, §16): the Home tab, the Start
modal, their direct-message setting and Extend on an expiry warning they got directly.

``Intake`` builds the desk and hands it the presses it owns (``ACTIONS``); the Bolt app
calls it directly for the Home tab's ``app_home_opened``, the Start button and the modal's
submission. A press here has no ``response_url``: it is answered on the Home tab, as a
notice above everything else (``say_on_home``), in the same words as anywhere else
(``answers.Replies``).
"""

from __future__ import annotations

import hashlib
import logging
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as CheckTimeout
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.config import Settings
from bot.errors import ShowtimeError, UserInputError, public_text
from bot.orchestrator import models as M
from bot.orchestrator.jobs import Job, JobKind, StartParams, TtlParams
from bot.orchestrator.queries import Queries
from bot.orchestrator.service import Jobs
from bot.slack import home, modal, views
from bot.slack.answers import (
    MAX_ERROR_TEXT,
    Replies,
    Say,
    answering,
    button_target,
    click_key,
    error_text,
    internal_error_text,
)
from bot.slack.auth import Authorizer
from bot.slack.text import quote

log = logging.getLogger(__name__)

HOME_FOLLOW_SECONDS = 120.0  # a press on the Home tab: how long its job is followed there
# The Start modal's checks that need GitHub (and the allowed groups) run before its ack,
# because Slack shows errors beside a field only in the ack itself, within 3 s: they get
# this long, then the person is asked to try again (SPEC §16).
MODAL_CHECK_SECONDS = 2.0
MODAL_CHECK_THREADS = 8


class HomeDesk:
    """The Home tab, the Start modal, ``notify`` and the DM's Extend."""

    ACTIONS = frozenset({views.ACTION_DM_EXTEND, home.ACTION_NOTIFY})  # presses it answers

    def __init__(
        self,
        settings: Settings,
        jobs: Jobs,
        queries: Queries,
        client: WebClient,
        authorizer: Authorizer,
        replies: Replies,
    ) -> None:
        self.settings = settings
        self.jobs = jobs
        self.queries = queries
        self.client = client
        self.auth = authorizer
        self.replies = replies
        self.modal_check_seconds = MODAL_CHECK_SECONDS
        self._checks = ThreadPoolExecutor(MODAL_CHECK_THREADS, thread_name_prefix="modal-check")

    def press(self, action_id: str, action: dict[str, Any], body: dict[str, Any], say: Say) -> None:
        """One of ``ACTIONS``, by someone who may act (``Intake.handle_action`` checked)."""
        if action_id == views.ACTION_DM_EXTEND:
            self._dm_extend(action, body, say)
        else:
            user = str((body.get("user") or {}).get("id", ""))
            self.notify(action.get("value") == "on", user, say)

    # ----- the Home tab -------------------------------------------------------

    def handle_home_opened(self, event: dict[str, Any]) -> None:
        """Publish the person's Home tab (``app_home_opened``); one shared look at everything."""
        user = str(event.get("user") or "")
        if not user or event.get("tab", "home") != "home":
            return
        # The hash of the view the person has: a newer publish since then wins the race.
        # The event's channel is the app's DM with them: the Start modal's status message
        # goes there when SHOWTIME_NOTIFY_CHANNEL is unset.
        self._publish_home(
            user,
            view_hash=(event.get("view") or {}).get("hash"),
            dm_channel=str(event.get("channel") or ""),
        )

    def _publish_home(
        self,
        user: str,
        *,
        notice: str | None = None,
        view_hash: str | None = None,
        dm_channel: str = "",
    ) -> None:
        try:
            overview = self.queries.overview()
            view = home.home_view(
                overview,
                user,
                repository=self.settings.github_repository,
                now=self.queries.now(),
                notice=notice,
                controls=self._home_controls(user, dm_channel),
            )
        except ShowtimeError as exc:
            view = home.error_view(error_text(exc, usage=False))
        except Exception:
            ref = hashlib.sha256(f"home:{user}:{self.queries.now()}".encode()).hexdigest()[:8]
            log.exception("Home tab failed", extra={"ref": ref})
            view = home.error_view(internal_error_text(ref))
        try:
            self.client.views_publish(user_id=user, view=view, hash=view_hash)
        except SlackApiError as exc:
            error = exc.response.get("error")
            # hash_conflict: a newer Home tab was published meanwhile; it stands.
            level = logging.INFO if error == "hash_conflict" else logging.WARNING
            log.log(level, "views.publish for %s failed: %s", user, error)

    def _home_controls(self, user: str, dm_channel: str) -> home.Controls | None:
        """Start and the DM setting, for a person who may start environments."""
        if self.auth.refusal(user) is not None:
            return None
        return home.Controls(notify=self.jobs.store.notify_wanted(user), dm_channel=dm_channel)

    def say_on_home(self, body: dict[str, Any]) -> Say:
        """Answers to a press on the Home tab (or a Start modal): its notice, republished."""
        user = str((body.get("user") or {}).get("id") or "")
        dm_channel = _dm_channel_of(body)

        def say(text: str, blocks: list[dict[str, Any]] | None = None) -> None:
            self._publish_home(user, notice=text, dm_channel=dm_channel)

        return say

    def follow(self, job: Job, say: Say) -> None:
        """A press on the Home tab is answered there: "on it", then how it ended (Stop and
        Extend take seconds; a longer job is left to its thread)."""
        what = f"`{job.kind}` #{job.pr}"
        say(f"⏳ {what}: on it{self.replies.thread_link(job.channel, job.thread_ts)}")
        done = self.jobs.wait(job.id, HOME_FOLLOW_SECONDS)
        if done is None or done.live:
            return
        icon = "✅" if done.state.value == "succeeded" else "❌"
        outcome = quote(
            public_text(done.outcome or done.state.value), MAX_ERROR_TEXT, multiline=True
        )
        say(f"{icon} {what}: {outcome}")

    # ----- direct messages (SPEC §16) ------------------------------------------

    def notify(self, on: bool, user: str, say: Say) -> None:
        """Direct messages about one's own environments, on or off (kept in the job store)."""
        if not user:
            raise UserInputError("Slack did not say who you are", "try again")
        self.jobs.store.set_notify(user, on)
        if on:
            say(
                "🔔 Direct messages are on: I will write to you when an environment you "
                "started is ready or failed, and an hour before it expires. "
                "`/showtime notify off` stops them."
            )
        else:
            say(
                "🔕 Direct messages are off: the status messages and their threads still say "
                "everything. `/showtime notify on` brings them back."
            )

    def _dm_extend(self, action: dict[str, Any], body: dict[str, Any], say: Say) -> None:
        """Extend on the expiry warning a person got directly: the TTL job reports in the
        PR's thread (else SHOWTIME_NOTIFY_CHANNEL), and the DM is answered with where."""
        pr, _sha = button_target(action)
        request = M.JobRequest(
            kind=JobKind.TTL,
            pr=pr,
            requester=self.replies.presser(body),
            reporting=M.Reporting.in_pr_thread(self.settings.showtime_notify_channel),
            idempotency_key=click_key(
                views.ACTION_DM_EXTEND,
                body.get("container") or {},
                body.get("message") or {},
                action,
                body,
            ),
            params=TtlParams(body.get("response_url"), button=True, extend=True),
        )
        answer = self.jobs.submit(request)
        self.replies.show(answer, request, say, quiet_duplicate=False)
        if isinstance(answer, M.Started):
            job = answer.job
            link = self.replies.thread_link(job.channel, job.thread_ts)
            say(f"⏳ Extending #{pr}: on it{link}")

    # ----- the Start modal (SPEC §16) ------------------------------------------

    def open_start_modal(self, body: dict[str, Any]) -> None:
        """ "Start an environment" on the Home tab: the modal, with the press's trigger_id
        (good for 3 s, so this runs at once, not behind the intake queue)."""
        user = str((body.get("user") or {}).get("id") or "")
        action = (body.get("actions") or [{}])[0]
        dm_channel = str(action.get("value") or "")
        view = modal.start_modal(
            default_ttl=self.settings.showtime_default_ttl, dm_channel=dm_channel
        )
        try:
            self.client.views_open(trigger_id=str(body.get("trigger_id") or ""), view=view)
        except SlackApiError as exc:
            error = exc.response.get("error")
            log.warning("views.open for %s failed: %s", user, error)
            self._publish_home(
                user,
                notice=f"❌ Slack did not open the form (`{quote(error, 60)}`); press it again.",
                dm_channel=dm_channel,
            )

    def check_start_form(self, body: dict[str, Any]) -> M.JobRequest | dict[str, str]:
        """A submitted Start modal: the job request it makes, or the errors to show beside
        its fields (``response_action: errors``), by block id.

        This is the one place the bot reads GitHub before it acks: Slack shows field errors
        only in the ack, within 3 s. The fields are read first (no call); then who may act
        (the allowed groups, cached) and the PR (one GitHub read, plus its commits when a
        SHA that is not the head was given), bounded by ``modal_check_seconds``: past it
        the answer asks to try again and nothing starts. Everything else that can refuse a
        start (the limit, the budget, a job running) is the job's, after the ack.
        """
        view = body.get("view") or {}
        form = modal.read_start_form(view, self.settings.github_repository)
        if isinstance(form, dict):
            return form
        user = body.get("user") or {}
        user_id = str(user.get("id") or "")
        checking = self._checks.submit(self._check_start, form, user_id)
        try:
            errors, check = checking.result(timeout=self.modal_check_seconds)
        except CheckTimeout:
            log.warning(
                "the Start modal's check of #%s took over %.1fs; asked to try again",
                form.pr,
                self.modal_check_seconds,
            )
            return {
                modal.PR_BLOCK: modal.error_text(
                    "GitHub is slow to answer right now, so nothing was started: "
                    "press Start again in a moment."
                )
            }
        if errors or check is None:
            return errors
        channel = self.settings.showtime_notify_channel or form.dm_channel or user_id
        name = str(user.get("username") or user.get("name") or "")
        return M.JobRequest(
            kind=JobKind.START,
            pr=form.pr,
            sha=check.sha,
            params=StartParams(None, ttl=form.ttl),
            requester=self.replies.requester(user_id, name),
            reporting=M.Reporting.new_message(channel),
            idempotency_key=f"modal:{view.get('id')}:{view.get('hash')}",
            known_pr=check.pr,
        )

    def _check_start(
        self, form: modal.StartForm, user: str
    ) -> tuple[dict[str, str], M.StartCheck | None]:
        """Who asks and the PR as GitHub has it; errors by block id (never raises)."""
        if refusal := self.auth.refusal(user):
            return {modal.PR_BLOCK: modal.error_text(f"🚫 {refusal}")}, None
        try:
            check = self.queries.start_check(form.pr, form.sha)
        except UserInputError as exc:  # no such PR
            return {modal.PR_BLOCK: modal.error_text(public_text(exc.message))}, None
        except ShowtimeError as exc:
            text = f"GitHub could not tell ({public_text(exc.message)}); try again."
            return {modal.PR_BLOCK: modal.error_text(text)}, None
        except Exception:
            log.exception("the Start modal's check of #%s failed", form.pr)
            text = "An internal error stopped the check; try again. The bot's log has why."
            return {modal.PR_BLOCK: modal.error_text(text)}, None
        if check.refusal is not None:
            why = f"#{form.pr}: {check.refusal.message}"
            if check.refusal.next_action:
                why += f" — {check.refusal.next_action}"
            return {modal.PR_BLOCK: modal.error_text(why)}, None
        if not check.sha_found:
            sha = form.sha or ""
            text = f"{sha[:12]} is not a commit of #{form.pr}; leave it empty for its head."
            return {modal.SHA_BLOCK: modal.error_text(text)}, None
        return {}, check

    def start_from_modal(self, request: M.JobRequest, body: dict[str, Any]) -> None:
        """After the ack: the same job as `/showtime start`, answered on the Home tab (where
        the person is when the modal closes) — "on it", or why not."""
        say = self.say_on_home(body)
        with answering(say, body, usage=False):
            answer = self.jobs.submit(request)
            self.replies.show(answer, request, say, quiet_duplicate=False)
            if isinstance(answer, M.Started):
                self.follow(answer.job, say)


def _dm_channel_of(body: dict[str, Any]) -> str:
    """The app's DM with the person, as a Home tab press (its Start button's value) or a Start
    modal (its private_metadata) carries it."""
    view = body.get("view") or {}
    if view.get("type") == "modal":
        return str(view.get("private_metadata") or "")
    return home.dm_channel_of(view)
