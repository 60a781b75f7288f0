"""A local, stateful stand-in for the Slack Web API.

``slack_sdk.WebClient(token=..., base_url=standin.api_url)`` talks to it unchanged, so the bot,
its tests and ``showtime-bot sandbox`` run the real Slack code path with no Slack account.
It keeps what a person would see in Slack (channel messages, threads, edits, ephemerals,
``response_url`` answers) and rejects what Slack rejects, because the point of a stand-in is
to fail where production would: a 51st block, an over-long section, a post to a channel the
bot was never invited to.

Faithful details worth knowing when reading test failures:

- A private channel or DM the bot is not in does not exist for the bot: posting there, or
  asking ``conversations.info`` about it, answers ``channel_not_found`` (as Slack does);
  a public channel it is not in answers ``not_in_channel``.
- ``chat.update`` without ``blocks`` keeps the message's previous blocks (Slack's documented
  behaviour); send ``blocks=[]`` to remove them.
- A ``thread_ts`` that matches no message posts to the channel instead of a thread, as
  Slack does: a misplaced reply shows up where a person would notice it.
- A ``response_url`` takes at most five posts within 30 minutes (by the injected clock).
- ``views.publish`` takes only ``home`` views of at most 100 blocks (the same Block Kit
  checks as messages, pointers under ``/view``), for a user the workspace knows; a ``hash``
  that is not the stored view's is a ``hash_conflict``. The latest view per user is kept
  (``home_view``) along with every one published (``home_views``).
- ``apps.connections.open`` takes only the app-level token (``xapp-…``), in the
  Authorization header, and answers a one-time websocket URL of the Socket Mode stand-in
  (``bot.sandbox.socket_mode``) once one serves this workspace; every other method takes
  only the bot token (``not_allowed_token_type`` otherwise, as Slack answers).
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import json
import logging
import secrets
import socket
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

from bot.clock import SYSTEM_CLOCK, Clock
from bot.errors import WaitTimeoutError

logger = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_BOT_TOKEN = "xoxb-sandbox-showtime"
DEFAULT_APP_TOKEN = "xapp-1-A0SHOWTIME-1-sandbox"
TEAM_ID = "T0SANDBOX"
TEAM_DOMAIN = "showtime-sandbox"
TEAM_NAME = "Showtime Sandbox"
BOT_USER_ID = "U0SHOWBOT"
BOT_USER_NAME = "showtime"
BOT_ID = "B0SHOWBOT"
APP_ID = "A0SHOWTIME"
DEFAULT_CHANNEL = "C0SHOWTIME"
DEFAULT_CHANNEL_NAME = "showtime"
PRIVATE_CHANNEL = "C0PRIVATE"
PRIVATE_CHANNEL_NAME = "showtime-private"
MAINTAINER_USER_ID = "U0MAINTAINER"
MAINTAINER_USER_NAME = "maintainer"
MAINTAINERS_USERGROUP = "S0MAINTAINERS"

# Slack's limits (https://api.slack.com/reference/block-kit and chat.postMessage).
MAX_BLOCKS = 50
MAX_VIEW_BLOCKS = 100  # a Home tab (or modal) view
MAX_VIEW_BYTES = 250_000  # views.publish: view_too_large beyond
MAX_PRIVATE_METADATA = 3000
MAX_TEXT_OBJECT = 3000
MAX_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_ACTIONS_ELEMENTS = 25
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_URL = 3000
MAX_ID = 255
MAX_MESSAGE_TEXT = 40000
RESPONSE_URL_USES = 5
RESPONSE_URL_LIFETIME_SECONDS = 30 * 60
# Web API methods that take the app-level token (and no other).
_APP_TOKEN_METHODS = frozenset({"apps.connections.open"})

_BLOCK_TYPES = frozenset(
    {
        "actions",
        "context",
        "divider",
        "file",
        "header",
        "image",
        "input",
        "markdown",
        "rich_text",
        "section",
        "table",
        "video",
    }
)
_TEXT_OBJECT_TYPES = frozenset({"plain_text", "mrkdwn"})


# ---------------------------------------------------------------------------------------------
# Block Kit validation


def block_kit_problems(
    blocks: object, *, max_blocks: int = MAX_BLOCKS, pointer: str = "/blocks"
) -> list[str]:
    """What Slack would reject in ``blocks``, in Slack's own wording; empty when valid.

    Public so view code can be checked against Slack's limits without an HTTP round trip.
    A message takes 50 blocks; a Home tab view 100 (``max_blocks=MAX_VIEW_BLOCKS``).
    """
    if not isinstance(blocks, list):
        return [f"[ERROR] must be an array [json-pointer:{pointer}]"]
    problems: list[str] = []
    if len(blocks) > max_blocks:
        problems.append(f"[ERROR] no more than {max_blocks} items allowed [json-pointer:{pointer}]")
    block_ids: set[str] = set()
    for index, block in enumerate(blocks):
        problems.extend(_block_problems(block, f"{pointer}/{index}", block_ids))
    return problems


def home_view_problems(view: object) -> list[str]:
    """What ``views.publish`` would reject in a Home tab ``view``; empty when valid."""
    if not isinstance(view, dict):
        return ["[ERROR] must be an object [json-pointer:/view]"]
    problems: list[str] = []
    if view.get("type") != "home":
        problems.append("[ERROR] must be one of: home [json-pointer:/view/type]")
    problems += block_kit_problems(
        view.get("blocks"), max_blocks=MAX_VIEW_BLOCKS, pointer="/view/blocks"
    )
    for key, limit in (("private_metadata", MAX_PRIVATE_METADATA), ("callback_id", MAX_ID)):
        if key in view:
            problems += _length_problem(view[key], limit, f"/view/{key}")
    return problems


def _problem(message: str, pointer: str) -> str:
    return f"[ERROR] {message} [json-pointer:{pointer}]"


def _length_problem(value: object, limit: int, pointer: str) -> list[str]:
    if not isinstance(value, str):
        return [_problem("must be a string", pointer)]
    if len(value) > limit:
        return [_problem(f"must be less than {limit + 1} characters", pointer)]
    return []


def _block_problems(block: object, where: str, block_ids: set[str]) -> list[str]:
    if not isinstance(block, dict) or not isinstance(block.get("type"), str):
        return [_problem("must be an object with a type", where)]
    kind = block["type"]
    if kind not in _BLOCK_TYPES:
        return [_problem(f"unsupported type: {kind}", f"{where}/type")]
    problems = _text_object_problems(block, where)
    if "block_id" in block:
        problems += _length_problem(block["block_id"], MAX_ID, f"{where}/block_id")
        if block["block_id"] in block_ids:
            problems.append(_problem("duplicate block_id", f"{where}/block_id"))
        block_ids.add(str(block["block_id"]))
    if kind == "section":
        problems += _section_problems(block, where)
    elif kind == "header":
        text = block.get("text")
        if not isinstance(text, dict) or text.get("type") != "plain_text":
            problems.append(_problem("must be a plain_text object", f"{where}/text"))
        else:
            problems += _length_problem(text.get("text"), MAX_HEADER_TEXT, f"{where}/text/text")
    elif kind == "context":
        elements = block.get("elements")
        if not isinstance(elements, list) or not elements:
            problems.append(_problem("must provide at least one element", f"{where}/elements"))
        elif len(elements) > MAX_CONTEXT_ELEMENTS:
            problems.append(
                _problem(f"no more than {MAX_CONTEXT_ELEMENTS} items allowed", f"{where}/elements")
            )
    elif kind == "actions":
        problems += _actions_problems(block, where)
    return problems


def _section_problems(block: dict[str, Any], where: str) -> list[str]:
    problems: list[str] = []
    fields = block.get("fields")
    if "text" not in block and not fields:
        problems.append(_problem("must provide either text or fields", where))
    if fields is not None:
        if not isinstance(fields, list) or len(fields) > MAX_FIELDS:
            problems.append(
                _problem(f"must be an array of at most {MAX_FIELDS} items", f"{where}/fields")
            )
        else:
            for i, item in enumerate(fields):
                text = item.get("text") if isinstance(item, dict) else None
                problems += _length_problem(text, MAX_FIELD_TEXT, f"{where}/fields/{i}/text")
    accessory = block.get("accessory")
    if isinstance(accessory, dict) and accessory.get("type") == "button":
        problems += _button_problems(accessory, f"{where}/accessory")
    return problems


def _actions_problems(block: dict[str, Any], where: str) -> list[str]:
    elements = block.get("elements")
    if not isinstance(elements, list) or not elements:
        return [_problem("must provide at least one element", f"{where}/elements")]
    problems: list[str] = []
    if len(elements) > MAX_ACTIONS_ELEMENTS:
        problems.append(
            _problem(f"no more than {MAX_ACTIONS_ELEMENTS} items allowed", f"{where}/elements")
        )
    action_ids: set[str] = set()
    for i, element in enumerate(elements):
        pointer = f"{where}/elements/{i}"
        if not isinstance(element, dict):
            problems.append(_problem("must be an object", pointer))
            continue
        if element.get("type") == "button":
            problems += _button_problems(element, pointer)
        action_id = element.get("action_id")
        if action_id is not None:
            if action_id in action_ids:
                problems.append(_problem("duplicate action_id", f"{pointer}/action_id"))
            action_ids.add(str(action_id))
    return problems


def _button_problems(button: dict[str, Any], where: str) -> list[str]:
    problems: list[str] = []
    text = button.get("text")
    if not isinstance(text, dict) or text.get("type") != "plain_text":
        problems.append(_problem("must be a plain_text object", f"{where}/text"))
    else:
        problems += _length_problem(text.get("text"), MAX_BUTTON_TEXT, f"{where}/text/text")
    for key, limit in (("action_id", MAX_ID), ("value", MAX_BUTTON_VALUE), ("url", MAX_URL)):
        if key in button:
            problems += _length_problem(button[key], limit, f"{where}/{key}")
    if "style" in button and button["style"] not in ("primary", "danger"):
        problems.append(_problem("must be one of: primary, danger", f"{where}/style"))
    return problems


def _text_object_problems(node: object, where: str) -> list[str]:
    """Every text object anywhere in a block: 1 to 3000 characters (Slack's general limit)."""
    problems: list[str] = []
    if isinstance(node, dict):
        if node.get("type") in _TEXT_OBJECT_TYPES:
            text = node.get("text")
            if not isinstance(text, str):
                problems.append(_problem("must be a string", f"{where}/text"))
            elif not text:
                problems.append(_problem("must be more than 0 characters", f"{where}/text"))
            else:
                problems += _length_problem(text, MAX_TEXT_OBJECT, f"{where}/text")
        for key, value in node.items():
            if isinstance(value, dict | list):
                problems += _text_object_problems(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            problems += _text_object_problems(item, f"{where}/{i}")
    return problems


# ---------------------------------------------------------------------------------------------
# State


class _ApiError(Exception):
    """A Slack API error answer: ``{"ok": false, "error": code}``."""

    def __init__(self, code: str, messages: list[str] | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.messages = messages or []


@dataclass
class _Channel:
    id: str
    name: str
    is_private: bool
    is_im: bool
    members: set[str]

    @property
    def bot_is_member(self) -> bool:
        return BOT_USER_ID in self.members

    def info(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "name_normalized": self.name,
            "is_channel": not self.is_im,
            "is_group": False,
            "is_im": self.is_im,
            "is_mpim": False,
            "is_private": self.is_private or self.is_im,
            "is_archived": False,
            "is_general": False,
            "is_member": self.bot_is_member,
            "created": 1700000000,
            "context_team_id": TEAM_ID,
        }
        if self.is_im:
            others = sorted(self.members - {BOT_USER_ID})
            info["user"] = others[0] if others else ""
        return info


@dataclass
class _User:
    id: str
    name: str
    real_name: str
    is_bot: bool = False

    def info(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "team_id": TEAM_ID,
            "name": self.name,
            "deleted": False,
            "real_name": self.real_name,
            "tz": "Etc/UTC",
            "is_admin": False,
            "is_owner": False,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "profile": {
                "real_name": self.real_name,
                "real_name_normalized": self.real_name,
                "display_name": self.name,
                "display_name_normalized": self.name,
            },
        }


@dataclass
class _Message:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    attachments: list[Any]
    thread_ts: str | None = None
    replies: list[str] = field(default_factory=list)
    edit_count: int = 0
    edited_ts: str | None = None
    deleted: bool = False

    def render(self, *, extras: bool) -> dict[str, Any]:
        """Slack's message shape; ``extras`` adds the stand-in's ``channel`` and ``edit_count``."""
        rendered: dict[str, Any] = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "team": TEAM_ID,
            "text": self.text,
            "blocks": copy.deepcopy(self.blocks),
            "ts": self.ts,
        }
        if self.attachments:
            rendered["attachments"] = copy.deepcopy(self.attachments)
        if self.thread_ts is not None:
            rendered["thread_ts"] = self.thread_ts
            rendered["parent_user_id"] = BOT_USER_ID
        elif self.replies:
            rendered["thread_ts"] = self.ts
            rendered["reply_count"] = len(self.replies)
            rendered["reply_users"] = [BOT_USER_ID]
            rendered["reply_users_count"] = 1
            rendered["latest_reply"] = self.replies[-1]
        if self.edited_ts is not None:
            rendered["edited"] = {"user": BOT_USER_ID, "ts": self.edited_ts}
        if extras:
            rendered["channel"] = self.channel
            rendered["edit_count"] = self.edit_count
        return rendered


@dataclass
class _ResponseUrl:
    channel: str
    user: str
    created: float
    source_ts: str | None
    source_ephemeral: bool
    uses: int = 0


@dataclass(frozen=True)
class SlackChange:
    """Something a person in Slack would see change, for ``on_change`` subscribers.

    ``kind`` is one of "message", "reply", "edit", "delete", "ephemeral", "response", or
    "home" (a Home tab published: ``channel`` is the user, ``ts`` the view's hash, ``message``
    the view). ``message`` is a copy in the shape the inspection methods return.
    """

    kind: str
    channel: str
    ts: str
    message: dict[str, Any]


@dataclass
class _Content:
    text: str
    blocks: list[dict[str, Any]]
    attachments: list[Any]


# ---------------------------------------------------------------------------------------------
# The stand-in


class SlackStandIn:
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
        self.bot_token = bot_token
        self.app_token = app_token
        self.team_id = TEAM_ID
        self.team_domain = TEAM_DOMAIN
        self.bot_user_id = BOT_USER_ID
        self.app_id = APP_ID
        self._host = host
        self._port = port
        self._clock = clock
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._last_ts_us = 0
        self._ids = itertools.count(1)
        self._channels: dict[str, _Channel] = {}
        self._messages: dict[str, dict[str, _Message]] = {}
        self._ephemerals: list[dict[str, Any]] = []
        self._responses: list[dict[str, Any]] = []
        self._response_urls: dict[str, _ResponseUrl] = {}
        self._users: dict[str, _User] = {}
        self._usergroups: dict[str, list[str]] = {}
        self._rate_limits: dict[str, list[int]] = {}
        self._failures: dict[str, list[tuple[str, int]]] = {}
        self._listeners: list[Callable[[SlackChange], None]] = []
        self._socket_mode_url: str | None = None
        self._socket_tickets: set[str] = set()
        self._home_views: dict[str, list[dict[str, Any]]] = {}  # user → every view published
        self.home_tab_enabled = True  # the manifest's features.app_home.home_tab_enabled
        self.calls: Counter[str] = Counter()
        """API calls received per method (also those answered 429 or with an error)."""

        self._users[BOT_USER_ID] = _User(BOT_USER_ID, BOT_USER_NAME, "Showtime", is_bot=True)
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

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> SlackStandIn:
        if self._server is not None:
            return self
        server = _Server((self._host, self._port), _Handler)
        server.standin = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, name="slack-standin", kwargs={"poll_interval": 0.5}
        )
        self._thread.daemon = True
        self._thread.start()
        logger.info("Slack stand-in listening on %s", self.url)
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        stopper = threading.Thread(target=server.shutdown)
        stopper.start()
        # serve_forever notices shutdown only between polls; a connection wakes it at once.
        with contextlib.suppress(OSError):
            socket.create_connection((self._host, server.server_port), timeout=1).close()
        stopper.join()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> SlackStandIn:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` (no trailing slash)."""
        if self._server is None:
            raise RuntimeError("the Slack stand-in is not started; call start() first")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def api_url(self) -> str:
        """The ``base_url`` for ``slack_sdk.WebClient`` (and ``SLACK_API_URL``)."""
        return self.url + "/api/"

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
        with self._lock:
            self._channels[id] = _Channel(id, name, private, im, members)
            self._messages.setdefault(id, {})

    def add_member(self, channel: str, user: str) -> None:
        """Put ``user`` (or the bot, ``BOT_USER_ID``: an ``/invite @showtime``) in ``channel``."""
        with self._lock:
            self._channel_by_id(channel).members.add(user)

    def add_user(
        self,
        id: str,
        name: str,
        real_name: str | None = None,
        *,
        channels: Iterable[str] = (DEFAULT_CHANNEL,),
    ) -> None:
        """Add a person; by default they are in #showtime, where slash commands come from."""
        with self._lock:
            self._users[id] = _User(id, name, real_name or name)
            for channel in channels:
                self._channel_by_id(channel).members.add(id)

    def add_usergroup(self, id: str, users: Iterable[str]) -> None:
        with self._lock:
            self._usergroups[id] = list(users)

    def rate_limit(self, method: str, times: int = 1, retry_after: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` with 429 and ``Retry-After``."""
        with self._lock:
            self._rate_limits[method] = [times, retry_after]

    def fail(self, method: str, error: str, times: int = 1, status: int = 200) -> None:
        """Answer the next ``times`` calls of ``method`` with ``{"ok": false, "error": error}``."""
        with self._lock:
            self._failures[method] = [(error, status)] * times

    def reset_calls(self) -> None:
        with self._lock:
            self.calls.clear()

    # -- Socket Mode ----------------------------------------------------------------------------

    def serve_socket_mode(self, websocket_url: str | None) -> None:
        """Have ``apps.connections.open`` hand out one-time URLs under ``websocket_url``
        (the Socket Mode stand-in's ``ws://127.0.0.1:<port>``); None turns Socket Mode off."""
        with self._lock:
            self._socket_mode_url = websocket_url
            self._socket_tickets.clear()

    def redeem_socket_ticket(self, ticket: str) -> bool:
        """True the first time ``ticket`` (from an ``apps.connections.open`` URL) is used."""
        with self._lock:
            if ticket in self._socket_tickets:
                self._socket_tickets.remove(ticket)
                return True
            return False

    # -- inspection -----------------------------------------------------------------------------

    def channel_messages(self, channel: str = DEFAULT_CHANNEL) -> list[dict[str, Any]]:
        """Top-level messages in order, each in its latest version (with ``edit_count``)."""
        with self._lock:
            return [
                m.render(extras=True)
                for m in self._messages.get(channel, {}).values()
                if m.thread_ts is None and not m.deleted
            ]

    def thread(self, channel: str, ts: str) -> list[dict[str, Any]]:
        """The replies under message ``ts``, in order (the parent itself not included)."""
        with self._lock:
            messages = self._messages.get(channel, {})
            parent = messages.get(ts)
            if parent is None:
                return []
            return [
                messages[r].render(extras=True) for r in parent.replies if not messages[r].deleted
            ]

    def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        """One message (top-level or reply) in its latest version, or None."""
        with self._lock:
            found = self._messages.get(channel, {}).get(ts)
            return None if found is None or found.deleted else found.render(extras=True)

    def ephemerals(
        self, channel: str | None = None, user: str | None = None
    ) -> list[dict[str, Any]]:
        """``chat.postEphemeral`` posts; ``user`` in each is the person who saw it."""
        with self._lock:
            return [
                copy.deepcopy(e)
                for e in self._ephemerals
                if (channel is None or e["channel"] == channel)
                and (user is None or e["user"] == user)
            ]

    def responses(self, response_url: str | None = None) -> list[dict[str, Any]]:
        """Posts to response URLs, in order, with the URL's channel and user."""
        with self._lock:
            return [
                copy.deepcopy(r)
                for r in self._responses
                if response_url is None or r["response_url"] == response_url
            ]

    def home_view(self, user: str) -> dict[str, Any] | None:
        """The Home tab ``user`` sees now (the last ``views.publish`` for them), or None."""
        with self._lock:
            views = self._home_views.get(user)
            return copy.deepcopy(views[-1]) if views else None

    def home_views(self, user: str) -> list[dict[str, Any]]:
        """Every Home tab published for ``user``, oldest first."""
        with self._lock:
            return copy.deepcopy(self._home_views.get(user, []))

    def find_message(self, text_substring: str) -> dict[str, Any] | None:
        """The most recent channel message or reply whose text or block text contains it."""
        with self._lock:
            candidates = [
                m
                for messages in self._messages.values()
                for m in messages.values()
                if not m.deleted and text_substring in _searchable_text(m)
            ]
            if not candidates:
                return None
            latest = max(candidates, key=lambda m: _ts_key(m.ts))
            return latest.render(extras=True)

    def user(self, user_id: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._users.get(user_id)
            return None if found is None else found.info()

    def channel(self, channel_id: str) -> dict[str, Any] | None:
        """``conversations.info``'s shape plus ``members`` (ignores the bot's visibility)."""
        with self._lock:
            found = self._channels.get(channel_id)
            if found is None:
                return None
            return {**found.info(), "members": sorted(found.members)}

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
        with self._lock:
            self._listeners.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._listeners:
                    self._listeners.remove(callback)

        return unsubscribe

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
        with self._lock:
            self._channel_by_id(channel)
            token = f"{next(self._ids):06d}"
            self._response_urls[token] = _ResponseUrl(
                channel, user, self._clock.monotonic(), message_ts, ephemeral
            )
        return f"{self.url}/response/{token}"

    # -- internals: state changes (call with the lock held) ---------------------------------------

    def _next_ts(self) -> str:
        now_us = int(self._clock.now().timestamp() * 1_000_000)
        self._last_ts_us = max(now_us, self._last_ts_us + 1)
        seconds, micros = divmod(self._last_ts_us, 1_000_000)
        return f"{seconds}.{micros:06d}"

    def _channel_by_id(self, channel: str) -> _Channel:
        found = self._channels.get(channel)
        if found is None:
            raise KeyError(f"unknown channel {channel!r}; add it with add_channel() first")
        return found

    def _visible_channel(self, reference: object) -> _Channel:
        """The channel by ID or name, as the bot can see it: private ones only when a member."""
        if not isinstance(reference, str) or not reference:
            raise _ApiError("channel_not_found")
        found = self._channels.get(reference)
        if found is None:
            name = reference.removeprefix("#")
            found = next((c for c in self._channels.values() if c.name == name), None)
        if found is None or ((found.is_private or found.is_im) and not found.bot_is_member):
            raise _ApiError("channel_not_found")
        return found

    def _post(
        self,
        channel: _Channel,
        content: _Content,
        thread_ts: str | None,
        changes: list[SlackChange],
    ) -> _Message:
        messages = self._messages[channel.id]
        parent = messages.get(thread_ts) if thread_ts else None
        if parent is not None and parent.thread_ts is not None:
            parent = messages[parent.thread_ts]
        if thread_ts and parent is None:
            logger.warning(
                "thread_ts %s matches no message in %s; posted top-level", thread_ts, channel.id
            )
        message = _Message(
            channel.id,
            self._next_ts(),
            content.text,
            _with_block_ids(content.blocks),
            content.attachments,
            thread_ts=parent.ts if parent is not None else None,
        )
        messages[message.ts] = message
        if parent is not None:
            parent.replies.append(message.ts)
        kind = "reply" if parent is not None else "message"
        changes.append(SlackChange(kind, channel.id, message.ts, message.render(extras=True)))
        return message

    def _edit(
        self, message: _Message, content: _Content, keep_blocks: bool, changes: list[SlackChange]
    ) -> None:
        message.text = content.text
        if not keep_blocks:
            message.blocks = _with_block_ids(content.blocks)
        if content.attachments:
            message.attachments = content.attachments
        message.edit_count += 1
        message.edited_ts = self._next_ts()
        changes.append(
            SlackChange("edit", message.channel, message.ts, message.render(extras=True))
        )

    def _find_live_message(self, channel: _Channel, ts: object) -> _Message:
        found = self._messages[channel.id].get(ts) if isinstance(ts, str) else None
        if found is None or found.deleted:
            raise _ApiError("message_not_found")
        return found

    def _publish(self, changes: list[SlackChange]) -> None:
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

    # -- internals: the Web API --------------------------------------------------------------------

    def _serve_api(
        self, method: str, params: dict[str, Any], bearer: str | None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        changes: list[SlackChange] = []
        with self._lock:
            self.calls[method] += 1
            answer = self._answer_api(method, params, bearer, changes)
        self._publish(changes)
        return answer

    def _answer_api(
        self, method: str, params: dict[str, Any], bearer: str | None, changes: list[SlackChange]
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        limit = self._rate_limits.get(method)
        if limit is not None and limit[0] > 0:
            limit[0] -= 1
            return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(limit[1])}
        failures = self._failures.get(method)
        if failures:
            error, status = failures.pop(0)
            return status, {"ok": False, "error": error}, {}
        # JSON bodies must carry the token in the header; form bodies may carry it as a field,
        # except for the app-level token, which Slack takes from the header only.
        app_method = method in _APP_TOKEN_METHODS
        token = bearer if app_method else bearer or params.get("token")
        expected = self.app_token if app_method else self.bot_token
        handler = _API_METHODS.get(method)
        try:
            if not token:
                raise _ApiError("not_authed")
            if token != expected:
                known = token in (self.app_token, self.bot_token)
                raise _ApiError("not_allowed_token_type" if known else "invalid_auth")
            if handler is None:
                raise _ApiError("unknown_method")
            return 200, handler(self, params, changes), {}
        except _ApiError as failure:
            logger.debug("Slack stand-in %s -> %s", method, failure.code)
            body: dict[str, Any] = {"ok": False, "error": failure.code}
            if failure.messages:
                body["response_metadata"] = {"messages": failure.messages}
            return 200, body, {}

    def _auth_test(self, params: dict[str, Any], changes: list[SlackChange]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": TEAM_NAME,
            "user": BOT_USER_NAME,
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _chat_post_message(
        self, params: dict[str, Any], changes: list[SlackChange]
    ) -> dict[str, Any]:
        channel = self._visible_channel(params.get("channel"))
        if not channel.bot_is_member:
            raise _ApiError("not_in_channel")
        content = _content(params)
        message = self._post(channel, content, _optional_str(params.get("thread_ts")), changes)
        return {
            "ok": True,
            "channel": channel.id,
            "ts": message.ts,
            "message": message.render(extras=False),
        }

    def _chat_update(self, params: dict[str, Any], changes: list[SlackChange]) -> dict[str, Any]:
        channel = self._visible_channel(params.get("channel"))
        message = self._find_live_message(channel, params.get("ts"))
        keep_blocks = "blocks" not in params
        content = _content(params, previous_blocks=message.blocks if keep_blocks else None)
        self._edit(message, content, keep_blocks, changes)
        return {
            "ok": True,
            "channel": channel.id,
            "ts": message.ts,
            "text": message.text,
            "message": message.render(extras=False),
        }

    def _chat_delete(self, params: dict[str, Any], changes: list[SlackChange]) -> dict[str, Any]:
        channel = self._visible_channel(params.get("channel"))
        message = self._find_live_message(channel, params.get("ts"))
        message.deleted = True
        changes.append(SlackChange("delete", channel.id, message.ts, message.render(extras=True)))
        return {"ok": True, "channel": channel.id, "ts": message.ts}

    def _chat_post_ephemeral(
        self, params: dict[str, Any], changes: list[SlackChange]
    ) -> dict[str, Any]:
        channel = self._visible_channel(params.get("channel"))
        if not channel.bot_is_member:
            raise _ApiError("not_in_channel")
        user = params.get("user")
        if not isinstance(user, str) or user not in channel.members or user not in self._users:
            raise _ApiError("user_not_in_channel")
        content = _content(params)
        ts = self._next_ts()
        ephemeral: dict[str, Any] = {
            "type": "message",
            "channel": channel.id,
            "user": user,
            "ts": ts,
            "text": content.text,
            "blocks": _with_block_ids(content.blocks),
            "thread_ts": _optional_str(params.get("thread_ts")),
            "is_ephemeral": True,
        }
        self._ephemerals.append(ephemeral)
        changes.append(SlackChange("ephemeral", channel.id, ts, copy.deepcopy(ephemeral)))
        return {"ok": True, "message_ts": ts}

    def _chat_get_permalink(
        self, params: dict[str, Any], changes: list[SlackChange]
    ) -> dict[str, Any]:
        channel = self._visible_channel(params.get("channel"))
        message = self._find_live_message(channel, params.get("message_ts"))
        permalink = (
            f"https://{TEAM_DOMAIN}.slack.com/archives/{channel.id}/p{message.ts.replace('.', '')}"
        )
        if message.thread_ts is not None:
            permalink += f"?thread_ts={message.thread_ts}&cid={channel.id}"
        return {"ok": True, "channel": channel.id, "permalink": permalink}

    def _users_info(self, params: dict[str, Any], changes: list[SlackChange]) -> dict[str, Any]:
        found = self._users.get(str(params.get("user")))
        if found is None:
            raise _ApiError("user_not_found")
        return {"ok": True, "user": found.info()}

    def _usergroups_users_list(
        self, params: dict[str, Any], changes: list[SlackChange]
    ) -> dict[str, Any]:
        users = self._usergroups.get(str(params.get("usergroup")))
        if users is None:
            raise _ApiError("no_such_subteam")
        return {"ok": True, "users": list(users)}

    def _conversations_info(
        self, params: dict[str, Any], changes: list[SlackChange]
    ) -> dict[str, Any]:
        return {"ok": True, "channel": self._visible_channel(params.get("channel")).info()}

    def _views_publish(self, params: dict[str, Any], changes: list[SlackChange]) -> dict[str, Any]:
        user = params.get("user_id")
        if not isinstance(user, str) or not user:
            raise _ApiError("invalid_arguments", ["[ERROR] missing required field: user_id"])
        raw = params.get("view")
        if isinstance(raw, str):
            if len(raw.encode()) > MAX_VIEW_BYTES:
                raise _ApiError("view_too_large")
            try:
                raw = json.loads(raw)
            except json.JSONDecodeError:
                raise _ApiError(
                    "invalid_arguments", ["[ERROR] must be JSON [json-pointer:/view]"]
                ) from None
        if raw is None:
            raise _ApiError("invalid_arguments", ["[ERROR] missing required field: view"])
        if len(json.dumps(raw).encode()) > MAX_VIEW_BYTES:
            raise _ApiError("view_too_large")
        problems = home_view_problems(raw)
        if problems:
            raise _ApiError("invalid_arguments", problems)
        if user not in self._users:
            raise _ApiError("user_not_found")
        if not self.home_tab_enabled:
            raise _ApiError("not_enabled")
        published = self._home_views.setdefault(user, [])
        current = published[-1] if published else None
        wanted_hash = params.get("hash")
        if wanted_hash and (current is None or wanted_hash != current["hash"]):
            raise _ApiError("hash_conflict")
        assert isinstance(raw, dict)
        view: dict[str, Any] = {
            "id": current["id"] if current else f"V0HOME{next(self._ids):05d}",
            "team_id": TEAM_ID,
            "type": "home",
            "blocks": _with_block_ids(raw.get("blocks") or []),
            "private_metadata": str(raw.get("private_metadata", "")),
            "callback_id": str(raw.get("callback_id", "")),
            "state": {"values": {}},
            "hash": f"{self._next_ts()}.{secrets.token_hex(4)}",
            "root_view_id": current["id"] if current else None,
            "app_id": APP_ID,
            "external_id": "",
            "bot_id": BOT_ID,
        }
        if view["root_view_id"] is None:
            view["root_view_id"] = view["id"]
        published.append(view)
        changes.append(SlackChange("home", user, view["hash"], copy.deepcopy(view)))
        return {"ok": True, "view": copy.deepcopy(view)}

    def _apps_connections_open(
        self, params: dict[str, Any], changes: list[SlackChange]
    ) -> dict[str, Any]:
        if self._socket_mode_url is None:
            # The stand-in's wording: start a SocketModeStandIn for this workspace first.
            raise _ApiError("socket_mode_not_enabled")
        ticket = f"{next(self._ids):06d}-{secrets.token_hex(8)}"
        self._socket_tickets.add(ticket)
        # Slack's shape: wss://wss-primary.slack.com/link/?ticket=…&app_id=…
        return {"ok": True, "url": f"{self._socket_mode_url}/link/?ticket={ticket}&app_id={APP_ID}"}

    # -- internals: response URLs ------------------------------------------------------------------

    def _serve_response_url(self, token: str, payload: object) -> tuple[int, str]:
        changes: list[SlackChange] = []
        with self._lock:
            target = self._response_urls.get(token)
            if target is None:
                return 404, "no_service"
            if self._clock.monotonic() - target.created > RESPONSE_URL_LIFETIME_SECONDS:
                return 404, "expired_url"
            if target.uses >= RESPONSE_URL_USES:
                return 404, "used_url"
            if not isinstance(payload, dict):
                return 400, "invalid_payload"
            try:
                self._respond(token, target, payload, changes)
            except _ApiError as failure:
                return 400, failure.code
            target.uses += 1
        self._publish(changes)
        return 200, "ok"

    def _respond(
        self,
        token: str,
        target: _ResponseUrl,
        payload: dict[str, Any],
        changes: list[SlackChange],
    ) -> None:
        replace = _truthy(payload.get("replace_original"))
        delete = _truthy(payload.get("delete_original"))
        response_type = (
            "in_channel" if payload.get("response_type") == "in_channel" else "ephemeral"
        )
        record: dict[str, Any] = {
            "response_url": f"{self.url}/response/{token}",
            "channel": target.channel,
            "user": target.user,
            "response_type": response_type,
            "replace_original": replace,
            "delete_original": delete,
            "thread_ts": _optional_str(payload.get("thread_ts")),
            "text": "",
            "blocks": [],
            "ts": None,
            "is_ephemeral": False,
        }
        original = self._original(target)
        if delete:
            if isinstance(original, _Message):
                original.deleted = True
                changes.append(
                    SlackChange(
                        "delete", original.channel, original.ts, original.render(extras=True)
                    )
                )
            elif isinstance(original, dict):
                original["deleted"] = True
        else:
            content = _content(payload)
            record.update(text=content.text, blocks=_with_block_ids(content.blocks))
            if replace and isinstance(original, _Message):
                self._edit(original, content, keep_blocks=False, changes=changes)
                record["ts"] = original.ts
            elif replace and isinstance(original, dict):
                original.update(text=record["text"], blocks=copy.deepcopy(record["blocks"]))
                record.update(ts=original["ts"], is_ephemeral=True)
            elif response_type == "in_channel":
                channel = self._channels[target.channel]
                record["ts"] = self._post(channel, content, record["thread_ts"], changes).ts
            else:
                record.update(ts=self._next_ts(), is_ephemeral=True)
        self._responses.append(record)
        changes.append(
            SlackChange("response", target.channel, str(record["ts"] or ""), copy.deepcopy(record))
        )

    def _original(self, target: _ResponseUrl) -> _Message | dict[str, Any] | None:
        """The message a button was pressed on: a channel message, or an ephemeral's record."""
        if target.source_ts is None:
            return None
        if not target.source_ephemeral:
            return self._messages.get(target.channel, {}).get(target.source_ts)
        for record in itertools.chain(self._ephemerals, self._responses):
            if record["ts"] == target.source_ts and record.get("is_ephemeral"):
                return record
        return None


_API_METHODS: dict[str, Callable[[SlackStandIn, dict[str, Any], list[SlackChange]], dict[str, Any]]]
_API_METHODS = {
    "auth.test": SlackStandIn._auth_test,
    "chat.postMessage": SlackStandIn._chat_post_message,
    "chat.update": SlackStandIn._chat_update,
    "chat.delete": SlackStandIn._chat_delete,
    "chat.postEphemeral": SlackStandIn._chat_post_ephemeral,
    "chat.getPermalink": SlackStandIn._chat_get_permalink,
    "users.info": SlackStandIn._users_info,
    "usergroups.users.list": SlackStandIn._usergroups_users_list,
    "conversations.info": SlackStandIn._conversations_info,
    "apps.connections.open": SlackStandIn._apps_connections_open,
    "views.publish": SlackStandIn._views_publish,
}


# ---------------------------------------------------------------------------------------------
# Helpers


def _content(
    params: Mapping[str, Any], previous_blocks: list[dict[str, Any]] | None = None
) -> _Content:
    """A message body as Slack checks it: blocks valid, and some text, blocks or attachments.

    ``blocks`` arrive as a list in JSON bodies and as a JSON string in form bodies.
    """
    blocks = _decode_json_field(params.get("blocks"), "invalid_blocks_format")
    attachments = _decode_json_field(params.get("attachments"), "invalid_attachments")
    text = params.get("text") or ""
    if not isinstance(text, str):
        text = str(text)
    if blocks:
        problems = block_kit_problems(blocks)
        if problems:
            raise _ApiError("invalid_blocks", problems)
    shown_blocks = blocks if blocks is not None else previous_blocks
    if not text and not shown_blocks and not attachments:
        raise _ApiError("no_text")
    if len(text) > MAX_MESSAGE_TEXT:
        raise _ApiError("msg_too_long")
    return _Content(text, list(blocks or []), list(attachments or []))


def _decode_json_field(value: object, error: str) -> list[Any] | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise _ApiError(error) from None
    if not isinstance(value, list):
        raise _ApiError(error)
    return value


def _with_block_ids(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Slack gives every block a ``block_id`` (interaction payloads carry it); so do we."""
    stored = copy.deepcopy(blocks)
    taken = {block["block_id"] for block in stored if "block_id" in block}
    for index, block in enumerate(stored):
        if "block_id" not in block:
            candidate = f"blk{index}"
            while candidate in taken:
                candidate += "_"
            block["block_id"] = candidate
            taken.add(candidate)
    return stored


def _optional_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _truthy(value: object) -> bool:
    return value is True or value in ("true", "1", 1)


def _ts_key(ts: str) -> tuple[int, int]:
    seconds, _, micros = ts.partition(".")
    return int(seconds), int(micros or 0)


def _searchable_text(message: _Message) -> str:
    return message.text + "\n" + "\n".join(_texts(message.blocks))


def _texts(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("text"), str):
            yield node["text"]
        for value in node.values():
            yield from _texts(value)
    elif isinstance(node, list):
        for item in node:
            yield from _texts(item)


# ---------------------------------------------------------------------------------------------
# HTTP


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # The default backlog of 5 drops connections when many bot threads post at once, and a
    # dropped SYN costs the client a 1-second retransmit.
    request_queue_size = 128
    standin: SlackStandIn


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 so keep-alive clients reuse connections; idle ones are dropped after `timeout`.
    protocol_version = "HTTP/1.1"
    timeout = 30
    server: _Server

    def do_GET(self) -> None:
        self._guarded_dispatch()

    def do_POST(self) -> None:
        self._guarded_dispatch()

    def _guarded_dispatch(self) -> None:
        try:
            self._dispatch()
        except Exception:
            # A stand-in bug must show as a failed call with a logged cause, not a hung client.
            logger.exception("Slack stand-in failed on %s %s", self.command, self.path)
            self._send(500, _json_bytes({"ok": False, "error": "internal_error"}), {})

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("Slack stand-in: " + format, *args)

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        standin = self.server.standin
        if url.path.startswith("/api/"):
            params = dict(parse_qsl(url.query, keep_blank_values=True))
            try:
                params.update(_parse_body(self.headers.get("Content-Type", ""), body))
            except ValueError:
                self._send(200, _json_bytes({"ok": False, "error": "invalid_json"}), {})
                return
            authorization = self.headers.get("Authorization", "")
            bearer = authorization[7:].strip() if authorization.startswith("Bearer ") else None
            method = url.path.removeprefix("/api/").strip("/")
            status, answer, headers = standin._serve_api(method, params, bearer)
            self._send(status, _json_bytes(answer), headers)
        elif url.path.startswith("/response/") and self.command == "POST":
            try:
                payload: object = _parse_body(self.headers.get("Content-Type", ""), body)
            except ValueError:
                payload = None
            if isinstance(payload, dict) and isinstance(payload.get("payload"), str):
                try:
                    payload = json.loads(payload["payload"])
                except json.JSONDecodeError:
                    payload = None
            token = url.path.removeprefix("/response/")
            status, text = standin._serve_response_url(token, payload)
            self._send(status, text.encode(), {}, content_type="text/plain; charset=utf-8")
        else:
            self._send(404, _json_bytes({"ok": False, "error": "unknown_method"}), {})

    def _send(
        self,
        status: int,
        body: bytes,
        headers: Mapping[str, str],
        content_type: str = "application/json; charset=utf-8",
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


def _json_bytes(answer: Mapping[str, Any]) -> bytes:
    return json.dumps(answer).encode()


def _parse_body(content_type: str, body: bytes) -> dict[str, Any]:
    """Slack accepts JSON, form-encoded and multipart bodies; so does the stand-in."""
    if not body:
        return {}
    media_type = content_type.split(";")[0].strip().lower()
    if media_type == "application/json":
        parsed = json.loads(body)
        if not isinstance(parsed, dict):
            raise ValueError("a JSON body must be an object")
        return parsed
    if media_type == "multipart/form-data":
        message = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
        )
        fields: dict[str, Any] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if isinstance(name, str):
                payload = part.get_payload(decode=True)
                fields[name] = payload.decode() if isinstance(payload, bytes) else ""
        return fields
    return dict(parse_qsl(body.decode(), keep_blank_values=True))
