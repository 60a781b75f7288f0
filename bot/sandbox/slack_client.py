"""Slack's side of the bot's HTTP endpoint: signed slash commands, button clicks, modal
submissions, events.

Slack delivers ``/showtime ...`` and button presses as form-encoded POSTs to the app's
request URL (``POST /slack/events``), and Events API deliveries (``app_home_opened``, the
``url_verification`` challenge) as JSON POSTs to the same URL, all signed with the app's
signing secret. This module sends the same bytes with the same headers, so tests,
benchmarks and the sandbox console exercise the bot's real entry point — signature check,
Bolt's routing, the 3-second ack — instead of calling listeners directly. The payloads come
from ``slack_payloads`` (response URLs and trigger ids minted by the Slack stand-in, so
what the bot answers through them lands where tests can see it).

Every ``build_*`` method returns a ``SignedRequest`` (tests may tamper with it); its twin
without ``build_`` sends it and returns the bot's ``Response``.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Concatenate, ParamSpec
from urllib.parse import urlencode

import requests
from requests.structures import CaseInsensitiveDict
from slack_sdk.signature import SignatureVerifier

from bot.clock import SYSTEM_CLOCK, Clock
from bot.sandbox.slack import (
    DEFAULT_CHANNEL,
    MAINTAINER_USER_ID,
    MAINTAINER_USER_NAME,
    SlackStandIn,
)
from bot.sandbox.slack_payloads import (
    SLASH_COMMAND,
    VERIFICATION_TOKEN,
    SlackPayloads,
    buttons,
)

logger = logging.getLogger(__name__)

P = ParamSpec("P")

__all__ = [
    "SLASH_COMMAND",
    "VERIFICATION_TOKEN",
    "Response",
    "SignedRequest",
    "SlackRequester",
    "ViewAnswer",
    "buttons",
    "slack_signature",
]


def slack_signature(signing_secret: str, timestamp: int | str, body: str) -> str:
    """Slack's v0 request signature: ``v0=`` + HMAC-SHA256 of ``v0:{timestamp}:{body}``."""
    signature = SignatureVerifier(signing_secret).generate_signature(
        timestamp=str(timestamp), body=body
    )
    assert signature is not None  # None only without a timestamp or a body
    return signature


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


@dataclass(frozen=True)
class ViewAnswer:
    """The bot's answer to a modal submission, as Slack acts on it.

    ``action``: "close" (an empty 200), "clear", "errors" (shown beside the fields named in
    ``errors``, by ``block_id``; the modal stays open), "update" or "push" (``view``), or ""
    when the bot did not answer 200 (Slack then shows the person an error in the modal).
    """

    response: Response
    action: str
    errors: dict[str, str]
    view: dict[str, Any] | None

    @property
    def closed(self) -> bool:
        return self.action in ("close", "clear")

    @classmethod
    def of(cls, response: Response) -> ViewAnswer:
        try:
            body = response.json() if response.status_code == 200 else ""
        except ValueError:
            body = ""  # not JSON: Slack shows the person an error, the modal stays
        if body == "":
            return cls(response, "", {}, None)
        if not isinstance(body, dict):
            return cls(response, "close", {}, None)
        errors = body.get("errors")
        view = body.get("view")
        return cls(
            response,
            str(body.get("response_action") or "close"),
            dict(errors) if isinstance(errors, dict) else {},
            view if isinstance(view, dict) else None,
        )


