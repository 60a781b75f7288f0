"""What Slack sends an app when a person acts, before it is signed or delivered.

Slash commands (form fields), button presses on messages and on the Home tab and modal
submissions (interaction payloads), and Events API envelopes, in Slack's shapes. Response
URLs are minted by the Slack stand-in and every ``trigger_id`` is registered with it, so
whatever the bot answers through them, or opens with them, lands where tests can see it.

``SlackRequester`` signs these and POSTs them to the bot's ``/slack/events``; the Socket
Mode stand-in wraps them in envelopes. Both modes are handed the same payloads.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Iterator, Mapping
from typing import Any

from bot.clock import SYSTEM_CLOCK, Clock
from bot.errors import UserInputError
from bot.sandbox.slack import (
    DEFAULT_CHANNEL,
    MAINTAINER_USER_ID,
    MAINTAINER_USER_NAME,
    SlackStandIn,
    im_channel_id,
)

SLASH_COMMAND = "/showtime"
VERIFICATION_TOKEN = "sandbox-verification-token"
"""The deprecated ``token`` field Slack still sends; Bolt ignores it in favour of signatures."""

# Message keys the stand-in adds for inspection; Slack's payloads do not carry them.
_STANDIN_EXTRAS = ("channel", "edit_count", "is_ephemeral")
# Elements whose state is a chosen option, and those whose state is a list of them.
_SELECTS = frozenset({"static_select", "external_select", "radio_buttons"})
_MULTI_SELECTS = frozenset({"multi_static_select", "multi_external_select", "checkboxes"})
_PICKED = {
    "users_select": "selected_user",
    "conversations_select": "selected_conversation",
    "channels_select": "selected_channel",
    "datepicker": "selected_date",
    "timepicker": "selected_time",
}


def buttons(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every button in a message's blocks, in order, each with the ``block_id`` it sits in."""
    found = []
    for block in message.get("blocks") or []:
        if block.get("type") == "actions":
            elements = block.get("elements") or []
        elif block.get("type") == "section" and block.get("accessory"):
            elements = [block["accessory"]]
        else:
            continue
        for element in elements:
            if element.get("type") == "button":
                found.append({**element, "block_id": block.get("block_id", "")})
    return found


