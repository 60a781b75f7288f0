"""The Web API methods for messages, people and conversations, answered as Slack does.

Each method takes the workspace (its lock held), the call's parameters and a list to
append what a person would see change to; it returns the ``ok`` answer or raises
``ApiError``. ``views`` has the view methods.

Direct messages work as in Slack: ``conversations.open(users=U…)`` opens (once) the app's
IM with that person — its id starts with ``D`` — and ``chat.postMessage`` to ``U…`` posts
there too (the app's Messages tab), answering with the ``D…`` channel.
"""

from __future__ import annotations

import copy
import logging
import secrets
from collections.abc import Callable
from typing import Any

from bot.sandbox.slack.model import (
    APP_ID,
    BOT_ID,
    BOT_USER_ID,
    BOT_USER_NAME,
    TEAM_DOMAIN,
    TEAM_ID,
    TEAM_NAME,
    ApiError,
    Channel,
    Message,
    SlackChange,
    content_of,
    im_channel_id,
    optional_str,
    truthy,
    with_block_ids,
)
from bot.sandbox.slack.workspace import Workspace

logger = logging.getLogger(__name__)

Method = Callable[[Workspace, dict[str, Any], list[SlackChange]], dict[str, Any]]


def auth_test(ws: Workspace, params: dict[str, Any], changes: list[SlackChange]) -> dict[str, Any]:
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


def chat_post_message(
    ws: Workspace, params: dict[str, Any], changes: list[SlackChange]
) -> dict[str, Any]:
    channel = _postable(ws, params.get("channel"))
    content = content_of(params)
    message = ws.post(channel, content, optional_str(params.get("thread_ts")), changes)
    return _message_answer(channel, message)


def chat_update(
    ws: Workspace, params: dict[str, Any], changes: list[SlackChange]
) -> dict[str, Any]:
    channel = ws.visible_channel(params.get("channel"))
    message = ws.find_live_message(channel, params.get("ts"))
    keep_blocks = "blocks" not in params
    content = content_of(params, previous_blocks=message.blocks if keep_blocks else None)
    ws.edit(message, content, keep_blocks, changes)
    return _message_answer(channel, message, text=message.text)


def chat_delete(
    ws: Workspace, params: dict[str, Any], changes: list[SlackChange]
) -> dict[str, Any]:
    channel = ws.visible_channel(params.get("channel"))
    message = ws.find_live_message(channel, params.get("ts"))
    message.deleted = True
    changes.append(SlackChange("delete", channel.id, message.ts, message.render(extras=True)))
    return {"ok": True, "channel": channel.id, "ts": message.ts}


def chat_post_ephemeral(
    ws: Workspace, params: dict[str, Any], changes: list[SlackChange]
) -> dict[str, Any]:
    channel = _joined(ws.visible_channel(params.get("channel")))
    user = params.get("user")
    if not isinstance(user, str) or user not in channel.members or user not in ws.users:
        raise ApiError("user_not_in_channel")
    content = content_of(params)
    ts = ws.next_ts()
    ephemeral: dict[str, Any] = {
        "type": "message",
        "channel": channel.id,
        "user": user,
        "ts": ts,
        "text": content.text,
        "blocks": with_block_ids(content.blocks),
        "thread_ts": optional_str(params.get("thread_ts")),
        "is_ephemeral": True,
    }
    ws.ephemeral_posts.append(ephemeral)
    changes.append(SlackChange("ephemeral", channel.id, ts, copy.deepcopy(ephemeral)))
    return {"ok": True, "message_ts": ts}


def chat_get_permalink(
    ws: Workspace, params: dict[str, Any], changes: list[SlackChange]
) -> dict[str, Any]:
    channel = ws.visible_channel(params.get("channel"))
    message = ws.find_live_message(channel, params.get("message_ts"))
    permalink = (
        f"https://{TEAM_DOMAIN}.slack.com/archives/{channel.id}/p{message.ts.replace('.', '')}"
    )
    if message.thread_ts is not None:
        permalink += f"?thread_ts={message.thread_ts}&cid={channel.id}"
    return {"ok": True, "channel": channel.id, "permalink": permalink}


