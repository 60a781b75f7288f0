"""Translate Slack requests into orchestrator calls (after the ack) and answers back.

The Bolt listeners in ``app.py`` ack first and hand the body here. Nothing in this
module decides anything about environments: it parses, checks who may act, asks
the orchestrator, posts the status message and says what happened.

Here: the slash command and the status message's buttons. What a person does from the
app's Home and Messages tabs (the Home tab, the Start modal, ``notify``, a DM's Extend) is
the ``HomeDesk``'s (``home_desk.py``), which this builds and hands the presses it owns; both
answer through ``answers.py``.
"""

from __future__ import annotations

from typing import Any

from slack_sdk import WebClient

from bot.clock import SYSTEM_CLOCK, Clock
from bot.config import Settings
from bot.domain import commands as C
from bot.domain.requester import Requester
from bot.errors import UserInputError
from bot.orchestrator import models as M
from bot.orchestrator.jobs import (
    CleanupParams,
    JobKind,
    JobParams,
    StartParams,
    StopParams,
    TtlParams,
)
from bot.orchestrator.queries import Queries
from bot.orchestrator.service import Jobs
from bot.orchestrator.sweeper import Sweeper
from bot.slack import cards, views
from bot.slack.answers import (
    Replies,
    Respond,
    Say,
    answering,
    button_target,
    click_key,
    on_home,
    whisper,
    who_asked,
)
from bot.slack.auth import Authorizer, PerUserLimit
from bot.slack.home_desk import HomeDesk
from bot.slack.text import quote

READS_PER_MINUTE = 10  # read-only commands per user (SPEC §12)

_SLOW_DOWN = (
    f"🐢 Slow down: at most {READS_PER_MINUTE} `help`, `status`, `list`, `logs` or `creds` "
    "a minute each. Try again in a minute."
)