class SlackPayloads:
    """Builds what Slack would send for people's actions in ``standin``'s workspace."""

    def __init__(self, standin: SlackStandIn, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self.standin = standin
        self._clock = clock
        self._ids = itertools.count(1)

    def slash_command(
        self,
        text: str,
        user_id: str = MAINTAINER_USER_ID,
        user_name: str = MAINTAINER_USER_NAME,
        channel_id: str = DEFAULT_CHANNEL,
    ) -> dict[str, str]:
        """The form fields of ``/showtime {text}`` typed in ``channel_id`` by ``user_id``."""
        return {
            "token": VERIFICATION_TOKEN,
            "team_id": self.standin.team_id,
            "team_domain": self.standin.team_domain,
            "channel_id": channel_id,
            "channel_name": self._channel_name(channel_id),
            "user_id": user_id,
            "user_name": user_name,
            "command": SLASH_COMMAND,
            "text": text,
            "api_app_id": self.standin.app_id,
            "is_enterprise_install": "false",
            "response_url": self.standin.new_response_url(channel_id, user_id),
            "trigger_id": self._trigger_id(user_id),
        }

    def message_action(
        self,
        message: Mapping[str, Any],
        action_id: str,
        user_id: str = MAINTAINER_USER_ID,
        channel_id: str | None = None,
    ) -> dict[str, Any]:
        """A ``block_actions`` press of button ``action_id`` on ``message`` (as the stand-in
        returns it); an ephemeral message's content is not sent back, only its container."""
        button = _button(buttons(message), action_id, None, f"on message {message.get('ts')}")
        channel = channel_id or message.get("channel") or DEFAULT_CHANNEL
        is_ephemeral = bool(message.get("is_ephemeral"))
        payload = self._interaction(
            "block_actions",
            user_id,
            container={
                "type": "message",
                "message_ts": message["ts"],
                "channel_id": channel,
                "is_ephemeral": is_ephemeral,
            },
            channel={"id": channel, "name": self._channel_name(channel)},
            state={"values": {}},
            response_url=self.standin.new_response_url(
                channel, user_id, message_ts=message["ts"], ephemeral=is_ephemeral
            ),
            actions=[self._pressed(button)],
        )
        if not is_ephemeral:
            payload["message"] = {k: v for k, v in message.items() if k not in _STANDIN_EXTRAS}
        return payload

    def home_action(
        self,
        view: Mapping[str, Any],
        action_id: str,
        user_id: str = MAINTAINER_USER_ID,
        value: str | None = None,
    ) -> dict[str, Any]:
        """A ``block_actions`` press on a Home tab ``view``: its container is the view, and it
        has no ``response_url``, channel or message (Slack sends none for Home tab presses).
        ``value`` picks one of several buttons with that id (one per environment)."""
        button = _button(buttons(view), action_id, value, "on the Home tab")
        return self._interaction(
            "block_actions",
            user_id,
            container={"type": "view", "view_id": view.get("id")},
            view=dict(view),
            actions=[self._pressed(button)],
        )

    def view_submission(
        self, user_id: str, view: Mapping[str, Any], values: Mapping[str, str]
    ) -> dict[str, Any]:
        """``user_id`` fills the modal ``view``'s inputs and presses its submit button.

        ``values`` are keyed by an input's ``block_id`` or ``action_id``: text for text
        inputs, an option's ``value`` for selects (comma-separated for multi-selects).
        Slack itself refuses to submit a modal with a required input left empty, and so
        does this (``UserInputError``), as it does for a field the modal does not have.
        """
        submitted = {**view, "state": {"values": _filled_state(view, values)}}
        return self._interaction("view_submission", user_id, view=submitted, response_urls=[])

    def app_home_opened(
        self, user_id: str = MAINTAINER_USER_ID, tab: str = "home"
    ) -> dict[str, Any]:
        """The ``app_home_opened`` event, with the view ``user_id`` has (as Slack sends it).

        The event names the app's DM with the person, which exists from then on."""
        with self.standin.lock:
            self.standin.im_with(user_id)
        event: dict[str, Any] = {
            "type": "app_home_opened",
            "user": user_id,
            "channel": im_channel_id(user_id),
            "tab": tab,
            "event_ts": self._action_ts(),
        }
        if (view := self.standin.home_view(user_id)) is not None:
            event["view"] = view
        return event

    def event_callback(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """The Events API envelope Slack wraps ``event`` in."""
        return {
            "token": VERIFICATION_TOKEN,
            "team_id": self.standin.team_id,
            "api_app_id": self.standin.app_id,
            "event": dict(event),
            "type": "event_callback",
            "event_id": f"Ev{next(self._ids):08d}{secrets.token_hex(3).upper()}",
            "event_time": int(self._clock.now().timestamp()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.standin.team_id,
                    "user_id": self.standin.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
        }

    # -- helpers --------------------------------------------------------------------------------

    def _interaction(self, kind: str, user_id: str, **fields: Any) -> dict[str, Any]:
        """What every interaction payload carries: who, which app, a fresh trigger."""
        user = self.standin.user(user_id) or {}
        return {
            "type": kind,
            "user": {
                "id": user_id,
                "username": user.get("name", user_id),
                "name": user.get("name", user_id),
                "team_id": self.standin.team_id,
            },
            "api_app_id": self.standin.app_id,
            "token": VERIFICATION_TOKEN,
            "trigger_id": self._trigger_id(user_id),
            "team": {"id": self.standin.team_id, "domain": self.standin.team_domain},
            "enterprise": None,
            "is_enterprise_install": False,
            **fields,
        }

    def _pressed(self, button: Mapping[str, Any]) -> dict[str, Any]:
        """The ``actions`` entry Slack sends for a press of ``button``."""
        action: dict[str, Any] = {
            "type": "button",
            "action_id": button["action_id"],
            "block_id": button["block_id"],
            "text": button.get("text"),
            "action_ts": self._action_ts(),
        }
        for key in ("value", "style", "url"):
            if key in button:
                action[key] = button[key]
        return action

    def _channel_name(self, channel_id: str) -> str:
        channel = self.standin.channel(channel_id)
        if channel is None:
            return channel_id
        if channel["is_im"]:
            return "directmessage"
        if channel["is_private"] and not channel["is_member"]:
            return "privategroup"
        return str(channel["name"])

    def _trigger_id(self, user_id: str) -> str:
        """Slack's shape (``12345.98765.abcd…``), registered so ``views.open`` accepts it."""
        trigger = f"{next(self._ids)}.{int(self._clock.now().timestamp())}.{secrets.token_hex(16)}"
        self.standin.register_trigger(trigger, user_id)
        return trigger

    def _action_ts(self) -> str:
        return f"{self._clock.now().timestamp():.6f}"


def _button(
    found: list[dict[str, Any]], action_id: str, value: str | None, where: str
) -> dict[str, Any]:
    matching = [
        b
        for b in found
        if b.get("action_id") == action_id and (value is None or b.get("value") == value)
    ]
    if not matching:
        available = ", ".join(_describe(found)) or "none"
        wanted = f"{action_id!r}" + ("" if value is None else f" (value {value!r})")
        raise UserInputError(
            f"No button {wanted} {where}", f"press one of its buttons: {available}"
        )
    return matching[0]


def _describe(found: list[dict[str, Any]]) -> Iterator[str]:
    for button in found:
        label = (button.get("text") or {}).get("text", "")
        yield f"{button.get('action_id')} ({label})"


def _filled_state(
    view: Mapping[str, Any], values: Mapping[str, str]
) -> dict[str, dict[str, dict[str, Any]]]:
    """``view.state.values`` once a person typed or picked ``values``."""
    state: dict[str, dict[str, dict[str, Any]]] = {}
    unused = dict(values)
    missing: list[str] = []
    fields: list[str] = []
    for block in view.get("blocks") or []:
        element = block.get("element")
        if block.get("type") != "input" or not isinstance(element, dict):
            continue
        block_id = str(block["block_id"])
        action_id = str(element.get("action_id") or f"{block_id}-input")
        fields.append(action_id)
        key = block_id if block_id in unused else action_id
        given = unused.pop(key, None)
        if not given and not block.get("optional"):
            missing.append(str((block.get("label") or {}).get("text") or action_id))
        state[block_id] = {action_id: _element_state(element, given, action_id)}
    if unused:
        raise UserInputError(
            f"the modal has no input {', '.join(sorted(unused))}",
            f"fill one of: {', '.join(fields) or 'none'}",
        )
    if missing:
        raise UserInputError(
            f"Slack would not submit the modal: {', '.join(missing)} is required",
            "fill in every input that is not optional",
        )
    return state


def _element_state(element: Mapping[str, Any], given: str | None, action_id: str) -> dict[str, Any]:
    kind = str(element.get("type"))
    if kind in _SELECTS:
        return {"type": kind, "selected_option": _option(element, given, action_id)}
    if kind in _MULTI_SELECTS:
        picked = [v.strip() for v in (given or "").split(",") if v.strip()]
        return {"type": kind, "selected_options": [_option(element, v, action_id) for v in picked]}
    if kind in _PICKED:
        return {"type": kind, _PICKED[kind]: given or None}
    return {"type": kind, "value": given or None}


def _option(element: Mapping[str, Any], given: str | None, action_id: str) -> dict[str, Any] | None:
    if not given:
        return None
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options.extend(group.get("options") or [])
    for option in options:
        if option.get("value") == given:
            return dict(option)
    choices = ", ".join(str(o.get("value")) for o in options) or "none"
    raise UserInputError(f"{action_id} has no option {given!r}", f"pick one of: {choices}")
