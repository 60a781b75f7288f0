"""What the Slack stand-in keeps: channels, people, messages, and Slack's answers to them."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.sandbox.slack.blockkit import MAX_MESSAGE_TEXT, block_kit_problems

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


def im_channel_id(user: str) -> str:
    """The id of the app's direct-message channel with ``user`` (``U0ABC`` → ``D0ABC``)."""
    return "D" + user[1:]


class ApiError(Exception):
    """A Slack API error answer: ``{"ok": false, "error": code}``."""

    def __init__(self, code: str, messages: list[str] | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.messages = messages or []


@dataclass
class Channel:
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
class User:
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
class Message:
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
class ResponseUrl:
    channel: str
    user: str
    created: float
    source_ts: str | None
    source_ephemeral: bool
    uses: int = 0


@dataclass(frozen=True)
class SlackChange:
    """Something a person in Slack would see change, for ``on_change`` subscribers.

    ``kind`` is one of "message" (in a channel, or a direct message: ``channel`` is then the
    ``D…`` id), "reply", "edit", "delete", "ephemeral", "response", "home" (a Home tab
    published: ``channel`` is the user, ``ts`` the view's hash, ``message`` the view) or
    "modal" (a modal opened or updated, the same way; "modal_closed" when it closes).
    ``message`` is a copy in the shape the inspection methods return.
    """

    kind: str
    channel: str
    ts: str
    message: dict[str, Any]


@dataclass
class Content:
    text: str
    blocks: list[dict[str, Any]]
    attachments: list[Any]


def content_of(
    params: Mapping[str, Any], previous_blocks: list[dict[str, Any]] | None = None
) -> Content:
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
            raise ApiError("invalid_blocks", problems)
    shown_blocks = blocks if blocks is not None else previous_blocks
    if not text and not shown_blocks and not attachments:
        raise ApiError("no_text")
    if len(text) > MAX_MESSAGE_TEXT:
        raise ApiError("msg_too_long")
    return Content(text, list(blocks or []), list(attachments or []))


def _decode_json_field(value: object, error: str) -> list[Any] | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise ApiError(error) from None
    if not isinstance(value, list):
        raise ApiError(error)
    return value


def with_block_ids(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
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


def optional_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def truthy(value: object) -> bool:
    return value is True or value in ("true", "1", 1)


def ts_key(ts: str) -> tuple[int, int]:
    seconds, _, micros = ts.partition(".")
    return int(seconds), int(micros or 0)


def searchable_text(message: Message) -> str:
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
