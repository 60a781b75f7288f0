"""The view methods: the Home tab (``views.publish``) and modals (``views.open``/``update``).

Slack's rules kept here, because the bot must meet them in production:

- ``views.publish`` takes only ``home`` views of at most 100 blocks, for a user the
  workspace knows; a ``hash`` that is not the stored view's is a ``hash_conflict``.
- ``views.open`` needs a ``trigger_id`` from an interaction (a slash command, a button
  press): each is good once (``exchanged_trigger_id`` after) and for 3 seconds
  (``expired_trigger_id``); one Slack never issued is ``invalid_trigger_id``. The modal opens
  for the person whose interaction made the trigger.
- A modal has a ``plain_text`` title of at most 24 characters, at most 100 blocks, and a
  ``submit`` button when it has ``input`` blocks (``blockkit.modal_view_problems``).
- ``views.update`` replaces an open modal by ``view_id`` (or ``external_id``), keeping its
  id; with a ``hash`` that is no longer current it is a ``hash_conflict``.
"""

from __future__ import annotations

import copy
import json
import secrets
from collections.abc import Callable
from typing import Any

from bot.sandbox.slack.blockkit import (
    MAX_VIEW_BYTES,
    home_view_problems,
    modal_view_problems,
)
from bot.sandbox.slack.model import (
    APP_ID,
    BOT_ID,
    TEAM_ID,
    ApiError,
    SlackChange,
    truthy,
    with_block_ids,
)
from bot.sandbox.slack.web_api import Method
from bot.sandbox.slack.workspace import Workspace

TRIGGER_SECONDS = 3.0  # how long a trigger_id may open a modal
MAX_VIEW_STACK = 3  # views a modal may hold (views.push beyond: push_limit_reached)


def views_publish(
    ws: Workspace, params: dict[str, Any], changes: list[SlackChange]
) -> dict[str, Any]:
    user = params.get("user_id")
    if not isinstance(user, str) or not user:
        raise ApiError("invalid_arguments", ["[ERROR] missing required field: user_id"])
    raw = _view_param(params, home_view_problems)
    if user not in ws.users:
        raise ApiError("user_not_found")
    if not ws.home_tab_enabled:
        raise ApiError("not_enabled")
    published = ws.published_homes.setdefault(user, [])
    current = published[-1] if published else None
    _check_hash(params, current)
    view = _stored_view(ws, raw, "home", current)
    published.append(view)
    changes.append(SlackChange("home", user, view["hash"], copy.deepcopy(view)))
    return {"ok": True, "view": copy.deepcopy(view)}


def views_open(ws: Workspace, params: dict[str, Any], changes: list[SlackChange]) -> dict[str, Any]:
    raw = _view_param(params, modal_view_problems)
    user = _redeem_trigger(ws, params.get("trigger_id"))
    view = _stored_view(ws, raw, "modal", None)
    ws.open_modals[user] = [view]
    changes.append(SlackChange("modal", user, view["hash"], copy.deepcopy(view)))
    return {"ok": True, "view": copy.deepcopy(view)}


def views_update(
    ws: Workspace, params: dict[str, Any], changes: list[SlackChange]
) -> dict[str, Any]:
    wanted_id, external_id = params.get("view_id"), params.get("external_id")
    if not wanted_id and not external_id:
        raise ApiError("invalid_arguments", ["[ERROR] missing required field: view_id"])
    raw = _view_param(params, modal_view_problems)
    for user, stack in ws.open_modals.items():
        for index, current in enumerate(stack):
            if current["id"] == wanted_id or (
                external_id and current["external_id"] == external_id
            ):
                _check_hash(params, current)
                view = _stored_view(ws, raw, "modal", current)
                stack[index] = view
                changes.append(SlackChange("modal", user, view["hash"], copy.deepcopy(view)))
                return {"ok": True, "view": copy.deepcopy(view)}
    raise ApiError("not_found")


