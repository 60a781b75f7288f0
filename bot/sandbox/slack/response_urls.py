"""Response URLs: how a slash command or a button press is answered after its ack.

Slack's rules, kept: a ``response_url`` takes at most five posts within 30 minutes (by the
injected clock); ``replace_original``/``delete_original`` act on the message the button
was pressed on (a channel message, or an ephemeral one); ``in_channel`` posts for
everyone, anything else only for the person who asked.
"""

from __future__ import annotations

import copy
import itertools
from typing import Any

from bot.sandbox.slack.model import (
    ApiError,
    Message,
    ResponseUrl,
    SlackChange,
    content_of,
    optional_str,
    truthy,
    with_block_ids,
)
from bot.sandbox.slack.workspace import Workspace

RESPONSE_URL_USES = 5
RESPONSE_URL_LIFETIME_SECONDS = 30 * 60


def mint(
    ws: Workspace, base_url: str, channel: str, user: str, message_ts: str | None, ephemeral: bool
) -> str:
    """A new ``response_url`` for an interaction by ``user`` in ``channel``."""
    with ws.lock:
        ws.channel_by_id(channel)
        token = f"{next(ws.ids):06d}"
        ws.response_urls[token] = ResponseUrl(
            channel, user, ws.clock.monotonic(), message_ts, ephemeral
        )
    return f"{base_url}/response/{token}"


def serve(ws: Workspace, url: str, token: str, payload: object) -> tuple[int, str]:
    """Answer a post to ``url`` (``…/response/<token>``): (HTTP status, Slack's body)."""
    changes: list[SlackChange] = []
    with ws.lock:
        target = ws.response_urls.get(token)
        if target is None:
            return 404, "no_service"
        if ws.clock.monotonic() - target.created > RESPONSE_URL_LIFETIME_SECONDS:
            return 404, "expired_url"
        if target.uses >= RESPONSE_URL_USES:
            return 404, "used_url"
        if not isinstance(payload, dict):
            return 400, "invalid_payload"
        try:
            _respond(ws, url, target, payload, changes)
        except ApiError as failure:
            return 400, failure.code
        target.uses += 1
    ws.publish(changes)
    return 200, "ok"


def _respond(
    ws: Workspace,
    url: str,
    target: ResponseUrl,
    payload: dict[str, Any],
    changes: list[SlackChange],
) -> None:
    replace = truthy(payload.get("replace_original"))
    delete = truthy(payload.get("delete_original"))
    response_type = "in_channel" if payload.get("response_type") == "in_channel" else "ephemeral"
    record: dict[str, Any] = {
        "response_url": url,
        "channel": target.channel,
        "user": target.user,
        "response_type": response_type,
        "replace_original": replace,
        "delete_original": delete,
        "thread_ts": optional_str(payload.get("thread_ts")),
        "text": "",
        "blocks": [],
        "ts": None,
        "is_ephemeral": False,
    }
    original = _original(ws, target)
    if delete:
        if isinstance(original, Message):
            original.deleted = True
            changes.append(
                SlackChange("delete", original.channel, original.ts, original.render(extras=True))
            )
        elif isinstance(original, dict):
            original["deleted"] = True
    else:
        content = content_of(payload)
        record.update(text=content.text, blocks=with_block_ids(content.blocks))
        if replace and isinstance(original, Message):
            ws.edit(original, content, keep_blocks=False, changes=changes)
            record["ts"] = original.ts
        elif replace and isinstance(original, dict):
            original.update(text=record["text"], blocks=copy.deepcopy(record["blocks"]))
            record.update(ts=original["ts"], is_ephemeral=True)
        elif response_type == "in_channel":
            channel = ws.channels[target.channel]
            record["ts"] = ws.post(channel, content, record["thread_ts"], changes).ts
        else:
            record.update(ts=ws.next_ts(), is_ephemeral=True)
    ws.response_posts.append(record)
    changes.append(
        SlackChange("response", target.channel, str(record["ts"] or ""), copy.deepcopy(record))
    )


def _original(ws: Workspace, target: ResponseUrl) -> Message | dict[str, Any] | None:
    """The message a button was pressed on: a channel message, or an ephemeral's record."""
    if target.source_ts is None:
        return None
    if not target.source_ephemeral:
        return ws.messages.get(target.channel, {}).get(target.source_ts)
    for record in itertools.chain(ws.ephemeral_posts, ws.response_posts):
        if record["ts"] == target.source_ts and record.get("is_ephemeral"):
            return record
    return None
