"""A Slack workspace's state: who and where, what was said, and who is told of changes.

The Web API methods (``web_api``, ``views``), the response URLs (``response_urls``) and
the tests' inspection methods (``SlackStandIn``) all work on this one state, under one
lock; every change wakes ``wait_for`` and reaches ``on_change`` subscribers.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from bot.clock import SYSTEM_CLOCK, Clock
from bot.errors import WaitTimeoutError
from bot.sandbox.slack.model import (
    BOT_USER_ID,
    BOT_USER_NAME,
    DEFAULT_CHANNEL,
    DEFAULT_CHANNEL_NAME,
    MAINTAINER_USER_ID,
    MAINTAINER_USER_NAME,
    MAINTAINERS_USERGROUP,
    PRIVATE_CHANNEL,
    PRIVATE_CHANNEL_NAME,
    ApiError,
    Channel,
    Content,
    Message,
    ResponseUrl,
    SlackChange,
    User,
    im_channel_id,
    with_block_ids,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class Trigger:
    """A ``trigger_id`` from an interaction: ``views.open`` takes it once, within 3 s."""

    user: str
    created: float  # the clock's monotonic time
    used: bool = False


class Workspace:
    """One Slack workspace: channels, people, messages, views; thread-safe."""

    def __init__(self, *, bot_token: str, app_token: str, clock: Clock = SYSTEM_CLOCK) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.clock = clock
        self.lock = threading.RLock()
        self._changed = threading.Condition(self.lock)
        self._last_ts_us = 0
        self.ids = itertools.count(1)
        self.channels: dict[str, Channel] = {}
        self.messages: dict[str, dict[str, Message]] = {}
        self.ephemeral_posts: list[dict[str, Any]] = []
        self.response_posts: list[dict[str, Any]] = []
        self.response_urls: dict[str, ResponseUrl] = {}
        self.users: dict[str, User] = {}
        self.usergroups: dict[str, list[str]] = {}
        self.published_homes: dict[str, list[dict[str, Any]]] = {}  # user → every Home tab
        self.open_modals: dict[str, list[dict[str, Any]]] = {}  # user → their modal's views
        self.triggers: dict[str, Trigger] = {}
        self.home_tab_enabled = True  # the manifest's features.app_home.home_tab_enabled
        self.socket_mode_url: str | None = None
        self.socket_tickets: set[str] = set()
        self.rate_limits: dict[str, list[int]] = {}
        self.failures: dict[str, list[tuple[str, int]]] = {}
        self.calls: Counter[str] = Counter()
        """API calls received per method (also those answered 429 or with an error)."""
        self._listeners: list[Callable[[SlackChange], None]] = []

        self.users[BOT_USER_ID] = User(BOT_USER_ID, BOT_USER_NAME, "Showtime", is_bot=True)
        self.add_user(MAINTAINER_USER_ID, MAINTAINER_USER_NAME, "Superset Maintainer", channels=())
        self.add_channel(DEFAULT_CHANNEL, DEFAULT_CHANNEL_NAME, users=[MAINTAINER_USER_ID])
        self.add_channel(
            PRIVATE_CHANNEL,
            PRIVATE_CHANNEL_NAME,
            member=False,
            private=True,
            users=[MAINTAINER_USER_ID],
        )
        self.add_usergroup(MAINTAINERS_USERGROUP, [MAINTAINER_USER_ID])

    # -- seeding --------------------------------------------------------------------------------

    def add_channel(
        self,
        id: str,
        name: str,
        member: bool = True,
        private: bool = False,
        *,
        im: bool = False,
        users: Iterable[str] = (),
    ) -> None:
        """Add (or replace) a channel; ``member`` says whether the bot is in it."""
        members = set(users)
        if member:
            members.add(BOT_USER_ID)
        with self.lock:
            self.channels[id] = Channel(id, name, private, im, members)
            self.messages.setdefault(id, {})

    def add_member(self, channel: str, user: str) -> None:
        """Put ``user`` (or the bot, ``BOT_USER_ID``: an ``/invite @showtime``) in ``channel``."""
        with self.lock:
            self.channel_by_id(channel).members.add(user)

    def add_user(
        self,
        id: str,
        name: str,
        real_name: str | None = None,
        *,
        channels: Iterable[str] = (DEFAULT_CHANNEL,),
    ) -> None:
        """Add a person; by default they are in #showtime, where slash commands come from."""
        with self.lock:
            self.users[id] = User(id, name, real_name or name)
            for channel in channels:
                self.channel_by_id(channel).members.add(id)

    def add_usergroup(self, id: str, users: Iterable[str]) -> None:
        with self.lock:
            self.usergroups[id] = list(users)

    # -- lookups and changes (call with the lock held) ------------------------------------------

    def next_ts(self) -> str:
        now_us = int(self.clock.now().timestamp() * 1_000_000)
        self._last_ts_us = max(now_us, self._last_ts_us + 1)
        seconds, micros = divmod(self._last_ts_us, 1_000_000)
        return f"{seconds}.{micros:06d}"

    def channel_by_id(self, channel: str) -> Channel:
        found = self.channels.get(channel)
        if found is None:
            raise KeyError(f"unknown channel {channel!r}; add it with add_channel() first")
        return found

    def visible_channel(self, reference: object) -> Channel:
        """The channel by ID or name, as the bot can see it: private ones only when a member."""
        if not isinstance(reference, str) or not reference:
            raise ApiError("channel_not_found")
        found = self.channels.get(reference)
        if found is None:
            name = reference.removeprefix("#")
            found = next((c for c in self.channels.values() if c.name == name), None)
        if found is None or ((found.is_private or found.is_im) and not found.bot_is_member):
            raise ApiError("channel_not_found")
        return found

    def im_with(self, user: str) -> Channel:
        """The app's direct-message channel with ``user`` (the Messages tab), opened once."""
        if user not in self.users or user == BOT_USER_ID:
            raise ApiError("user_not_found")
        channel_id = im_channel_id(user)
        if channel_id not in self.channels:
            self.add_channel(channel_id, user, im=True, users=[user])
        return self.channels[channel_id]

    def post(
        self, channel: Channel, content: Content, thread_ts: str | None, changes: list[SlackChange]
    ) -> Message:
        messages = self.messages[channel.id]
        parent = messages.get(thread_ts) if thread_ts else None
        if parent is not None and parent.thread_ts is not None:
            parent = messages[parent.thread_ts]
        if thread_ts and parent is None:
            logger.warning(
                "thread_ts %s matches no message in %s; posted top-level", thread_ts, channel.id
            )
        message = Message(
            channel.id,
            self.next_ts(),
            content.text,
            with_block_ids(content.blocks),
            content.attachments,
            thread_ts=parent.ts if parent is not None else None,
        )
        messages[message.ts] = message
        if parent is not None:
            parent.replies.append(message.ts)
        kind = "reply" if parent is not None else "message"
        changes.append(SlackChange(kind, channel.id, message.ts, message.render(extras=True)))
        return message

    def edit(
        self, message: Message, content: Content, keep_blocks: bool, changes: list[SlackChange]
    ) -> None:
        message.text = content.text
        if not keep_blocks:
            message.blocks = with_block_ids(content.blocks)
        if content.attachments:
            message.attachments = content.attachments
        message.edit_count += 1
        message.edited_ts = self.next_ts()
        changes.append(
            SlackChange("edit", message.channel, message.ts, message.render(extras=True))
        )

    def find_live_message(self, channel: Channel, ts: object) -> Message:
        found = self.messages[channel.id].get(ts) if isinstance(ts, str) else None
        if found is None or found.deleted:
            raise ApiError("message_not_found")
        return found

    # -- telling whoever waits or listens ---------------------------------------------------------

    def publish(self, changes: list[SlackChange]) -> None:
        """Wake waiters (also on calls that changed nothing: they may wait on ``calls``), then
        tell subscribers outside the lock so a slow one blocks nobody."""
        with self._changed:
            self._changed.notify_all()
            listeners = list(self._listeners)
        for change in changes:
            for listener in listeners:
                try:
                    listener(change)
                except Exception:
                    logger.exception("Slack stand-in change subscriber failed on %s", change.kind)

    def wait_for(
        self, predicate: Callable[[], T], timeout: float = 10.0, description: str = "condition"
    ) -> T:
        """Block until ``predicate()`` is truthy (re-checked on every change) and return it.

        Real time on purpose: this waits for other threads (the bot) to call the stand-in, so
        a fake clock would not make it any faster — it returns as soon as the change lands.
        """
        deadline = SYSTEM_CLOCK.monotonic() + timeout
        with self._changed:
            while True:
                result = predicate()
                if result:
                    return result
                remaining = deadline - SYSTEM_CLOCK.monotonic()
                if remaining <= 0:
                    raise WaitTimeoutError(
                        f"Slack stand-in: {description} not met within {timeout:g}s",
                        "check the bot's log for the failing Slack call",
                    )
                self._changed.wait(remaining)

    def on_change(self, callback: Callable[[SlackChange], None]) -> Callable[[], None]:
        """Call ``callback`` after each visible change; returns a function that unsubscribes."""
        with self.lock:
            self._listeners.append(callback)

        def unsubscribe() -> None:
            with self.lock:
                if callback in self._listeners:
                    self._listeners.remove(callback)

        return unsubscribe