def _sends(
    build: Callable[Concatenate[SlackRequester, P], SignedRequest],
) -> Callable[Concatenate[SlackRequester, P], Response]:
    """The twin of a ``build_*`` method: build the request, send it, return the answer."""

    @functools.wraps(build)
    def send_built(self: SlackRequester, *args: P.args, **kwargs: P.kwargs) -> Response:
        return self.send(build(self, *args, **kwargs))

    return send_built


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
        self.payloads = SlackPayloads(standin, clock=clock)
        self._clock = clock
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._sessions_lock = threading.Lock()

    # -- what people do -------------------------------------------------------------------------

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
        """Type ``/showtime {text}`` in ``channel_id`` as ``user_id`` (``retry_num``: Slack's
        redelivery after a slow ack)."""
        fields = self.payloads.slash_command(text, user_id, user_name, channel_id)
        extra = {}
        if retry_num is not None:
            extra = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
        return self.sign(urlencode(fields), timestamp, signing_secret, extra)

    slash_command = _sends(build_slash_command)

    def build_click(
        self,
        message: Mapping[str, Any],
        action_id: str,
        user_id: str = MAINTAINER_USER_ID,
        channel_id: str | None = None,
        timestamp: int | None = None,
        signing_secret: str | None = None,
    ) -> SignedRequest:
        """Press the button ``action_id`` on ``message`` (as returned by the stand-in)."""
        payload = self.payloads.message_action(message, action_id, user_id, channel_id)
        return self._sign_payload(payload, timestamp, signing_secret)

    click = _sends(build_click)

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
        """Press ``action_id`` on a Home tab ``view`` (as ``home_view`` returns it); ``value``
        picks one of several buttons with that id (one per environment). The press carries
        a fresh ``trigger_id`` the bot may open a modal with."""
        payload = self.payloads.home_action(view, action_id, user_id, value)
        return self._sign_payload(payload, timestamp, signing_secret)

    click_home = _sends(build_home_click)

    def build_view_submission(
        self,
        user_id: str,
        view: Mapping[str, Any],
        values: Mapping[str, str],
        *,
        timestamp: int | None = None,
        signing_secret: str | None = None,
    ) -> SignedRequest:
        """``user_id`` fills the modal ``view`` (as ``standin.modal`` returns it) with
        ``values`` and presses submit (see ``SlackPayloads.view_submission``)."""
        payload = self.payloads.view_submission(user_id, view, values)
        return self._sign_payload(payload, timestamp, signing_secret)

    def submit_view(
        self, user_id: str, view: Mapping[str, Any], values: Mapping[str, str]
    ) -> ViewAnswer:
        """Submit the modal and return the bot's answer; the stand-in's modal then closes,
        stays open (errors), or changes, as Slack's would."""
        answer = ViewAnswer.of(self.send(self.build_view_submission(user_id, view, values)))
        if answer.action:
            self.standin.answer_submission(user_id, answer.response.json())
        return answer

    # -- Events API -----------------------------------------------------------------------------

    def build_app_home_opened(
        self,
        user_id: str = MAINTAINER_USER_ID,
        *,
        tab: str = "home",
        timestamp: int | None = None,
        signing_secret: str | None = None,
    ) -> SignedRequest:
        """``user_id`` opens the app's Home tab (with the view they have, as Slack sends it)."""
        event = self.payloads.app_home_opened(user_id, tab)
        return self.build_event(event, timestamp=timestamp, signing_secret=signing_secret)

    app_home_opened = _sends(build_app_home_opened)

    def build_event(
        self,
        event: Mapping[str, Any],
        *,
        timestamp: int | None = None,
        signing_secret: str | None = None,
    ) -> SignedRequest:
        """One Events API ``event_callback`` wrapping ``event``."""
        envelope = self.payloads.event_callback(event)
        return self._sign_json(envelope, timestamp, signing_secret)

    event = _sends(build_event)

    def url_verification(self, challenge: str, *, signing_secret: str | None = None) -> Response:
        """Slack's check when the request URL is saved: the bot must echo ``challenge``."""
        body = {"token": VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"}
        return self.send(self._sign_json(body, None, signing_secret))

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

    def _sign_payload(
        self, payload: Mapping[str, Any], timestamp: int | None, signing_secret: str | None
    ) -> SignedRequest:
        """An interaction, as Slack posts it: form-encoded, the JSON in ``payload``."""
        return self.sign(urlencode({"payload": json.dumps(payload)}), timestamp, signing_secret)

    def _sign_json(
        self, body: Mapping[str, Any], timestamp: int | None, signing_secret: str | None
    ) -> SignedRequest:
        return self.sign(
            json.dumps(body), timestamp, signing_secret, content_type="application/json"
        )

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