class Intake:
    """The slash command and the status message's buttons, as requests and answers."""

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
        self.auth = authorizer
        self.reads = PerUserLimit(READS_PER_MINUTE, 60.0, clock)
        self.replies = Replies(client, settings.showtime_github_logins)
        self.home_desk = HomeDesk(settings, jobs, queries, client, authorizer, self.replies)

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
        say = whisper(respond)
        with answering(say, body, usage=True):
            if isinstance(command, C.Status):
                self._status(command.pr, say)
            elif isinstance(command, C.ListEnvironments):
                overview = self.queries.overview()
                blocks = views.list_blocks(
                    overview.environments, self.queries.now(), spend=overview.spend
                )
                say("Showtime environments", blocks)
            elif isinstance(command, C.Notify):
                self.home_desk.notify(command.on, str(body.get("user_id", "")), say)
            elif refusal := self.auth.refusal(body.get("user_id", "")):
                # cleanup --dry-run too: it reads every labelled PR and every service.
                say(f"🚫 {refusal}")
            elif isinstance(command, C.Logs):
                self._logs(command.pr, command.lines, None, say)
            elif isinstance(command, C.Creds):
                self._creds(command.pr, None, say)
            elif isinstance(command, C.Cancel):
                user = str(body.get("user_id", ""))
                who = self.replies.requester(user, body.get("user_name", ""))
                self._cancel(command.pr, None, who, say)
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
                + (self.replies.thread_link(*thread) if thread else "")
            )
        where = self._where()
        cards_ = [cards.view_card(where, status, view) for view in status.environments]
        if not cards_:
            start = f" Start one with `/showtime start {pr}`." if status.state == "open" else ""
            footer.insert(0, f"No environment.{start}")
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
        self.replies.show(answer, request, say, quiet_duplicate=True)
        if isinstance(answer, M.Started) and not request.reporting.must_post:
            job = answer.job
            link = self.replies.thread_link(job.channel, job.thread_ts)
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
            requester=self.replies.requester(user, body.get("user_name", "")),
            reporting=M.Reporting.new_message(channel)
            if new_message
            else M.Reporting.in_pr_thread(),
            idempotency_key=f"slash:{body['trigger_id']}" if body.get("trigger_id") else None,
        )

    def _cancel(self, pr: int, queued_id: str | None, who: Requester, say: Say) -> None:
        """Cancel the PR's running deploy (or, with ``queued_id``, its queued one)."""
        answer = self.jobs.cancel(pr, who, queued_id=queued_id)
        if isinstance(answer, M.Cancelling):
            job = answer.job
            link = self.replies.thread_link(job.channel, job.thread_ts)
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
        say = self.home_desk.say_on_home(body) if on_home(body) else whisper(respond)
        user = str((body.get("user") or {}).get("id", ""))
        with answering(say, body, usage=False):
            if refusal := self.auth.refusal(user):
                say(f"🚫 {refusal}")
            elif action_id in HomeDesk.ACTIONS:
                self.home_desk.press(action_id, action, body, say)
            elif action_id == views.ACTION_LOGS:
                self._logs_button(action, user, say)
            elif action_id == views.ACTION_CREDENTIALS:
                self._credentials_button(action, user, say)
            elif action_id in (views.ACTION_CANCEL, views.ACTION_CANCEL_QUEUED):
                self._cancel_button(action_id, action, body, say)
            else:
                self._press(action_id, action, body, say)

    def _logs_button(self, action: dict[str, Any], user: str, say: Say) -> None:
        """Logs on a status message: that environment's log, only to the presser, no job."""
        if not self.reads.allow(user):
            say(_SLOW_DOWN)
            return
        pr, sha = button_target(action)
        self._logs(pr, C.LOG_LINES_DEFAULT, sha, say)

    def _cancel_button(
        self, action_id: str, action: dict[str, Any], body: dict[str, Any], say: Say
    ) -> None:
        pr, rest = button_target(action)
        # Cancel queued names its queued job ("" when an old message carries no id).
        queued_id = (rest or "") if action_id == views.ACTION_CANCEL_QUEUED else None
        self._cancel(pr, queued_id, self.replies.presser(body), say)

    def _press(
        self, action_id: str, action: dict[str, Any], body: dict[str, Any], say: Say
    ) -> None:
        pr, sha = button_target(action)
        kind, job_sha, params = _job_of_button(action_id, sha, body.get("response_url"))
        container = body.get("container") or {}
        message = body.get("message") or {}
        channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
        thread = message.get("thread_ts") or container.get("message_ts")
        home = on_home(body)
        if not container.get("is_ephemeral") and not home and channel and thread:
            reporting = M.Reporting.on_message(channel, thread)
        else:
            # Only slash commands create status messages: without a thread of the PR to
            # post in, the job answers through this press's response_url instead — or,
            # from the Home tab (which has none), in SHOWTIME_NOTIFY_CHANNEL.
            fallback = self.settings.showtime_notify_channel if home else None
            reporting = M.Reporting.in_pr_thread(fallback)
        request = M.JobRequest(
            kind=kind,
            pr=pr,
            sha=job_sha,
            requester=self.replies.presser(body),
            reporting=reporting,
            idempotency_key=click_key(action_id, container, message, action, body),
            params=params,
        )
        answer = self.jobs.submit(request)
        self.replies.show(answer, request, say, quiet_duplicate=False)
        if home and isinstance(answer, M.Started):
            self.home_desk.follow(answer.job, say)

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
        pr, sha = button_target(action)
        self._creds(pr, sha, say)

    # ----- helpers ------------------------------------------------------------

    def _where(self) -> cards.Where:
        return cards.Where(
            repository=self.settings.github_repository,
            default_ttl=self.settings.showtime_default_ttl,
            now=self.queries.now(),
        )


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


def _job_of_button(
    action_id: str, sha: str | None, answer: str | None
) -> tuple[JobKind, str | None, JobParams]:
    """Kind, SHA and parameters of the job a status message's button asks for."""
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
    return buttons[action_id]
