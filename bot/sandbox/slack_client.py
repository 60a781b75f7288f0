"""Slack's side of the bot's HTTP endpoint: signed slash commands, button clicks, events.

Slack delivers ``/showtime ...`` and button presses as form-encoded POSTs to the app's
request URL (``POST /slack/events``), and Events API deliveries (``app_home_opened``, the
``url_verification`` challenge) as JSON POSTs to the same URL, all signed with the app's
signing secret. This module sends the same bytes with the same headers, so tests,
benchmarks and the sandbox console exercise the bot's real entry point — signature check,
Bolt's routing, the 3-second ack — instead of calling listeners directly. Response URLs
are minted by the Slack stand-in, so whatever the bot answers through them lands where
tests can see it; a Home tab the bot publishes lands there too (``home_view``).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import logging
import secrets
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import requests
from requests.structures import CaseInsensitiveDict

from bot.clock import SYSTEM_CLOCK, Clock
from bot.errors import UserInputError
from bot.sandbox.slack import (
    DEFAULT_CHANNEL,
    MAINTAINER_USER_ID,
    MAINTAINER_USER_NAME,
    SlackStandIn,
)

logger = logging.getLogger(__name__)

SLASH_COMMAND = "/showtime"
VERIFICATION_TOKEN = "sandbox-verification-token"
"""The deprecated ``token`` field Slack still sends; Bolt ignores it in favour of signatures."""

# Message keys the stand-in adds for inspection; Slack's payloads do not carry them.
_STANDIN_EXTRAS = ("channel", "edit_count", "is_ephemeral")


def slack_signature(signing_secret: str, timestamp: int | str, body: str) -> str:
    """Slack's v0 request signature: ``v0=`` + HMAC-SHA256 of ``v0:{timestamp}:{body}``."""
    digest = hmac.new(
        signing_secret.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256
    ).hexdigest()
    return f"v0={digest}"


@dataclass(frozen=True)
class SignedRequest:
    """A request ready to send; tests may ``dataclasses.replace`` the body to tamper with it."""

    url: str
    body: str
    headers: Mapping[str, str]


@dataclass(frozen=True)
class Response:
    """What the bot answered, and how long it took (wall time, for latency benchmarks)."""

    status_code: int
    headers: Mapping[str, str]
    text: str
    elapsed: float
    request: SignedRequest = field(repr=False)

    @property
    def ok(self) -> bool:
        return 200 <= self.status_code < 300

    def json(self) -> Any:
        """The body as JSON; ``None`` for the empty body of a bare ``ack()``."""
        return json.loads(self.text) if self.text.strip() else None


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


