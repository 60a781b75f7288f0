"""Slack's side of Socket Mode, on 127.0.0.1: the websocket server the bot connects to.

How Slack does it (https://api.slack.com/apis/socket-mode): the app calls
``apps.connections.open`` with its app-level token and gets a one-time URL; it opens a
websocket there and receives ``{"type": "hello", ...}``. Each slash command, button press
or event then arrives as an envelope, ``{"envelope_id", "type": "slash_commands" |
"interactive" | "events_api", "payload", "accepts_response_payload"}``, which the app acks
within 3 seconds by sending back ``{"envelope_id"}`` — with a ``"payload"`` when
``accepts_response_payload``: what an HTTP app would answer in its response body (the
``help`` text, say). Slack refreshes connections every few hours: it sends ``{"type":
"disconnect", "reason": "refresh_requested"}``, and closes the socket a little later; the
app opens a new one through ``apps.connections.open``. A socket can also just close.

``SocketModeStandIn`` plays that with the ``websockets`` library's threaded server, next to
a ``SlackStandIn`` whose ``apps.connections.open`` hands out its URLs (each ticket is good
for one connection). The URLs are ``ws://``, not ``wss://``: slack_sdk's built-in client
(the one Bolt's ``SocketModeHandler`` uses) speaks TLS to port 443 and plain websocket to
any other port, so the same client code runs here as against Slack. Payloads come from
``SlackPayloads``, the ones HTTP-mode tests sign and POST, so both modes are
handed the same slash commands and button presses (``SlackPayloads``).
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

from bot.errors import WaitTimeoutError
from bot.sandbox.slack import APP_ID, SlackStandIn
from bot.sandbox.slack_payloads import SlackPayloads

logger = logging.getLogger(__name__)

T = TypeVar("T")

ACK_LIMIT_SECONDS = 3.0  # Slack shows the user an error for an envelope not acked by then
HOST_NAME = "applink-standin"  # Slack's debug_info names the host that served the socket


@dataclass(frozen=True)
class Ack:
    """What the app sent back for one envelope."""

    envelope_id: str
    payload: dict[str, Any] | None
    connection: int  # 1 for the first connection, 2 after one reconnect, ...
    seconds: float  # from delivery to the ack


@dataclass
class _Socket:
    number: int
    websocket: ServerConnection
    sending: threading.Lock  # websockets refuses concurrent send() on one connection


class SocketModeStandIn:
    """A Socket Mode endpoint for ``slack`` (use as a context manager, or start/stop).

    Deliveries go to the newest open connection, as Slack sends each envelope down one of
    the app's sockets. Inspection methods are thread-safe; ``wait_for_*`` poll nothing:
    they wake on each change.
    """

    def __init__(self, slack: SlackStandIn, *, host: str = "127.0.0.1") -> None:
        self.slack = slack
        self._host = host
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._changed = threading.Condition()
        self._numbers = itertools.count(1)
        self._open: dict[int, _Socket] = {}  # greeted and not closed, by number
        self._opened = 0  # greeted so far
        self._sent: dict[str, float] = {}  # envelope_id -> when it was delivered (monotonic)
        self._acks: dict[str, Ack] = {}
        self.payloads = SlackPayloads(slack)

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> SocketModeStandIn:
        if self._server is not None:
            return self
        self._server = serve(
            self._serve,
            self._host,
            0,
            process_request=self._check_ticket,
            compression=None,  # Slack does not offer permessage-deflate either
            logger=logger,
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="socket-mode-standin", daemon=True
        )
        self._thread.start()
        self.slack.serve_socket_mode(self.url)
        logger.info("Socket Mode stand-in listening on %s", self.url)
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self.slack.serve_socket_mode(None)
        server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> SocketModeStandIn:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``ws://127.0.0.1:<port>`` (no trailing slash)."""
        if self._server is None:
            raise RuntimeError("the Socket Mode stand-in is not started; call start() first")
        host, port = self._server.socket.getsockname()[:2]
        return f"ws://{host}:{port}"

    # -- Slack's side: deliveries and faults ----------------------------------------------------

    def slash_command(self, text: str, **fields: Any) -> str:
        """Deliver ``/showtime {text}`` (``SlackPayloads.slash_command``'s fields);
        returns the envelope id."""
        payload = self.payloads.slash_command(text, **fields)
        return self.deliver("slash_commands", payload, accepts_response_payload=True)

    def click(self, message: Mapping[str, Any], action_id: str, **fields: Any) -> str:
        """Deliver a press of button ``action_id`` on ``message`` (a ``block_actions``
        payload); returns the envelope id."""
        payload = self.payloads.message_action(message, action_id, **fields)
        return self.deliver("interactive", payload, accepts_response_payload=False)

    def app_home_opened(self, user_id: str, **fields: Any) -> str:
        """Deliver an Events API ``app_home_opened`` for ``user_id``; returns the envelope id."""
        envelope = self.payloads.event_callback(self.payloads.app_home_opened(user_id, **fields))
        return self.deliver("events_api", envelope, accepts_response_payload=False)

    def deliver(
        self,
        kind: str,
        payload: Mapping[str, Any],
        *,
        accepts_response_payload: bool,
        timeout: float = 5.0,
    ) -> str:
        """Send one envelope down the newest open connection (waiting for one, as Slack
        holds deliveries while an app reconnects); returns its ``envelope_id``."""
        envelope_id = str(uuid.uuid4())
        target = self._wait(self._newest, timeout, "an open Socket Mode connection")
        with self._changed:
            self._sent[envelope_id] = time.monotonic()
        self._send(
            target,
            {
                "envelope_id": envelope_id,
                "payload": dict(payload),
                "type": kind,
                "accepts_response_payload": accepts_response_payload,
            },
        )
        return envelope_id

    def refresh(self, reason: str = "refresh_requested", grace: float = 10.0) -> None:
        """Do what Slack does before retiring a socket: send ``disconnect`` on the newest
        connection, then close it once the app has opened another (or after ``grace``)."""
        old = self._wait(self._newest, 5.0, "an open Socket Mode connection")
        self._send(old, {"type": "disconnect", "reason": reason, "debug_info": {"host": HOST_NAME}})

        def close_when_replaced() -> None:
            with self._changed:
                self._changed.wait_for(lambda: max(self._open, default=0) > old.number, grace)
            old.websocket.close()

        threading.Thread(target=close_when_replaced, name="socket-refresh", daemon=True).start()

    def drop(self) -> None:
        """Close the newest connection without a ``disconnect`` message first."""
        self._wait(self._newest, 5.0, "an open Socket Mode connection").websocket.close()

    # -- inspection -----------------------------------------------------------------------------

    @property
    def connections_opened(self) -> int:
        """Websockets accepted so far (each one used a ticket from apps.connections.open)."""
        with self._changed:
            return self._opened

    @property
    def open_connections(self) -> int:
        with self._changed:
            return len(self._open)

    def acks(self) -> list[Ack]:
        with self._changed:
            return list(self._acks.values())

    def wait_for_ack(self, envelope_id: str, timeout: float = 5.0) -> Ack:
        return self._wait(lambda: self._acks.get(envelope_id), timeout, f"ack of {envelope_id}")

    def wait_for_connections(self, count: int, timeout: float = 5.0) -> None:
        """Until ``count`` connections in all have been opened (and greeted), and one is open."""
        self._wait(
            lambda: self._opened >= count and self._newest() is not None,
            timeout,
            f"{count} Socket Mode connection(s)",
        )

    # -- internals ------------------------------------------------------------------------------

    def _check_ticket(self, websocket: ServerConnection, request: Request) -> Response | None:
        """Refuse the handshake unless it uses an unused ticket from apps.connections.open."""
        url = urlsplit(request.path)
        ticket = parse_qs(url.query).get("ticket", [""])[0]
        if url.path == "/link/" and self.slack.redeem_socket_ticket(ticket):
            return None
        logger.warning("Socket Mode stand-in: refused %s (unknown or used ticket)", url.path)
        return websocket.respond(
            HTTPStatus.UNAUTHORIZED, "unknown or used ticket: call apps.connections.open again\n"
        )

    def _serve(self, websocket: ServerConnection) -> None:
        """One connection: greet it, then read acks until it closes."""
        socket_ = _Socket(next(self._numbers), websocket, threading.Lock())
        with self._changed:
            open_now = len(self._open) + 1
        try:
            self._send(
                socket_,
                {
                    "type": "hello",
                    "num_connections": open_now,
                    "debug_info": {
                        "host": HOST_NAME,
                        "build_number": 1,
                        "approximate_connection_time": 18060,
                    },
                    "connection_info": {"app_id": APP_ID},
                },
            )
            # Greeted: deliveries may use it now, as Slack's start after the hello.
            with self._changed:
                self._open[socket_.number] = socket_
                self._opened += 1
                self._changed.notify_all()
            for message in websocket:
                self._received(socket_, message)
        except ConnectionClosed:
            pass  # closed without a clean close frame: the same to Slack
        finally:
            with self._changed:
                self._open.pop(socket_.number, None)
                self._changed.notify_all()

    def _received(self, socket_: _Socket, message: str | bytes) -> None:
        try:
            parsed = json.loads(message)
        except ValueError:
            parsed = None
        envelope_id = parsed.get("envelope_id") if isinstance(parsed, dict) else None
        if not isinstance(envelope_id, str):
            logger.warning(
                "Socket Mode stand-in: ignored a message that is no ack: %.200r", message
            )
            return
        payload = parsed.get("payload")
        with self._changed:
            sent = self._sent.get(envelope_id)
            if sent is None:
                logger.warning("Socket Mode stand-in: ack of unknown envelope %s", envelope_id)
                return
            seconds = time.monotonic() - sent
            if seconds > ACK_LIMIT_SECONDS:
                logger.warning("Socket Mode stand-in: %s acked after %.1fs", envelope_id, seconds)
            self._acks.setdefault(
                envelope_id,
                Ack(
                    envelope_id,
                    payload if isinstance(payload, dict) else None,
                    socket_.number,
                    seconds,
                ),
            )
            self._changed.notify_all()

    def _send(self, socket_: _Socket, message: dict[str, Any]) -> None:
        with socket_.sending:
            socket_.websocket.send(json.dumps(message))

    def _newest(self) -> _Socket | None:
        """The most recently opened connection still open (call with the lock held)."""
        return self._open[max(self._open)] if self._open else None

    def _wait(self, predicate: Callable[[], T | None], timeout: float, description: str) -> T:
        with self._changed:
            found = self._changed.wait_for(predicate, timeout)
        if not found:
            raise WaitTimeoutError(
                f"Socket Mode stand-in: no {description} within {timeout:g}s",
                "check the bot's log: did it call apps.connections.open and connect?",
            )
        return found
