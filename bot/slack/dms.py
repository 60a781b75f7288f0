"""Direct messages to the person who asked (SPEC §16): ready, failed, an hour before expiry.

A listener of the service layer, beside the thread reporter: it hears every job's ``Ended``
and every notice, and writes to the Slack user a start was for — never to a GitHub login
(a webhook's start) or the bot itself, which have no one to write to. A person can turn it
off (``/showtime notify off``, kept in the job store; on by default).

A DM is ``chat.postMessage`` to the person's user id: it lands in the app's Messages tab,
and ``chat:write`` is all it needs (no ``conversations.open``, so no ``im:write``). Each is one
Slack call: the link to the job's thread is built from the workspace's URL, which
``auth.test`` tells once per process, instead of a ``chat.getPermalink`` per message.

A DM that Slack refuses (the person left, DMs closed) is logged and forgotten: it never
fails the job or delays anyone else's.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.domain import events as ev
from bot.errors import ShowtimeError
from bot.orchestrator.jobs import Job, JobKind, JobStore, StartRecord
from bot.orchestrator.models import Notice
from bot.slack import views

log = logging.getLogger(__name__)


class DirectMessages:
    """The orchestrator's ``Listener`` that writes to people directly."""

    def __init__(self, client: WebClient, store: JobStore, repository: str) -> None:
        self._client = client
        self._store = store
        self._repository = repository
        self._lock = threading.Lock()
        self._workspace_url: str | None = None

    # ----- what the service layer tells -----------------------------------------------------

    def job_event(self, job: Job, event: ev.Event) -> None:
        """A start that ended (ready or failed) is told to the Slack user who asked for it."""
        if not isinstance(event, ev.Ended) or job.kind is not JobKind.START:
            return
        user = job.requester.slack_user
        outcome = event.outcome
        if user is None or job.pr is None or isinstance(outcome, ev.Cancelled):
            return
        if not self._wanted(user):
            return
        record = job.record if isinstance(job.record, StartRecord) else StartRecord()
        thread = self.thread_url(job.channel, job.thread_ts)
        if isinstance(outcome, ev.Succeeded):
            blocks = views.ready_dm_blocks(
                repository=self._repository,
                pr=job.pr,
                title=record.title,
                sha=record.sha7,
                url=outcome.url or None,
                thread_url=thread,
                degraded=outcome.degraded,
            )
            text = f"🎉 #{job.pr} {record.sha7} is ready"
            if outcome.degraded:
                text = f"🟠 #{job.pr} {record.sha7} is up, but degraded"
        else:
            blocks = views.failed_dm_blocks(
                repository=self._repository,
                pr=job.pr,
                sha=record.sha7 or None,
                reason=outcome.reason,
                next_action=outcome.next_action,
                thread_url=thread,
            )
            text = f"❌ #{job.pr}: your deploy failed"
        self._send(user, text, blocks, what=f"#{job.pr} {type(outcome).__name__.lower()}")

    def notice(self, notice: Notice) -> None:
        """The expiry warning is told to whoever the environment is for, with Extend (when it
        can go longer)."""
        if notice.about != "expiry" or notice.to is None:
            return
        user = notice.to.slack_user
        if user is None or not self._wanted(user):
            return
        blocks = views.expiry_dm_blocks(
            text=notice.text,
            pr=notice.pr,
            sha=notice.sha,
            thread_url=self.thread_url(notice.channel, notice.thread_ts),
            extend=notice.offer == "extend",
        )
        self._send(user, f"⌛ #{notice.pr} expires soon", blocks, what=f"#{notice.pr} expiry")

    # ----- pieces ---------------------------------------------------------------------------

    def _wanted(self, user: str) -> bool:
        try:
            return self._store.notify_wanted(user)
        except ShowtimeError as exc:
            # Not knowing whether they turned DMs off, none is sent: the thread still says it.
            log.warning("no direct message to %s: the setting could not be read (%s)", user, exc)
            return False

    def _send(self, user: str, text: str, blocks: list[dict[str, Any]], *, what: str) -> None:
        try:
            self._client.chat_postMessage(
                channel=user, text=text, blocks=blocks, unfurl_links=False
            )
        except SlackApiError as exc:
            log.warning(
                "direct message to %s (%s) refused by Slack: %s",
                user,
                what,
                exc.response.get("error"),
            )
        except Exception as exc:  # the network: a DM is never worth failing for
            log.warning("direct message to %s (%s) failed: %s", user, what, type(exc).__name__)

    def thread_url(self, channel: str | None, ts: str | None) -> str | None:
        """The permalink of a status message, as ``chat.getPermalink`` would answer it
        (``https://<workspace>.slack.com/archives/<channel>/p<ts without the dot>``); None
        when there is none, or the workspace's URL cannot be learned."""
        # A message posted to a user id has no conversation id to link to.
        if not channel or not ts or channel[:1] in ("U", "W"):
            return None
        base = self._workspace()
        return f"{base}archives/{channel}/p{ts.replace('.', '')}" if base else None

    def _workspace(self) -> str | None:
        with self._lock:
            if self._workspace_url is not None:
                return self._workspace_url
        try:
            url = str(self._client.auth_test().get("url") or "")
        except (SlackApiError, OSError) as exc:
            error = exc.response.get("error") if isinstance(exc, SlackApiError) else exc
            log.warning("auth.test failed (%s): direct messages go without thread links", error)
            return None
        if not url:
            return None
        url = url if url.endswith("/") else url + "/"
        with self._lock:
            self._workspace_url = url
        return url