class SlackRequester:
    """Posts Slack-signed requests to the bot's ``/slack/events`` URL.

    ``events_url`` is the full URL (``http://127.0.0.1:3000/slack/events``). Safe to use
    from many threads at once (benchmarks do): each thread keeps its own keep-alive session.
    """

    def __init__(
        self,
        events_url: str,
        signing_secret: str,
        standin: SlackStandIn,
        *,
        timeout: float = 10.0,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.events_url = events_url
        self.signing_secret = signing_secret
        self.standin = standin
        self.timeout = timeout
        self._clock = clock
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._sessions_lock = threading.Lock()
        self._trigger_ids = itertools.count(1)

    # -- slash commands -------------------------------------------------------------------------

    def slash_command(
        self,
        text: str,
        user_id: str = MAINTAINER_USER_ID,
        user_name: str = MAINTAINER_USER_NAME,
        channel_id: str = DEFAULT_CHANNEL,
        retry_num: int | None = None,
        timestamp: int | None = None,
        signing_secret: str | None = None,
    ) -> Response:
        """Type ``/showtime {text}`` in ``channel_id`` as ``user_id``."""
        return self.send(
            self.build_slash_command(
                text,
                user_id=user_id,
                user_name=user_name,
                channel_id=channel_id,
                retry_num=retry_num,
                timestamp=timestamp,
                signing_secret=signing_secret,
            )
        )

    def build_slash_command(
        self,
        text: str,
        user_id: str = MAINTAINER_USER_ID,
        user_name: str = MAINTAINER_USER_NAME,
        channel_id: str = DEFAULT_CHANNEL,
        retry_num: int | None = None,
        timestamp: int | None = None,
        signing_secret: str | None = None,
    ) -> SignedRequest:
        fields = {
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
            "trigger_id": self._trigger_id(),
        }
        extra = {}
        if retry_num is not None:
            extra = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
        return self.sign(urlencode(fields), timestamp, signing_secret, extra)

    # -- button clicks --------------------------------------------------------------------------

    def click(
        self,
        message: Mapping[str, Any],
        action_id: str,
        user_id: str = MAINTAINER_USER_ID,
        channel_id: str | None = None,
        timestamp: int | None = None,
        signing_secret: str | None = None,
    ) -> Response:
        """Press the button ``action_id`` on ``message`` (as returned by the stand-in)."""
        return self.send(
            self.build_click(
                message,
                action_id,
                user_id=user_id,
                channel_id=channel_id,
                timestamp=timestamp,
                signing_secret=signing_secret,
            )
        )

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

    def _presser(self, user_id: str) -> dict[str, Any]:
        user = self.standin.user(user_id) or {}
        return {
            "id": user_id,
            "username": user.get("name", user_id),
            "name": user.get("name", user_id),
            "team_id": self.standin.team_id,
        }

    def build_click(
        self,
        message: Mapping[str, Any],
        action_id: str,
        user_id: str = MAINTAINER_USER_ID,
        channel_id: str | None = None,
        timestamp: int | None = None,
        signing_secret: str | None = None,
    ) -> SignedRequest:
        button = _button(message, action_id)
        channel = channel_id or message.get("channel") or DEFAULT_CHANNEL
        is_ephemeral = bool(message.get("is_ephemeral"))
        action = self._pressed(button)
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": self._presser(user_id),
            "api_app_id": self.standin.app_id,
            "token": VERIFICATION_TOKEN,
            "container": {
                "type": "message",
                "message_ts": message["ts"],
                "channel_id": channel,
                "is_ephemeral": is_ephemeral,
            },
            "trigger_id": self._trigger_id(),
            "team": {"id": self.standin.team_id, "domain": self.standin.team_domain},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": channel, "name": self._channel_name(channel)},
            "state": {"values": {}},
            "response_url": self.standin.new_response_url(
                channel, user_id, message_ts=message["ts"], ephemeral=is_ephemeral
            ),
            "actions": [action],
        }
        # Slack does not send an ephemeral message's content back; only its container.
        if not is_ephemeral:
            payload["message"] = {k: v for k, v in message.items() if k not in _STANDIN_EXTRAS}
        return self.sign(urlencode({"payload": json.dumps(payload)}), timestamp, signing_secret)

    def click_home(
        self,
        view: Mapping[str, Any],
        action_id: str,
        user_id: str = MAINTAINER_USER_ID,
        *,
        value: str | None = None,
        timestamp: int | None = None,
        signing_secret: str | None = None,
    ) -> Response:
        """Press ``action_id`` on a Home tab ``view`` (as ``home_view`` returns it); ``value``
        picks one of several buttons with that id (one per environment)."""
        return self.send(
            self.build_home_click(
                view,
                action_id,
                user_id,
                value=value,
                timestamp=timestamp,
                signing_secret=signing_secret,
            )
        )

    def build_home_click(
        self,
        view: Mapping[str, Any],
        action_id: str,
        user_id: str = MAINTAINER_USER_ID,
        *,
        value: str | None = None,
        timestamp: int | None = None,
        signing_secret: str | None = None,
    ) -> SignedRequest:
        """A ``block_actions`` payload from a Home tab: its container is the view, and it has
        no ``response_url``, channel or message (Slack sends none for Home tab presses)."""
        found = [
            b
            for b in buttons(view)
            if b.get("action_id") == action_id and (value is None or b.get("value") == value)
        ]
        if not found:
            available = ", ".join(_describe(buttons(view))) or "none"
            raise UserInputError(
                f"No button {action_id!r} (value {value!r}) on the Home tab",
                f"press one of its buttons: {available}",
            )
        button = found[0]
        action = self._pressed(button)
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": self._presser(user_id),
            "api_app_id": self.standin.app_id,
            "token": VERIFICATION_TOKEN,
            "container": {"type": "view", "view_id": view.get("id")},
            "trigger_id": self._trigger_id(),
            "team": {"id": self.standin.team_id, "domain": self.standin.team_domain},
            "enterprise": None,
            "is_enterprise_install": False,
            "view": dict(view),
            "actions": [action],
        }
        return self.sign(urlencode({"payload": json.dumps(payload)}), timestamp, signing_secret)

    # -- Events API -----------------------------------------------------------------------------

    def app_home_opened(
        self,
        user_id: str = MAINTAINER_USER_ID,
        *,
        tab: str = "home",
        timestamp: int | None = None,
        signing_secret: str | None = None,
    ) -> Response:
        """``user_id`` opens the app's Home tab (with the view they have, as Slack sends it)."""
        return self.send(
            self.build_app_home_opened(
                user_id, tab=tab, timestamp=timestamp, signing_secret=signing_secret
            )
        )

    def build_app_home_opened(
        self,
        user_id: str = MAINTAINER_USER_ID,
        *,
        tab: str = "home",
        timestamp: int | None = None,
        signing_secret: str | None = None,
    ) -> SignedRequest:
        event: dict[str, Any] = {
            "type": "app_home_opened",
            "user": user_id,
            "channel": f"D0{user_id[1:]}"[:11],
            "tab": tab,
            "event_ts": self._action_ts(),
        }
        if (view := self.standin.home_view(user_id)) is not None:
            event["view"] = view
        return self.build_event(event, timestamp=timestamp, signing_secret=signing_secret)

    def event(
        self,
        event: Mapping[str, Any],
        *,
        timestamp: int | None = None,
        signing_secret: str | None = None,
    ) -> Response:
        """Deliver one Events API ``event_callback`` wrapping ``event``."""
        return self.send(
            self.build_event(event, timestamp=timestamp, signing_secret=signing_secret)
        )

    def build_event(
        self,
        event: Mapping[str, Any],
        *,
        timestamp: int | None = None,
        signing_secret: str | None = None,
    ) -> SignedRequest:
        envelope = {
            "token": VERIFICATION_TOKEN,
            "team_id": self.standin.team_id,
            "api_app_id": self.standin.app_id,
            "event": dict(event),
            "type": "event_callback",
            "event_id": f"Ev{next(self._trigger_ids):08d}{secrets.token_hex(3).upper()}",
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
        return self.sign(
            json.dumps(envelope), timestamp, signing_secret, content_type="application/json"
        )

    def url_verification(self, challenge: str, *, signing_secret: str | None = None) -> Response:
        """Slack's check when the request URL is saved: the bot must echo ``challenge``."""
        body = json.dumps(
            {"token": VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"}
        )
        return self.send(self.sign(body, None, signing_secret, content_type="application/json"))

    # -- transport ------------------------------------------------------------------------------

    def sign(
        self,
        body: str,
        timestamp: int | None = None,
        signing_secret: str | None = None,
        extra_headers: Mapping[str, str] | None = None,
        *,
        content_type: str = "application/x-www-form-urlencoded",
    ) -> SignedRequest:
        """Sign any body as Slack would (``timestamp`` defaults to now)."""
        stamp = int(self._clock.now().timestamp()) if timestamp is None else timestamp
        secret = self.signing_secret if signing_secret is None else signing_secret
        headers = {
            "Content-Type": content_type,
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
            "X-Slack-Request-Timestamp": str(stamp),
            "X-Slack-Signature": slack_signature(secret, stamp, body),
            **(extra_headers or {}),
        }
        return SignedRequest(self.events_url, body, headers)

    def send(self, request: SignedRequest) -> Response:
        # perf_counter, not the injected clock: latency is a real-world measurement.
        started = time.perf_counter()
        answer = self._session().post(
            request.url,
            data=request.body.encode(),
            headers=dict(request.headers),
            timeout=self.timeout,
        )
        elapsed = time.perf_counter() - started
        logger.debug("POST %s -> %s in %.3fs", request.url, answer.status_code, elapsed)
        return Response(
            answer.status_code, CaseInsensitiveDict(answer.headers), answer.text, elapsed, request
        )

    def close(self) -> None:
        with self._sessions_lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()

    def __enter__(self) -> SlackRequester:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- helpers --------------------------------------------------------------------------------

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            # The bot is on loopback; an HTTP(S)_PROXY from the environment must not intercept.
            session.trust_env = False
            self._local.session = session
            with self._sessions_lock:
                self._sessions.append(session)
        return session

    def _channel_name(self, channel_id: str) -> str:
        channel = self.standin.channel(channel_id)
        if channel is None:
            return channel_id
        if channel["is_im"]:
            return "directmessage"
        if channel["is_private"] and not channel["is_member"]:
            return "privategroup"
        return str(channel["name"])

    def _trigger_id(self) -> str:
        return f"{next(self._trigger_ids)}.{int(time.time())}.{secrets.token_hex(16)}"

    def _action_ts(self) -> str:
        now = self._clock.now().timestamp()
        return f"{now:.6f}"


def _button(message: Mapping[str, Any], action_id: str) -> dict[str, Any]:
    found = [b for b in buttons(message) if b.get("action_id") == action_id]
    if not found:
        available = ", ".join(_describe(buttons(message))) or "none"
        raise UserInputError(
            f"No button with action_id {action_id!r} on message {message.get('ts')}",
            f"press one of its buttons: {available}",
        )
    return found[0]


def _describe(found: list[dict[str, Any]]) -> Iterator[str]:
    for button in found:
        label = (button.get("text") or {}).get("text", "")
        yield f"{button.get('action_id')} ({label})"