def answer_submission(ws: Workspace, user: str, answer: object, changes: list[SlackChange]) -> None:
    """What Slack does with an app's answer to a ``view_submission`` of ``user``'s modal.

    No ``response_action`` (an empty 200) closes the submitted view, ``clear`` all of them;
    ``errors`` keeps it open, the errors beside its fields; ``update`` replaces it and
    ``push`` stacks a new view on it (at most 3), each checked like ``views.open``'s.
    """
    stack = ws.open_modals.get(user) or []
    body = answer if isinstance(answer, dict) else {}
    action = body.get("response_action")
    if not stack or action == "errors":
        return
    if action in ("update", "push"):
        raw = body.get("view")
        problems = modal_view_problems(raw)
        if problems:
            raise ApiError("invalid_arguments", problems)
        assert isinstance(raw, dict)
        if action == "update":
            stack[-1] = view = _stored_view(ws, raw, "modal", stack[-1])
        else:
            if len(stack) >= MAX_VIEW_STACK:
                raise ApiError("push_limit_reached")
            view = _stored_view(ws, raw, "modal", None)
            view.update(root_view_id=stack[0]["id"], previous_view_id=stack[-1]["id"])
            stack.append(view)
        changes.append(SlackChange("modal", user, view["hash"], copy.deepcopy(view)))
        return
    closed = stack[:] if action == "clear" else stack[-1:]
    del stack[len(stack) - len(closed) :]
    changes.extend(SlackChange("modal_closed", user, v["hash"], copy.deepcopy(v)) for v in closed)


def _view_param(
    params: dict[str, Any], problems_of: Callable[[object], list[str]]
) -> dict[str, Any]:
    """The ``view`` argument (JSON text in form bodies), checked as Slack checks it."""
    raw = params.get("view")
    if isinstance(raw, str):
        if len(raw.encode()) > MAX_VIEW_BYTES:
            raise ApiError("view_too_large")
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            raise ApiError(
                "invalid_arguments", ["[ERROR] must be JSON [json-pointer:/view]"]
            ) from None
    if raw is None:
        raise ApiError("invalid_arguments", ["[ERROR] missing required field: view"])
    if len(json.dumps(raw).encode()) > MAX_VIEW_BYTES:
        raise ApiError("view_too_large")
    problems = problems_of(raw)
    if problems:
        raise ApiError("invalid_arguments", problems)
    assert isinstance(raw, dict)
    return raw


def _redeem_trigger(ws: Workspace, trigger_id: object) -> str:
    """The user whose interaction made ``trigger_id``; it cannot be used again."""
    if not isinstance(trigger_id, str) or not trigger_id:
        raise ApiError("invalid_arguments", ["[ERROR] missing required field: trigger_id"])
    trigger = ws.triggers.get(trigger_id)
    if trigger is None:
        raise ApiError("invalid_trigger_id")
    if trigger.used:
        raise ApiError("exchanged_trigger_id")
    if ws.clock.monotonic() - trigger.created > TRIGGER_SECONDS:
        raise ApiError("expired_trigger_id")
    trigger.used = True
    return trigger.user


def _check_hash(params: dict[str, Any], current: dict[str, Any] | None) -> None:
    wanted_hash = params.get("hash")
    if wanted_hash and (current is None or wanted_hash != current["hash"]):
        raise ApiError("hash_conflict")


def _stored_view(
    ws: Workspace, raw: dict[str, Any], kind: str, current: dict[str, Any] | None
) -> dict[str, Any]:
    """The view as Slack keeps and answers it: ids, a new hash, ``block_id`` on every block.

    A view that replaces ``current`` keeps its id (a Home tab's, or an updated modal's).
    """
    prefix = "V0HOME" if kind == "home" else "V0MODAL"
    view_id = current["id"] if current else f"{prefix}{next(ws.ids):05d}"
    view: dict[str, Any] = {
        "id": view_id,
        "team_id": TEAM_ID,
        "type": kind,
        "blocks": with_block_ids(raw.get("blocks") or []),
        "private_metadata": str(raw.get("private_metadata", "")),
        "callback_id": str(raw.get("callback_id", "")),
        "state": {"values": {}},
        "hash": f"{ws.next_ts()}.{secrets.token_hex(4)}",
        "root_view_id": current["root_view_id"] if current else view_id,
        "app_id": APP_ID,
        "external_id": str(raw.get("external_id", "")) if kind == "modal" else "",
        "bot_id": BOT_ID,
    }
    if kind == "modal":
        for key in ("title", "submit", "close"):
            if key in raw:
                view[key] = copy.deepcopy(raw[key])
        view["clear_on_close"] = truthy(raw.get("clear_on_close"))
        view["notify_on_close"] = truthy(raw.get("notify_on_close"))
        view["previous_view_id"] = None
    return view


METHODS: dict[str, Method] = {
    "views.publish": views_publish,
    "views.open": views_open,
    "views.update": views_update,
}
