"""``SlackStandIn``: a workspace served over HTTP, and what tests do and see in it."""

from __future__ import annotations

import copy
from typing import Any

from bot.clock import SYSTEM_CLOCK, Clock
from bot.sandbox.serving import LoopbackServer
from bot.sandbox.slack import response_urls, views
from bot.sandbox.slack.model import (
    APP_ID,
    BOT_USER_ID,
    DEFAULT_APP_TOKEN,
    DEFAULT_BOT_TOKEN,
    DEFAULT_CHANNEL,
    MAINTAINER_USER_ID,
    TEAM_DOMAIN,
    TEAM_ID,
    SlackChange,
    im_channel_id,
    searchable_text,
    ts_key,
)
from bot.sandbox.slack.server import SlackApp
from bot.sandbox.slack.workspace import Trigger, Workspace


class SlackStandIn(Workspace):
    """A Slack workspace on 127.0.0.1: Web API under ``/api/``, response URLs under ``/response/``.

    Use as a context manager (or ``start()``/``stop()``). Every inspection method is
    thread-safe and returns copies, so tests can read while the bot writes.
    """

    def __init__(
        self,
        *,
        bot_token: str = DEFAULT_BOT_TOKEN,
        app_token: str = DEFAULT_APP_TOKEN,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        super().__init__(bot_token=bot_token, app_token=app_token, clock=clock)
        self.team_id = TEAM_ID
        self.team_domain = TEAM_DOMAIN
        self.bot_user_id = BOT_USER_ID
        self.app_id = APP_ID
        self.web = SlackApp(self, lambda: self.url)
        self._server = LoopbackServer(self.web, "Slack stand-in", host=host, port=port)

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> SlackStandIn:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> SlackStandIn:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` (no trailing slash)."""
        return self._server.url

    @property
    def api_url(self) -> str:
        """The ``base_url`` for ``slack_sdk.WebClient`` (and ``SLACK_API_URL``)."""
        return self.url + "/api/"

    # -- faults ---------------------------------------------------------------------------------

    def rate_limit(self, method: str, times: int = 1, retry_after: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` with 429 and ``Retry-After``."""
        with self.lock:
            self.rate_limits[method] = [times, retry_after]

    def fail(self, method: str, error: str, times: int = 1, status: int = 200) -> None:
        """Answer the next ``times`` calls of ``method`` with ``{"ok": false, "error": error}``."""
        with self.lock:
            self.failures[method] = [(error, status)] * times

    def reset_calls(self) -> None:
        with self.lock:
            self.calls.clear()

    # -- what Slack hands out with an interaction -------------------------------------------------

    def new_response_url(
        self,
        channel: str = DEFAULT_CHANNEL,
        user: str = MAINTAINER_USER_ID,
        *,
        message_ts: str | None = None,
        ephemeral: bool = False,
    ) -> str:
        """Mint a ``response_url`` as Slack does for a command (or, with ``message_ts``, for a
        button on that message, so ``replace_original`` edits it)."""
        return response_urls.mint(self, self.url, channel, user, message_ts, ephemeral)

    def register_trigger(self, trigger_id: str, user: str) -> None:
        """``trigger_id`` came with an interaction by ``user`` now: ``views.open`` may take it
        once, within 3 seconds (by the injected clock)."""
        with self.lock:
            self.triggers[trigger_id] = Trigger(user, self.clock.monotonic())

    def answer_submission(self, user: str, answer: object) -> None:
        """Do with ``user``'s modal what Slack does with the app's answer to its submission
        (``views.answer_submission``): close it, keep it open, update it or push a view."""
        changes: list[SlackChange] = []
        with self.lock:
            views.answer_submission(self, user, answer, changes)
        self.publish(changes)

    # -- Socket Mode ----------------------------------------------------------------------------

    def serve_socket_mode(self, websocket_url: str | None) -> None:
        """Have ``apps.connections.open`` hand out one-time URLs under ``websocket_url``
        (the Socket Mode stand-in's ``ws://127.0.0.1:<port>``); None turns Socket Mode off."""
        with self.lock:
            self.socket_mode_url = websocket_url
            self.socket_tickets.clear()

    def redeem_socket_ticket(self, ticket: str) -> bool:
        """True the first time ``ticket`` (from an ``apps.connections.open`` URL) is used."""
        with self.lock:
            if ticket in self.socket_tickets:
                self.socket_tickets.remove(ticket)
                return True
            return False

    # -- inspection -----------------------------------------------------------------------------

    def channel_messages(self, channel: str = DEFAULT_CHANNEL) -> list[dict[str, Any]]:
        """Top-level messages in order, each in its latest version (with ``edit_count``)."""
        with self.lock:
            return [
                m.render(extras=True)
                for m in self.messages.get(channel, {}).values()
                if m.thread_ts is None and not m.deleted
            ]

    def direct_messages(self, user: str) -> list[dict[str, Any]]:
        """What the app posted in its DM with ``user`` (their Messages tab), in order."""
        return self.channel_messages(im_channel_id(user))

    def thread(self, channel: str, ts: str) -> list[dict[str, Any]]:
        """The replies under message ``ts``, in order (the parent itself not included)."""
        with self.lock:
            messages = self.messages.get(channel, {})
            parent = messages.get(ts)
            if parent is None:
                return []
            return [
                messages[r].render(extras=True) for r in parent.replies if not messages[r].deleted
            ]

    def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        """One message (top-level or reply) in its latest version, or None."""
        with self.lock:
            found = self.messages.get(channel, {}).get(ts)
            return None if found is None or found.deleted else found.render(extras=True)

    def ephemerals(
        self, channel: str | None = None, user: str | None = None
    ) -> list[dict[str, Any]]:
        """``chat.postEphemeral`` posts; ``user`` in each is the person who saw it."""
        with self.lock:
            return [
                copy.deepcopy(e)
                for e in self.ephemeral_posts
                if (channel is None or e["channel"] == channel)
                and (user is None or e["user"] == user)
            ]

    def responses(self, response_url: str | None = None) -> list[dict[str, Any]]:
        """Posts to response URLs, in order, with the URL's channel and user."""
        with self.lock:
            return [
                copy.deepcopy(r)
                for r in self.response_posts
                if response_url is None or r["response_url"] == response_url
            ]

    def home_view(self, user: str) -> dict[str, Any] | None:
        """The Home tab ``user`` sees now (the last ``views.publish`` for them), or None."""
        with self.lock:
            views = self.published_homes.get(user)
            return copy.deepcopy(views[-1]) if views else None

    def home_views(self, user: str) -> list[dict[str, Any]]:
        """Every Home tab published for ``user``, oldest first."""
        with self.lock:
            return copy.deepcopy(self.published_homes.get(user, []))

    def modal(self, user: str) -> dict[str, Any] | None:
        """The modal view ``user`` sees now (opened, perhaps updated, not closed), or None."""
        with self.lock:
            stack = self.open_modals.get(user)
            return copy.deepcopy(stack[-1]) if stack else None

    def find_message(self, text_substring: str) -> dict[str, Any] | None:
        """The most recent channel message or reply whose text or block text contains it."""
        with self.lock:
            candidates = [
                m
                for messages in self.messages.values()
                for m in messages.values()
                if not m.deleted and text_substring in searchable_text(m)
            ]
            if not candidates:
                return None
            latest = max(candidates, key=lambda m: ts_key(m.ts))
            return latest.render(extras=True)

    def user(self, user_id: str) -> dict[str, Any] | None:
        with self.lock:
            found = self.users.get(user_id)
            return None if found is None else found.info()

    def channel(self, channel_id: str) -> dict[str, Any] | None:
        """``conversations.info``'s shape plus ``members`` (ignores the bot's visibility)."""
        with self.lock:
            found = self.channels.get(channel_id)
            if found is None:
                return None
            return {**found.info(), "members": sorted(found.members)}
