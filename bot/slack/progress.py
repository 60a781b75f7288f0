"""The thread reporter: turns a job's progress events into Slack messages.

One reply per step (posted when it starts, edited in place when it finishes), at
most one heartbeat reply a minute during long waits, and at the end a reply that
mentions the requester plus an in-place update of the status message — and of the PR's
earlier status messages the job made untrue (a stop, a rolling update). Jobs that
have no thread yet (the sweeper's, say) get a top-level message first, which
becomes their thread, so later buttons and resumed jobs post in the same place.

Every event text is quoted (``bot.slack.text.quote``) before it is posted. The texts
are the orchestrator's and the ECS adapter's sentences, which carry their own
backticks and *bold* but never ``<…>`` markup, and they quote what outsiders wrote:
AWS and GitHub error messages, a container's stop reason, feature-flag lines of a PR
description, label values. Escaping them all here makes the whole thread inert; the
one piece of markup the reporter means, the requester's ``<@U…>``, is added after.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from bot.clock import SYSTEM_CLOCK, Clock
from bot.config import Settings
from bot.domain import events as ev
from bot.domain.events import WAIT_REPORT_SECONDS, format_elapsed
from bot.domain.requester import Requester, RequesterKind
from bot.orchestrator.jobs import Job, PrRecord
from bot.orchestrator.models import Notice
from bot.orchestrator.ports import CannotPostError
from bot.slack import cards
from bot.slack.text import log_line, mention, quote
from bot.slack.views import Card, card_blocks, card_text, failure_log_text, notice_blocks

log = logging.getLogger(__name__)

REPLY_LIMIT = 3000  # characters of one event's text in a reply (Slack's section limit)


def said(text: str) -> str:
    """An event's text as a thread reply shows it: bounded and inert."""
    return quote(text, REPLY_LIMIT, multiline=True)


HEARTBEAT_LOG_CHARS = 150  # the newest log line on a health-check heartbeat (SPEC §14)


def newest_line(event: ev.Waiting) -> str:
    """`` — `Running database migrations` `` when the event carries the newest log line."""
    line = log_line(event.log_line, HEARTBEAT_LOG_CHARS) if event.log_line else ""
    return f" — `{line}`" if line.strip() else ""


def failure_log(job: Job, event: ev.Failed | ev.Succeeded) -> str:
    """The failing task's log (or why there is none) as the failure's last lines; a
    degraded environment's, likewise."""
    if event.log is None:
        return ""
    record = job.record
    # A failure that left no log (its container never ran) has no console link either.
    logs_url = record.logs_url if isinstance(record, PrRecord) else None
    return "\n" + failure_log_text(event.log, logs_url or None)


def succeeded_text(prefix: str, job: Job, event: ev.Succeeded) -> str:
    """ "🎉 @x #36121 runs abc1234 at http://…" with what the smoke check saw pass — or 🟠,
    the check that keeps failing, what to do, and the environment's last lines."""
    if not event.degraded:
        checked = f"\n{said(event.checked)}" if event.checked else ""
        return f"🎉 {prefix}{said(event.text)}{checked}"
    return (
        f"🟠 {prefix}{said(event.text)} — *degraded*: {said(event.degraded)}\n"
        "*Next:* the log below may say why; push a fix (the environment rolls forward), "
        "or press *Check again* on the status message once it works" + failure_log(job, event)
    )


def cancelled_line(job: Job, event: ev.Cancelled) -> str:
    """ "#36121 start cancelled by @x after 2m10s" — the canceller mentioned when a Slack user."""
    by = Requester.parse(event.by)
    # A GitHub login cancels by acting on GitHub (closing the PR, a trigger-stop label).
    who = mention(by.slack_user) or quote(by.label_name, 80)
    if by.kind is RequesterKind.GITHUB:
        who += " on GitHub"
    subject = f"#{job.pr} " if job.pr is not None else ""
    return f"{subject}{job.kind} cancelled by {who} after {format_elapsed(event.after_seconds)}"