def users_info(ws: Workspace, params: dict[str, Any], changes: list[SlackChange]) -> dict[str, Any]:
    found = ws.users.get(str(params.get("user")))
    if found is None:
        raise ApiError("user_not_found")
    return {"ok": True, "user": found.info()}


def usergroups_users_list(
    ws: Workspace, params: dict[str, Any], changes: list[SlackChange]
) -> dict[str, Any]:
    users = ws.usergroups.get(str(params.get("usergroup")))
    if users is None:
        raise ApiError("no_such_subteam")
    return {"ok": True, "users": list(users)}


def conversations_info(
    ws: Workspace, params: dict[str, Any], changes: list[SlackChange]
) -> dict[str, Any]:
    return {"ok": True, "channel": ws.visible_channel(params.get("channel")).info()}


def conversations_open(
    ws: Workspace, params: dict[str, Any], changes: list[SlackChange]
) -> dict[str, Any]:
    """Open (or resume) the app's DM with one person; group DMs are not modelled."""
    if params.get("channel"):
        channel = ws.visible_channel(params.get("channel"))
        if not channel.is_im:
            raise ApiError("method_not_supported_for_channel_type")
        already_open = True
    else:
        users = [u.strip() for u in str(params.get("users") or "").split(",") if u.strip()]
        if not users:
            raise ApiError("users_list_not_supplied")
        if len(users) > 1:
            logger.warning("Slack stand-in: conversations.open with %d users (MPIM)", len(users))
            raise ApiError("method_not_supported_for_channel_type")
        already_open = im_channel_id(users[0]) in ws.channels
        channel = ws.im_with(users[0])
    answer: dict[str, Any] = {
        "ok": True,
        "channel": channel.info() if truthy(params.get("return_im")) else {"id": channel.id},
    }
    if already_open:
        answer.update(no_op=True, already_open=True)
    return answer


def apps_connections_open(
    ws: Workspace, params: dict[str, Any], changes: list[SlackChange]
) -> dict[str, Any]:
    if ws.socket_mode_url is None:
        # The stand-in's wording: start a SocketModeStandIn for this workspace first.
        raise ApiError("socket_mode_not_enabled")
    ticket = f"{next(ws.ids):06d}-{secrets.token_hex(8)}"
    ws.socket_tickets.add(ticket)
    # Slack's shape: wss://wss-primary.slack.com/link/?ticket=…&app_id=…
    return {"ok": True, "url": f"{ws.socket_mode_url}/link/?ticket={ticket}&app_id={APP_ID}"}


def _message_answer(channel: Channel, message: Message, **extra: Any) -> dict[str, Any]:
    """What chat.postMessage and chat.update answer: where, which, and the message."""
    return {
        "ok": True,
        "channel": channel.id,
        "ts": message.ts,
        **extra,
        "message": message.render(extras=False),
    }


def _postable(ws: Workspace, reference: object) -> Channel:
    """Where ``chat.postMessage`` posts: a channel the bot is in, or a person's DM (``U…``)."""
    if isinstance(reference, str) and reference[:1] in ("U", "W"):
        if reference not in ws.users or reference == BOT_USER_ID:
            raise ApiError("channel_not_found")
        return ws.im_with(reference)
    return _joined(ws.visible_channel(reference))


def _joined(channel: Channel) -> Channel:
    if not channel.bot_is_member:
        raise ApiError("not_in_channel")
    return channel


METHODS: dict[str, Method] = {
    "auth.test": auth_test,
    "chat.postMessage": chat_post_message,
    "chat.update": chat_update,
    "chat.delete": chat_delete,
    "chat.postEphemeral": chat_post_ephemeral,
    "chat.getPermalink": chat_get_permalink,
    "users.info": users_info,
    "usergroups.users.list": usergroups_users_list,
    "conversations.info": conversations_info,
    "conversations.open": conversations_open,
    "apps.connections.open": apps_connections_open,
}
