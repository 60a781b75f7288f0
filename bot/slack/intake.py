"""Translate Slack requests into orchestrator calls (after the ack) and answers back.

The Bolt listeners in ``app.py`` ack first and hand the body here. Nothing in this
module decides anything about environments: it parses, checks who may act, asks
the orchestrator, posts the status message and says what happened.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as CheckTimeout
from contextlib import contextmanager
from typing import Any, Protocol

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.clock import SYSTEM_CLOCK, Clock
from bot.config import Settings
from bot.domain import commands as C
from bot.domain.requester import Requester
from bot.errors import NothingToDo, RemoteError, ShowtimeError, UserInputError, public_text
from bot.orchestrator import models as M
from bot.orchestrator.jobs import (
    CleanupParams,
    Job,
    JobKind,
    JobParams,
    StartParams,
    StartRecord,
    StopParams,
    TtlParams,
)
from bot.orchestrator.queries import Queries
from bot.orchestrator.service import Jobs
from bot.orchestrator.sweeper import Sweeper
from bot.slack import cards, home, modal, views
from bot.slack.auth import Authorizer, PerUserLimit
from bot.slack.text import link as link_to
from bot.slack.text import mention, quote

log = logging.getLogger(__name__)

READS_PER_MINUTE = 10  # read-only commands per user (SPEC §12)
MAX_ERROR_TEXT = 1500  # characters of one part of an error answer
HOME_FOLLOW_SECONDS = 120.0  # a press on the Home tab: how long its job is followed there
# The Start modal's checks that need GitHub (and the allowed groups) run before its ack,
# because Slack shows errors beside a field only in the ack itself, within 3 s: they get
# this long, then the person is asked to try again (SPEC §16).
MODAL_CHECK_SECONDS = 2.0
MODAL_CHECK_THREADS = 8

_SLOW_DOWN = (
    f"🐢 Slow down: at most {READS_PER_MINUTE} `help`, `status`, `list`, `logs` or `creds` "
    "a minute each. Try again in a minute."
)

CANNOT_POST = {
    "not_in_channel",
    "channel_not_found",
    "is_archived",
    "restricted_action",
    "cannot_dm_bot",
    "missing_scope",
}


Say = Callable[..., None]


class Respond(Protocol):
    def __call__(
        self,
        text: str = ...,
        blocks: Any = ...,
        response_type: str = ...,
        replace_original: bool = ...,
    ) -> Any: ...


class Intake:
    def __init__(
        self,
        settings: Settings,
        jobs: Jobs,
        queries: Queries,
        sweeper: Sweeper,
        client: WebClient,
        authorizer: Authorizer,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.settings = settings
        self.jobs = jobs
        self.queries = queries
        self.sweeper = sweeper
        self.client = client
        self.auth = authorizer
        self.reads = PerUserLimit(READS_PER_MINUTE, 60.0, clock)
        self.modal_check_seconds = MODAL_CHECK_SECONDS
        self._checks = ThreadPoolExecutor(MODAL_CHECK_THREADS, thread_name_prefix="modal-check")

    # ----- slash command ------------------------------------------------------

    def parse(self, text: str) -> C.Command | C.CommandError:
        return C.parse_command(text, self.settings.github_repository)

    def immediate_answer(self, command: C.Command | C.CommandError, user_id: str) -> str | None:
        """Answers that need nothing remote, given in the ack itself (memory only: no waits)."""
        if isinstance(command, C.CommandError):
            return command.text
        # `logs` reads AWS for allowed users only, but counts like the other reads: one
        # person repeating it must not use up the API rate everyone's deploys need.
        reading = C.Help | C.Status | C.ListEnvironments | C.Logs | C.Creds
        if isinstance(command, reading) and not self.reads.allow(user_id):
            return _SLOW_DOWN
        if isinstance(command, C.Help):
            return views.help_text()
        return None

    def handle_command(self, command: C.Command, body: dict[str, Any], respond: Respond) -> None:
        say = _whisper(respond)
        with _answering(say, body, usage=True):
            if isinstance(command, C.Status):
                self._status(command.pr, say)
            elif isinstance(command, C.ListEnvironments):
                overview = self.queries.overview()
                blocks = views.list_blocks(
                    overview.environments, self.queries.now(), spend=overview.spend
                )
                say("Showtime environments", blocks)
            elif isinstance(command, C.Notify):
                self._notify(command.on, str(body.get("user_id", "")), say)
            elif refusal := self.auth.refusal(body.get("user_id", "")):
                # cleanup --dry-run too: it reads every labelled PR and every service.
                say(f"🚫 {refusal}")
            elif isinstance(command, C.Logs):
                self._logs(command.pr, command.lines, None, say)
            elif isinstance(command, C.Creds):
                self._creds(command.pr, None, say)
            elif isinstance(command, C.Cancel):
                user = str(body.get("user_id", ""))
                self._cancel(
                    command.pr, None, self._requester(user, body.get("user_name", "")), say
                )
            elif isinstance(command, C.Cleanup) and command.dry_run:
                say(quote(self.sweeper.cleanup(dry_run=True).text, views.MAX_TEXT, multiline=True))
            else:
                self._mutate(command, body, say)

    def _status(self, pr: int, say: Say) -> None:
        status = self.queries.status(pr)
        # The title is the PR author's text: quoted, so it can neither mention nor link.
        pr_link = views.pr_link(self.settings.github_repository, pr)
        title = quote(status.title, views.TITLE_LIMIT)
        header = f"*{pr_link}* {title} — {quote(status.state, 20)}"
        if status.frozen:
            header += " · 🧊 frozen"
        if status.blocked:
            header += " · 🔒 blocked"
        footer = []
        if status.live_job is not None:
            job = status.live_job
            who = who_asked(job.requester)
            thread = status.live_job_thread
            footer.append(
                f"⏳ `{quote(job.kind, 20)}` by {who} is running"
                + (self._thread_link(*thread) if thread else "")
            )
        where = self._where()
        cards_ = [cards.view_card(where, status, view) for view in status.environments]
        if not cards_:
            footer.insert(0, f"No environment. Start one with `/showtime start {pr}`.")
        blocks = views.status_blocks(cards_, header=header, footer=footer)
        say(f"Status of #{pr}", blocks)

    def _logs(self, pr: int, lines: int, sha: str | None, say: Say) -> None:
        """The log's last lines, only to the person who asked (read-only: no job)."""
        logs = self.queries.logs(pr, lines, sha)
        say(f"Log of #{pr} {logs.sha}", views.logs_blocks(logs, self.settings.github_repository))

    def _mutate(self, command: C.Command, body: dict[str, Any], say: Say) -> None:
        request = self._request(command, body)
        answer = self.jobs.submit(request)
        # A repeated delivery of the same command is Slack's retry: the first one answers.
        self._show(answer, request, say, quiet_duplicate=True)
        if isinstance(answer, M.Started) and not request.reporting.must_post:
            job = answer.job
            link = self._thread_link(job.channel, job.thread_ts)
            say(f"⏳ {C.describe(command)}: on it{link}")

    def _request(self, command: C.Command, body: dict[str, Any]) -> M.JobRequest:
        user = body.get("user_id", "")
        answer = body.get("response_url")
        kind, pr, sha, params = _job_of(command, answer)
        channel = str(body.get("channel_id") or "")
        # Only start, stop and cleanup post a status message; the others report in the
        # PR's thread, if it has one.
        new_message = kind in (JobKind.START, JobKind.STOP, JobKind.CLEANUP)
        return M.JobRequest(
            kind=kind,
            pr=pr,
            sha=sha,
            params=params,
            requester=self._requester(user, body.get("user_name", "")),
            reporting=M.Reporting.new_message(channel)
            if new_message
            else M.Reporting.in_pr_thread(),
            idempotency_key=f"slash:{body['trigger_id']}" if body.get("trigger_id") else None,
        )

    def _requester(self, user_id: str, user_name: str) -> Requester:
        """A Slack user; the 🤡 label names their GitHub login when SHOWTIME_GITHUB_LOGINS
        knows it, else their Slack name."""
        name = self.settings.showtime_github_logins.get(user_id) or user_name or user_id
        return Requester.slack(user_id, name)

    def _show(
        self, answer: M.Answer, request: M.JobRequest, say: Say, *, quiet_duplicate: bool
    ) -> None:
        """What became of a request, said only to the person who asked."""
        if isinstance(answer, M.Started):
            job = answer.job
            log.info(
                "job %s started by %s",
                job.correlation_id,
                job.requester.stored,
                extra={"kind": job.kind, "pr": job.pr},
            )
        elif isinstance(answer, M.Queued):
            self._show_queued(answer, request, say)
        elif isinstance(answer, M.Busy):
            job = answer.job
            link = self._thread_link(job.channel, job.thread_ts)
            if job.kind is JobKind.STOP and request.kind is JobKind.STOP:
                say(f"⏳ #{job.pr} is already being stopped by {who_asked(job.requester)}{link}.")
            elif job.kind is JobKind.START and request.kind is JobKind.START:
                sha = job.record.sha7 if isinstance(job.record, StartRecord) else ""
                say(
                    f"⏳ #{job.pr}: {who_asked(job.requester)} is already deploying "
                    f"`{sha}`, the same commit{link}."
                )
            else:
                say(f"⏳ {busy_text(job)}{link}")
        elif isinstance(answer, M.Duplicate):
            job = answer.job
            if not quiet_duplicate and not job.live and job.step is None:
                # The same press was answered before it changed anything (refused, or
                # nothing to do): it still changes nothing.
                say(
                    f"ℹ️ That press was answered already (`{job.kind}` #{request.pr}): nothing changed."
                )
            elif not quiet_duplicate:
                state = "is already running" if job.live else "was already done"
                say(f"⏳ That press {state} (`{job.kind}` #{request.pr}).")
        elif isinstance(answer, M.Refused):
            say(_error_text(answer.error))
        elif isinstance(answer, M.CannotPost):
            say(_cannot_post(answer.error))

    def _show_queued(self, answer: M.Queued, request: M.JobRequest, say: Say) -> None:
        """A request that waits for the PR's running job: what will happen, and Cancel queued."""
        behind, entry = answer.behind, answer.entry
        link = self._thread_link(behind.channel, behind.thread_ts)
        running = f"`{behind.kind}` by {who_asked(behind.requester)}{link}"
        if entry.kind is JobKind.STOP and behind.kind is JobKind.START:
            text = f"⏹ #{entry.pr}: cancelling the running deploy ({running}), then stopping."
        else:
            what = f"`{entry.kind}`" + (f" of `{entry.sha[:7]}`" if entry.sha else "")
            text = (
                f"⏳ #{entry.pr}: your {what} is queued behind the running deploy ({running}); "
                "it runs when that one ends."
            )
        replaced = answer.replaced
        if replaced is not None and replaced.requester.stored == request.requester.stored:
            text += f" It replaces the `{replaced.kind}` you had queued."
        elif replaced is not None:
            who = who_asked(replaced.requester)
            text += f" It replaces the `{replaced.kind}` {who} had queued, who is told."
        say(text, views.queued_blocks(text, entry.pr, entry.id))

    def _cancel(self, pr: int, queued_id: str | None, who: Requester, say: Say) -> None:
        """Cancel the PR's running deploy (or, with ``queued_id``, its queued one)."""
        answer = self.jobs.cancel(pr, who, queued_id=queued_id)
        if isinstance(answer, M.Cancelling):
            job = answer.job
            link = self._thread_link(job.channel, job.thread_ts)
            say(
                f"⏹ Cancelling the `{job.kind}` of #{pr}: it stops and undoes what it made within seconds{link}."
            )
        elif isinstance(answer, M.DroppedQueued):
            say(f"⏹ The queued `{answer.entry.kind}` of #{pr} is removed; it will not run.")
        elif isinstance(answer, M.TooLate):
            say(
                f"⏳ Too late to cancel: #{pr}'s environment is already coming up. "
                f"Press Stop (or `/showtime stop {pr}`) once it is, to remove it."
            )
        elif answer.running is not None:
            say(f"Nothing to cancel on #{pr}: its running `{answer.running.kind}` is no deploy.")
        else:
            say(f"Nothing to cancel on #{pr}: no deploy of it is running or queued.")

    # ----- buttons ------------------------------------------------------------

    def handle_action(self, body: dict[str, Any], respond: Respond) -> None:
        action = (body.get("actions") or [{}])[0]
        action_id = str(action.get("action_id", ""))
        if action_id in views.LINK_ACTIONS:
            return  # URL buttons open in the browser; Slack still sends the click
        # A press on the Home tab has no response_url: it is answered on the Home tab.
        say = self._home_say(body) if _on_home(body) else _whisper(respond)
        user = str((body.get("user") or {}).get("id", ""))
        with _answering(say, body, usage=False):
            if refusal := self.auth.refusal(user):
                say(f"🚫 {refusal}")
            elif action_id == views.ACTION_LOGS:
                self._logs_button(action, user, say)
            elif action_id == views.ACTION_CREDENTIALS:
                self._credentials_button(action, user, say)
            elif action_id == views.ACTION_DM_EXTEND:
                self._dm_extend(action, body, say)
            elif action_id == home.ACTION_NOTIFY:
                self._notify(action.get("value") == "on", user, say)
            elif action_id in (views.ACTION_CANCEL, views.ACTION_CANCEL_QUEUED):
                self._cancel_button(action_id, action, body, say)
            else:
                self._press(action_id, action, body, say)

    def _logs_button(self, action: dict[str, Any], user: str, say: Say) -> None:
        """Logs on a status message: that environment's log, only to the presser, no job."""
        if not self.reads.allow(user):
            say(_SLOW_DOWN)
            return
        parsed = views.parse_button_value(str(action.get("value", "")))
        if parsed is None:
            raise UserInputError("this button carries no pull request; it is from an old message")
        pr, sha = parsed
        self._logs(pr, C.LOG_LINES_DEFAULT, sha, say)

    def _cancel_button(
        self, action_id: str, action: dict[str, Any], body: dict[str, Any], say: Say
    ) -> None:
        parsed = views.parse_button_value(str(action.get("value", "")))
        if parsed is None:
            raise UserInputError("this button carries no pull request; it is from an old message")
        pr, rest = parsed
        queued_id = rest if action_id == views.ACTION_CANCEL_QUEUED else None
        user = body["user"]
        who = self._requester(user["id"], user.get("username") or user.get("name", ""))
        self._cancel(
            pr, queued_id or ("" if action_id == views.ACTION_CANCEL_QUEUED else None), who, say
        )

    def _press(
        self, action_id: str, action: dict[str, Any], body: dict[str, Any], say: Say
    ) -> None:
        parsed = views.parse_button_value(str(action.get("value", "")))
        if parsed is None:
            raise UserInputError("this button carries no pull request; it is from an old message")
        pr, sha = parsed
        answer = body.get("response_url")
        buttons: dict[str, tuple[JobKind, str | None, JobParams]] = {
            views.ACTION_STOP: (JobKind.STOP, None, StopParams(answer, button=True)),
            views.ACTION_REDEPLOY: (JobKind.START, None, StartParams(answer, button=True)),
            views.ACTION_RETRY: (JobKind.START, sha, StartParams(answer, button=True)),
            views.ACTION_EXTEND: (JobKind.TTL, None, TtlParams(answer, button=True, extend=True)),
            views.ACTION_FREEZE: (JobKind.FREEZE, None, JobParams(answer, button=True)),
            views.ACTION_UNFREEZE: (JobKind.UNFREEZE, None, JobParams(answer, button=True)),
            views.ACTION_CHECK: (JobKind.CHECK, sha, JobParams(answer, button=True)),
        }
        if action_id not in buttons:
            raise UserInputError(f"unknown button `{action_id}`")
        kind, job_sha, params = buttons[action_id]
        container = body.get("container") or {}
        message = body.get("message") or {}
        channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
        thread = message.get("thread_ts") or container.get("message_ts")
        on_home = _on_home(body)
        if not container.get("is_ephemeral") and not on_home and channel and thread:
            reporting = M.Reporting.on_message(channel, thread)
        else:
            # Only slash commands create status messages: without a thread of the PR to
            # post in, the job answers through this press's response_url instead — or,
            # from the Home tab (which has none), in SHOWTIME_NOTIFY_CHANNEL.
            fallback = self.settings.showtime_notify_channel if on_home else None
            reporting = M.Reporting.in_pr_thread(fallback)
        user = body["user"]
        request = M.JobRequest(
            kind=kind,
            pr=pr,
            sha=job_sha,
            requester=self._requester(user["id"], user.get("username") or user.get("name", "")),
            reporting=reporting,
            idempotency_key=_click_key(action_id, container, message, action, body),
            params=params,
        )
        answer = self.jobs.submit(request)
        self._show(answer, request, say, quiet_duplicate=False)
        if on_home and isinstance(answer, M.Started):
            self._follow_on_home(answer.job, say)

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
            view = home.error_view(_error_text(exc, usage=False))
        except Exception:
            ref = hashlib.sha256(f"home:{user}:{self.queries.now()}".encode()).hexdigest()[:8]
            log.exception("Home tab failed", extra={"ref": ref})
            view = home.error_view(
                f"❌ Internal error (ref `{ref}`); the bot's logs have the details."
            )
        try:
            self.client.views_publish(user_id=user, view=view, hash=view_hash)
        except SlackApiError as exc:
            error = exc.response.get("error")
            # hash_conflict: a newer Home tab was published meanwhile; it stands.
            level = logging.INFO if error == "hash_conflict" else logging.WARNING
            log.log(level, "views.publish for %s failed: %s", user, error)

    def _home_say(self, body: dict[str, Any]) -> Say:
        user = str((body.get("user") or {}).get("id") or "")
        dm_channel = _dm_channel_of(body)

        def say(text: str, blocks: list[dict[str, Any]] | None = None) -> None:
            self._publish_home(user, notice=text, dm_channel=dm_channel)

        return say

    def _follow_on_home(self, job: Job, say: Say) -> None:
        """A press on the Home tab is answered there: "on it", then how it ended (Stop and
        Extend take seconds; a longer job is left to its thread)."""
        what = f"`{job.kind}` #{job.pr}"
        say(f"⏳ {what}: on it{self._thread_link(job.channel, job.thread_ts)}")
        done = self.jobs.wait(job.id, HOME_FOLLOW_SECONDS)
        if done is None or done.live:
            return
        icon = "✅" if done.state.value == "succeeded" else "❌"
        outcome = quote(
            public_text(done.outcome or done.state.value), MAX_ERROR_TEXT, multiline=True
        )
        say(f"{icon} {what}: {outcome}")

    # ----- credentials (SPEC §15) ------------------------------------------------

    def _creds(self, pr: int, sha: str | None, say: Say) -> None:
        """The environment's admin login, only to the person who asked (read-only: no job).
        The password is in the blocks alone, never in the notification text."""
        creds = self.queries.credentials(pr, sha)
        blocks = views.credentials_blocks(creds, self.settings.github_repository)
        say(f"Admin login of #{pr} `{creds.sha}`", blocks)

    def _credentials_button(self, action: dict[str, Any], user: str, say: Say) -> None:
        """Credentials on a status message or a ready DM: that environment's login."""
        if not self.reads.allow(user):
            say(_SLOW_DOWN)
            return
        parsed = views.parse_button_value(str(action.get("value", "")))
        if parsed is None:
            raise UserInputError("this button carries no pull request; it is from an old message")
        pr, sha = parsed
        self._creds(pr, sha, say)

    # ----- direct messages (SPEC §16) ------------------------------------------

    def _notify(self, on: bool, user: str, say: Say) -> None:
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
        parsed = views.parse_button_value(str(action.get("value", "")))
        if parsed is None:
            raise UserInputError("this button carries no pull request; it is from an old message")
        pr, _sha = parsed
        user = body["user"]
        request = M.JobRequest(
            kind=JobKind.TTL,
            pr=pr,
            requester=self._requester(user["id"], user.get("username") or user.get("name", "")),
            reporting=M.Reporting.in_pr_thread(self.settings.showtime_notify_channel),
            idempotency_key=_click_key(
                views.ACTION_DM_EXTEND,
                body.get("container") or {},
                body.get("message") or {},
                action,
                body,
            ),
            params=TtlParams(body.get("response_url"), button=True, extend=True),
        )
        answer = self.jobs.submit(request)
        self._show(answer, request, say, quiet_duplicate=False)
        if isinstance(answer, M.Started):
            job = answer.job
            say(f"⏳ Extending #{pr}: on it{self._thread_link(job.channel, job.thread_ts)}")

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
        return M.JobRequest(
            kind=JobKind.START,
            pr=form.pr,
            sha=check.sha,
            params=StartParams(None, ttl=form.ttl),
            requester=self._requester(user_id, str(user.get("username") or user.get("name") or "")),
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
        say = self._home_say(body)
        with _answering(say, body, usage=False):
            answer = self.jobs.submit(request)
            self._show(answer, request, say, quiet_duplicate=False)
            if isinstance(answer, M.Started):
                self._follow_on_home(answer.job, say)

    def _home_controls(self, user: str, dm_channel: str) -> home.Controls | None:
        """Start and the DM setting, for a person who may start environments."""
        if self.auth.refusal(user) is not None:
            return None
        return home.Controls(notify=self.jobs.store.notify_wanted(user), dm_channel=dm_channel)

    # ----- helpers ------------------------------------------------------------

    def _where(self) -> cards.Where:
        return cards.Where(
            repository=self.settings.github_repository,
            default_ttl=self.settings.showtime_default_ttl,
            now=self.queries.now(),
        )

    def _thread_link(self, channel: str | None, ts: str | None) -> str:
        if not channel or not ts:
            return ""
        try:
            link = self.client.chat_getPermalink(channel=channel, message_ts=ts).get("permalink")
        except SlackApiError:
            return ""
        return f" — {link_to(link, 'see its thread')}" if link else ""


def _job_of(
    command: C.Command, answer: str | None
) -> tuple[JobKind, int | None, str | None, JobParams]:
    """Kind, PR, SHA and parameters of the job a command asks for."""
    if isinstance(command, C.Start):
        return JobKind.START, command.pr, command.sha, StartParams(answer, ttl=command.ttl)
    if isinstance(command, C.Stop):
        return JobKind.STOP, command.pr, None, StopParams(answer)
    if isinstance(command, C.SetTtl):
        return JobKind.TTL, command.pr, None, TtlParams(answer, ttl=command.ttl)
    if isinstance(command, C.Freeze):
        return JobKind.FREEZE, command.pr, None, JobParams(answer)
    if isinstance(command, C.Unfreeze):
        return JobKind.UNFREEZE, command.pr, None, JobParams(answer)
    if isinstance(command, C.Cleanup):
        return JobKind.CLEANUP, None, None, CleanupParams(answer, dry_run=command.dry_run)
    raise UserInputError(f"`{C.describe(command)}` changes nothing")


def _click_key(
    action_id: str,
    container: dict[str, Any],
    message: dict[str, Any],
    action: dict[str, Any],
    body: dict[str, Any],
) -> str:
    """Same button on the same version of the same message ⇒ same key (double clicks).

    On the Home tab the "message" is the published view: its id and hash name the version,
    and the button's value which environment (one view holds many PRs' buttons).
    """
    if _on_home(body):
        view = body.get("view") or {}
        parts = [action_id, view.get("id"), view.get("hash"), action.get("value")]
    else:
        parts = [
            action_id,
            container.get("channel_id"),
            container.get("message_ts"),
            message.get("edited", {}).get("ts"),
            message.get("blocks"),
        ]
    material = json.dumps(parts, sort_keys=True, default=str)
    return "click:" + hashlib.sha256(material.encode()).hexdigest()[:40]


def _dm_channel_of(body: dict[str, Any]) -> str:
    """The app's DM with the person, as a Home tab press (its Start button's value) or a Start
    modal (its private_metadata) carries it."""
    view = body.get("view") or {}
    if view.get("type") == "modal":
        return str(view.get("private_metadata") or "")
    return home.dm_channel_of(view)


def _on_home(body: dict[str, Any]) -> bool:
    """Pressed on the App Home tab (a view, not a message)."""
    return (body.get("view") or {}).get("type") == "home" or (
        (body.get("container") or {}).get("type") == "view"
    )


def busy_text(job: Job) -> str:
    """Who runs what on the PR, since when (the answer to a second request for it)."""
    started = job.created_at.strftime("%H:%M UTC")
    who = who_asked(job.requester)
    subject = f"#{job.pr}" if job.pr is not None else "cleanup"
    return (
        f"{subject} is busy: `{job.kind}` started by {who} at {started} is still running. "
        "Follow it in its thread; try again when it has finished."
    )


def who_asked(requester: Requester) -> str:
    """A Slack user as a mention; anyone else by name, quoted (a login is an outsider's)."""
    return mention(requester.slack_user) or quote(requester.label_name, 80)


def _error_text(exc: ShowtimeError, usage: bool = True) -> str:
    """An error for the person who asked: its words can quote GitHub or AWS, so escaped."""
    # Nothing to do is no refusal: how things are, for the one who asked (SPEC §17).
    icon = "ℹ️" if isinstance(exc, NothingToDo) else "❌" if isinstance(exc, RemoteError) else "🚫"
    text = quote(public_text(exc.message), MAX_ERROR_TEXT, multiline=True)
    if exc.next_action:
        text += f"\n*Next:* {quote(public_text(exc.next_action), MAX_ERROR_TEXT, multiline=True)}"
    if usage and isinstance(exc, UserInputError):
        text += f"\n{quote(C.USAGE, MAX_ERROR_TEXT)}"
    return f"{icon} {text}"


def _cannot_post(error: str) -> str:
    if error in CANNOT_POST:
        return (
            f"🚫 I can't post in this conversation (`{error}`), so I changed nothing. "
            "Invite the bot: `/invite @showtime` (or use a public channel it is in), then try again."
        )
    return f"❌ Slack refused the status message (`{error}`), so I changed nothing; try again."


def _ref(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:8]


def _whisper(respond: Respond) -> Say:
    """Answer only the person who asked (ephemeral), never replacing the message pressed on."""

    def say(text: str, blocks: list[dict[str, Any]] | None = None) -> None:
        respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)

    return say


@contextmanager
def _answering(say: Say, body: dict[str, Any], *, usage: bool) -> Iterator[None]:
    """Errors a person can act on are said as they are; anything else gets a reference."""
    try:
        yield
    except ShowtimeError as exc:
        say(_error_text(exc, usage=usage))
    except Exception:
        ref = _ref(body)
        log.exception("Slack request failed", extra={"ref": ref})
        say(f"❌ Internal error (ref `{ref}`); the bot's logs have the details.")