class ThreadReporter:
    """The orchestrator's ``Listener`` and ``ThreadOpener`` for Slack."""

    def __init__(self, client: WebClient, settings: Settings, clock: Clock = SYSTEM_CLOCK) -> None:
        self._client = client
        self._settings = settings
        self._clock = clock
        self._lock = threading.Lock()
        self._step_replies: dict[tuple[str, str], str] = {}
        self._last_wait: dict[str, tuple[float, str]] = {}
        self._shown: dict[str, Card] = {}  # the final card each job's outcome showed

    def where(self) -> cards.Where:
        return cards.Where(
            repository=self._settings.github_repository,
            default_ttl=self._settings.showtime_default_ttl,
            now=self._clock.now(),
        )

    def open_thread(self, job: Job) -> str:
        """The job's status message in ``job.channel``, whose ts becomes its thread."""
        card = cards.progress_card(self.where(), job)
        try:
            response = self._client.chat_postMessage(
                channel=job.channel or "",
                text=card_text(card),
                blocks=card_blocks(card),
                unfurl_links=False,
            )
        except SlackApiError as exc:
            raise CannotPostError(str(exc.response.get("error"))) from exc
        return str(response["ts"])

    def show_progress(self, job: Job) -> None:
        """The status message a button was pressed on shows the job under way."""
        if not job.channel or not job.thread_ts:
            return
        card = cards.progress_card(self.where(), job)
        self._update(job.channel, job.thread_ts, card_text(card), blocks=card_blocks(card))

    def notice(self, notice: Notice) -> None:
        if not notice.channel:
            return
        icon = "⌛" if notice.offer == "extend" else "📌"
        # The person it is for is mentioned — only a Slack user, after the words were escaped.
        who = mention(notice.to.slack_user) if notice.to is not None else None
        text = f"{icon} {who + ' ' if who else ''}{said(notice.text)}"
        blocks = notice_blocks(text, pr=notice.pr, sha=notice.sha, offer=notice.offer)
        self._post(notice.channel, notice.thread_ts, text, blocks=blocks)

    def job_event(self, job: Job, event: ev.Event) -> None:
        if isinstance(event, ev.Ended):
            self._retire(job)
        if not job.channel or not job.thread_ts:
            self._respond(job, event)
            return
        channel, thread = job.channel, job.thread_ts
        if isinstance(event, ev.StepStarted):
            ts = self._post(channel, thread, f"⏳ {said(event.text)}")
            if ts:
                with self._lock:
                    self._step_replies[(job.id, event.step)] = ts
        elif isinstance(event, ev.StepFinished):
            with self._lock:
                ts = self._step_replies.pop((job.id, event.step), None)
            if ts:
                self._update(channel, ts, f"✅ {said(event.text)}")
            else:
                self._post(channel, thread, f"✅ {said(event.text)}")
        elif isinstance(event, ev.Waiting):
            if self._heartbeat_due(job.id, event):
                self._post(channel, thread, f"⏳ {said(event.text)}{newest_line(event)}")
        elif isinstance(event, ev.Warning):
            self._post(channel, thread, f"⚠️ {said(event.text)}")
        elif isinstance(event, ev.Note):
            self._post(channel, thread, f"📌 {said(event.text)}")
        elif isinstance(event, ev.Queued):
            self._post(channel, thread, f"⏳ {said(event.text)}")
        elif isinstance(event, ev.Resumed):
            self._post(
                channel,
                thread,
                f"🔁 resumed after restart (last finished step: {said(event.step)})",
            )
        elif isinstance(event, ev.Succeeded | ev.Failed | ev.Cancelled):
            self._announce(job, channel, thread, event)
        elif isinstance(event, ev.Ended):
            self._finish(job, channel, thread, event.outcome)

    # ----- pieces -------------------------------------------------------------

    def _heartbeat_due(self, job_id: str, event: ev.Waiting) -> bool:
        """State changes always show; the same state at most once a minute."""
        now = self._clock.monotonic()
        with self._lock:
            last = self._last_wait.get(job_id)
            if last and last[1] == event.state and now - last[0] < WAIT_REPORT_SECONDS:
                return False
            self._last_wait[job_id] = (now, event.state)
        return True

    def _announce(self, job: Job, channel: str, thread: str, event: ev.Outcome) -> None:
        """The outcome, in the thread to the requester and on the status message, at the
        same moment: the moment their wait ends (SPEC §10). What the job still does after
        (label colours, Deployment statuses) changes the message only if it changes what
        it shows."""
        card = cards.final_card(self.where(), job, event)
        self._update(channel, thread, card_text(card), blocks=card_blocks(card))
        with self._lock:
            self._shown[job.id] = card
        who = mention(job.requester.slack_user)
        # The mention goes in after the event's words were escaped: it is the bot's markup.
        prefix = f"{who} " if who else ""
        if isinstance(event, ev.Succeeded):
            text = succeeded_text(prefix, job, event)
        elif isinstance(event, ev.Cancelled):
            text = f"⏹ {prefix}{cancelled_line(job, event)}"
        else:
            nxt = f"\n*Next:* {said(event.next_action)}" if event.next_action else ""
            ref = said(event.correlation_id)
            # Beside the reason, why in the environment's own words (SPEC §14).
            text = f"❌ {prefix}failed: {said(event.reason)}{nxt}\n_ref `{ref}`_"
            text += failure_log(job, event)
        self._post(channel, thread, text)

    def _finish(self, job: Job, channel: str, thread: str, event: ev.Outcome) -> None:
        """The status message shows the end, buttons included, as the job ends (unless the
        outcome's announcement showed it already)."""
        card = cards.final_card(self.where(), job, event)
        with self._lock:
            shown = self._shown.pop(job.id, None)
        if card != shown:
            self._update(channel, thread, card_text(card), blocks=card_blocks(card))
        with self._lock:
            self._last_wait.pop(job.id, None)
            for key in [k for k in self._step_replies if k[0] == job.id]:
                self._step_replies.pop(key, None)

    def _retire(self, job: Job) -> None:
        """The PR's earlier status messages that ``job``'s end made untrue (it stopped or
        replaced what they show) say so, with only Start again: one chat.update each,
        best effort (SPEC §17)."""
        record = job.record
        if not isinstance(record, PrRecord) or not record.outdated:
            return
        where = self.where()
        for message in record.outdated:
            card = cards.outdated_card(where, job, message)
            self._update(message.channel, message.ts, card_text(card), blocks=card_blocks(card))

    def _respond(self, job: Job, event: ev.Event) -> None:
        """Jobs without a thread answer their requester through the command's response_url."""
        if not isinstance(event, ev.Ended):
            return
        event = event.outcome
        url = job.params.response_url
        if not url:
            return
        if isinstance(event, ev.Succeeded):
            text = succeeded_text("", job, event).replace("🎉", "✅", 1)
        elif isinstance(event, ev.Cancelled):
            text = f"⏹ {cancelled_line(job, event)}"
        else:
            text = f"❌ {said(event.reason)} {said(event.next_action)}" + failure_log(job, event)
        try:
            WebhookClient(url).send(text=text, response_type="ephemeral")
        except Exception:
            log.warning("could not answer through response_url", extra={"job": job.correlation_id})

    def _post(
        self,
        channel: str,
        thread: str | None,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
    ) -> str | None:
        try:
            response = self._client.chat_postMessage(
                channel=channel, thread_ts=thread, text=text, blocks=blocks, unfurl_links=False
            )
            return str(response["ts"])
        except SlackApiError as exc:
            log.warning(
                "Slack chat.postMessage failed: %s",
                exc.response.get("error"),
                extra={"channel": channel},
            )
            return None

    def _update(
        self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]] | None = None
    ) -> None:
        try:
            self._client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks or [])
        except SlackApiError as exc:
            log.warning(
                "Slack chat.update failed: %s",
                exc.response.get("error"),
                extra={"channel": channel},
            )
