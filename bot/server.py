"""Serving: HTTP mode under waitress (a production WSGI server), or Socket Mode.

Routes: ``POST /slack/events`` (Bolt), ``GET /healthz``, ``GET /metrics`` (Prometheus,
outside any signature check), ``POST /github/webhook`` (with GITHUB_WEBHOOK_SECRET). In
Socket Mode Slack's requests come over the socket; with PORT set too, the same waitress
server and limits serve the other routes (``/slack/events`` is 404 there), so one process
does it all. SIGTERM (Heroku's restart) stops taking work, lets running jobs reach their
next wait and record their step, and exits within 25 s; their jobs resume on the next start.

What an unauthenticated client can cost is bounded in two layers (SPEC §12). waitress
refuses any body over the largest route limit before buffering it, and bounds how many
connections are open and how long they may idle (``HttpLimits``). Then ``guarded``
applies the route's own body limit and checks Slack's signature before Bolt sees the
request: Bolt would otherwise read and parse any body first (a 500 for malformed JSON)
and log a refused one whole at INFO.
"""

from __future__ import annotations

import io
import json
import logging
import signal
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk.signature import SignatureVerifier

from bot import __version__
from bot.config import Settings
from bot.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from bot.metrics import Metrics
from bot.wiring import Bot

if TYPE_CHECKING:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from bot.webhook import WebhookIntake

log = logging.getLogger(__name__)

SHUTDOWN_SECONDS = 20.0  # under Heroku's 30 s, leaving room to exit
HTTP_THREADS = 16
# slack_sdk's Socket Mode client pings this often and checks its socket on the same beat:
# a socket that closed without a `disconnect` message is replaced within this many seconds.
SOCKET_MODE_PING_SECONDS = 5.0

KIB = 1024
MIB = 1024 * KIB

SLACK_EVENTS = "/slack/events"  # HTTP mode only (Socket Mode: 404)
GITHUB_WEBHOOK = "/github/webhook"  # only with GITHUB_WEBHOOK_SECRET (404 otherwise)
HEALTHZ = "/healthz"
METRICS = "/metrics"
# The largest request body each route accepts, refused (413) before it is read. Slack's
# payloads are a few KB (a button press carries its message: tens of KB).
BODY_LIMITS: dict[str, int] = {
    SLACK_EVENTS: 1 * MIB,  # SPEC §12
    GITHUB_WEBHOOK: 5 * MIB,  # SPEC §11; GitHub caps deliveries at 25 MB
}
# /healthz and unknown paths take no body; a little room for clients that send one anyway.
DEFAULT_BODY_LIMIT = 64 * KIB
LOGGED_BODY_CHARS = 200  # of a refused request, in its one log line (SPEC §12)

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def body_limit(path: str) -> int:
    return BODY_LIMITS.get(path, DEFAULT_BODY_LIMIT)


@dataclass(frozen=True)
class HttpLimits:
    """What one client can hold of the HTTP server, and for how long (waitress settings).

    waitress's defaults suit a server behind a buffering proxy: 100 connections, each
    allowed to idle 120 s, 1 GiB bodies. Heroku's router passes a slow or half-sent
    request through, so here 110 half-sent requests stopped ``/healthz``, and one unsigned
    200 MB POST cost 600 MB of memory.
    """

    # Open connections at once; more wait in the kernel's backlog. An idle one costs a file
    # descriptor and a few KB; one in the middle of a request holds at most
    # `max_request_header_size` or `inbuf_overflow` in memory, so 500 of them ~32 MiB.
    # 5x waitress's default, so a flood of half-sent requests must be that much larger
    # (and renewed every `channel_timeout`) before it keeps anyone out.
    connection_limit: int = 500
    # Seconds a connection may go without a byte arriving (and no request running) before
    # waitress closes it. Slack and GitHub send a whole request in milliseconds and must be
    # answered within 3 s and 10 s; only idle keep-alives and stalled clients wait longer.
    channel_timeout: int = 10
    # How often waitress looks for those (default 30 s): a dead connection goes within 12 s.
    cleanup_interval: int = 2
    # Request line plus headers (default 256 KiB); Slack's and a proxy's are under 4 KiB.
    max_request_header_size: int = 32 * KIB
    # Body bytes kept in memory per request; beyond that waitress spools to a temporary file
    # (default 512 KiB, which 500 connections would turn into 250 MiB).
    inbuf_overflow: int = 64 * KIB

    def waitress_options(self) -> dict[str, Any]:
        return {
            "connection_limit": self.connection_limit,
            "channel_timeout": self.channel_timeout,
            "cleanup_interval": self.cleanup_interval,
            "max_request_header_size": self.max_request_header_size,
            "inbuf_overflow": self.inbuf_overflow,
            # waitress refuses a Content-Length >= this from the headers alone (413, nothing
            # buffered), and stops reading a chunked body once this much has arrived; the
            # `guarded` app then holds each route to its own, smaller limit.
            "max_request_body_size": max(BODY_LIMITS.values()) + 1,
            # select() fails outright on descriptors numbered 1024 or more.
            "asyncore_use_poll": True,
            # The loop notices a close() at its next wake-up: a quarter second, not a second
            # (SIGTERM's 25 s budget, and every test's teardown).
            "asyncore_loop_timeout": 0.25,
        }


def wsgi_app(bot: Bot) -> WsgiApp:
    slack = _slack_events(bot)
    # In Socket Mode Slack's requests come over the socket: none may come in here.
    slack_events = not bot.settings.socket_mode

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == SLACK_EVENTS and slack_events:
            return _only("POST", method, start_response) or slack(environ, start_response)
        if path == GITHUB_WEBHOOK and bot.webhook is not None:
            webhook = bot.webhook
            return _only("POST", method, start_response) or _delivery(
                webhook, environ, start_response
            )
        if path == METRICS and bot.metrics is not None:
            metrics = bot.metrics
            return _only("GET", method, start_response) or _exposition(metrics, start_response)
        if path == HEALTHZ and method in ("GET", "HEAD"):
            return _json(start_response, "200 OK", _health(bot))
        return _json(start_response, "404 Not Found", _error("not_found"))

    served = guarded(app)
    return counting_deliveries(served, bot.metrics.webhook_delivery) if bot.metrics else served


def _only(allowed: str, method: str, start_response: StartResponse) -> list[bytes] | None:
    """405 unless ``method`` is ``allowed`` (HEAD goes with GET); None when it is."""
    if method == allowed or (allowed == "GET" and method == "HEAD"):
        return None
    return _json(start_response, "405 Method Not Allowed", _error(f"use {allowed}"))


def _slack_events(bot: Bot) -> WsgiApp:
    """``POST /slack/events``: Slack's signature checked here, then Bolt."""
    slack = SlackRequestHandler(bot.app, path=SLACK_EVENTS)
    secret = bot.settings.slack_signing_secret
    verifier = SignatureVerifier(secret.get_secret_value()) if secret else None
    # Only requests whose signature `guarded` checked reach Bolt, so Bolt's own refusal
    # (which logs the whole body at INFO) is left for the one left over: a request signed
    # 5 minutes ago to the millisecond. Bolt sets this level when the App is built; set after.
    logging.getLogger("slack_bolt.RequestVerification").setLevel(logging.WARNING)

    def events(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        # At most 1 MiB (`guarded`), on at most HTTP_THREADS threads at once.
        raw = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        refusal = _slack_signature_problem(verifier, environ, raw)
        if refusal:
            _refused(environ, f"{refusal}; {len(raw)}-byte body begins {_quote(raw)}")
            return _json(start_response, "401 Unauthorized", _error("invalid_signature"))
        # Bolt reads the body again, from the start.
        environ["wsgi.input"] = io.BytesIO(raw)
        return slack(environ, start_response)

    return events


def _delivery(
    webhook: WebhookIntake, environ: dict[str, Any], start_response: StartResponse
) -> list[bytes]:
    """``POST /github/webhook``: at most 5 MiB (`guarded`); the signature is checked before
    anything is parsed."""
    raw = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    headers = {
        key[5:].replace("_", "-").lower(): str(value)
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    status, answer = webhook.receive(headers, raw)
    return _json(start_response, _STATUS_LINES[status], answer)


def _exposition(metrics: Metrics, start_response: StartResponse) -> list[bytes]:
    data = metrics.exposition()
    start_response(
        "200 OK", [("Content-Type", METRICS_CONTENT_TYPE), ("Content-Length", str(len(data)))]
    )
    return [data]


def _health(bot: Bot) -> dict[str, Any]:
    return {
        "ok": True,
        "version": __version__,
        "mode": "socket" if bot.settings.socket_mode else "http",
        "jobs_in_flight": bot.orchestrator.jobs_in_flight(),
        "stopping": bot.stopping.is_set(),
    }


_STATUS_LINES = {
    200: "200 OK",
    202: "202 Accepted",
    400: "400 Bad Request",
    401: "401 Unauthorized",
}


def counting_deliveries(app: WsgiApp, record: Callable[[str, int], None]) -> WsgiApp:
    """Tell ``record`` of every answer at ``/github/webhook`` (401s and 400s included) with
    the delivery's X-GitHub-Event, which the recorder bounds. Bodies over the limit are
    waitress's 413 from their headers alone, before any app: those are not counted."""

    def counted(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "") != GITHUB_WEBHOOK:
            return app(environ, start_response)
        event = str(environ.get("HTTP_X_GITHUB_EVENT", ""))

        def start(status: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
            record(event, int(status.split(" ", 1)[0]))
            return start_response(status, headers, *exc_info)

        return app(environ, start)

    return counted


def guarded(app: WsgiApp) -> WsgiApp:
    """Refuse (413) a body over its route's limit before anyone reads it."""

    def guard(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        limit = body_limit(path)
        # waitress has the body whole by now (a temporary file past `inbuf_overflow`), and
        # sets CONTENT_LENGTH for chunked bodies too; it also rejects malformed lengths.
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length > limit:
            _refused(environ, f"{length}-byte body over the {_size(limit)} limit")
            return _json(
                start_response,
                "413 Payload Too Large",
                _error(f"request body over {_size(limit)}"),
            )
        return app(environ, start_response)

    return guard


def _refused(environ: dict[str, Any], why: str) -> None:
    """One log line for a refused request (SPEC §12: never its whole body)."""
    log.warning(
        "refused %s %s from %s: %s",
        environ.get("REQUEST_METHOD", "?"),
        environ.get("PATH_INFO", ""),
        environ.get("REMOTE_ADDR", "?"),
        why,
    )


def _slack_signature_problem(
    verifier: SignatureVerifier | None, environ: dict[str, Any], body: bytes
) -> str | None:
    """Why the request is not Slack's (None when it is): Slack's v0 signature of the raw
    body and timestamp, and a timestamp within 5 minutes (slack_sdk's check, as Bolt's)."""
    if verifier is None:
        return "no SLACK_SIGNING_SECRET to check its signature with"
    timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", "")
    signature = environ.get("HTTP_X_SLACK_SIGNATURE", "")
    if not timestamp or not signature:
        return "no Slack signature"
    # slack_sdk would raise on these (a 500): int() of the timestamp, UTF-8 of the body.
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        return "malformed Slack timestamp"
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "body is not UTF-8"
    if not verifier.is_valid(text, timestamp, signature):
        return "bad Slack signature or a timestamp over 5 minutes old"
    return None


def _quote(body: bytes) -> str:
    """The first ``LOGGED_BODY_CHARS`` characters of a body, on one line, quoted."""
    text = body[: LOGGED_BODY_CHARS * 4].decode("utf-8", errors="replace")[:LOGGED_BODY_CHARS]
    shown = "".join(c if c.isprintable() else "\ufffd" for c in text)
    more = "…" if len(text) < len(body) else ""
    return f"'{shown}'{more}"


def _size(limit: int) -> str:
    return f"{limit // MIB} MiB" if limit % MIB == 0 else f"{limit // KIB} KiB"


def _error(message: str) -> dict[str, Any]:
    return {"ok": False, "error": message}


def _json(start_response: StartResponse, status: str, body: dict[str, Any]) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    )
    return [data]


class HttpServer:
    """waitress in a background thread, so the main thread can wait for SIGTERM."""

    def __init__(self, bot: Bot, host: str, port: int, limits: HttpLimits | None = None) -> None:
        from waitress.server import create_server

        self.limits = limits or HttpLimits()
        self._server = create_server(
            wsgi_app(bot),
            host=host,
            port=port,
            threads=HTTP_THREADS,
            ident="showtime-bot",
            clear_untrusted_proxy_headers=True,
            **self.limits.waitress_options(),
        )
        self.port = int(self._server.effective_port)
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name="http", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            self._server.run()
        except (OSError, ValueError):
            # waitress has no stop(): closing its sockets under the running loop ends it.
            if not self._closing.is_set():
                raise

    def close(self) -> None:
        self._closing.set()
        self._server.close()
        self._thread.join(2)


def socket_mode_handler(
    bot: Bot, *, ping_interval: float = SOCKET_MODE_PING_SECONDS
) -> SocketModeHandler:
    """Bolt's Socket Mode adapter (slack_sdk's built-in websocket client) for this bot.

    ``connect()`` calls ``apps.connections.open`` with the app-level token and opens the
    websocket it names; the client acks each envelope with Bolt's ``ack()`` and reconnects
    by itself (at once on Slack's ``disconnect`` message, else at the next ping).
    """
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    token = bot.settings.slack_app_token
    if token is None:
        raise ValueError("Socket Mode needs SLACK_APP_TOKEN (an app-level token, xapp-…)")
    return SocketModeHandler(
        bot.app,
        token.get_secret_value(),
        web_client=bot.client,  # apps.connections.open honours SLACK_API_URL too
        ping_interval=ping_interval,
    )


def http_port(settings: Settings, port: int | None) -> int | None:
    """The port to serve HTTP on, or None for none: HTTP mode always serves (``--port``,
    else PORT, else 3000); Socket Mode only when ``--port`` or PORT asks for it."""
    if port is not None:
        return port
    if not settings.socket_mode or "port" in settings.model_fields_set:
        return settings.port
    return None


@dataclass
class Serving:
    """What takes requests: the Socket Mode client, the HTTP server, or both."""

    socket: SocketModeHandler | None
    http: HttpServer | None
    routes: tuple[str, ...] = ()  # what the HTTP server answers

    @property
    def port(self) -> int | None:
        return self.http.port if self.http is not None else None

    def describe(self, host: str) -> str:
        parts = ["Socket Mode"] if self.socket is not None else []
        if self.http is not None:
            parts.append(f"HTTP on {host}:{self.http.port} ({', '.join(self.routes)})")
        return " and ".join(parts)

    def close(self) -> None:
        if self.socket is not None:
            self.socket.close()
        if self.http is not None:
            self.http.close()


def open_serving(
    bot: Bot,
    *,
    host: str = "0.0.0.0",
    port: int | None = None,
    ping_interval: float = SOCKET_MODE_PING_SECONDS,
) -> Serving:
    """Connect to Slack's socket (Socket Mode) and/or listen for HTTP (see ``http_port``)."""
    socket = None
    if bot.settings.socket_mode:
        socket = socket_mode_handler(bot, ping_interval=ping_interval)
        socket.connect()
    listen = http_port(bot.settings, port)
    http = None
    if listen is not None:
        try:
            http = HttpServer(bot, host, listen)
        except BaseException:
            if socket is not None:
                socket.close()
            raise
        http.start()
    routes = [] if socket is not None else [f"POST {SLACK_EVENTS}"]
    routes += [f"GET {HEALTHZ}", f"GET {METRICS}"]
    routes += [f"POST {GITHUB_WEBHOOK}"] if bot.webhook is not None else []
    return Serving(socket, http, tuple(routes))


def start_bot(bot: Bot) -> None:
    """Adopt jobs a previous process left, then start heartbeats and the sweeper."""
    resumed = bot.orchestrator.resume_orphans()
    if resumed:
        log.info("resuming %d job(s) left by a previous process", len(resumed))
    bot.orchestrator.start_background()


def serve(
    bot: Bot,
    *,
    host: str = "0.0.0.0",
    port: int | None = None,
    ready: Callable[[int], None] | None = None,
) -> None:
    """Run until SIGTERM/SIGINT. HTTP mode unless SLACK_APP_TOKEN is set (Socket Mode, and
    HTTP beside it with PORT or ``port``)."""
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("signal %s: stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    serving = open_serving(bot, host=host, port=port)
    log.info("serving: %s", serving.describe(host))
    start_bot(bot)
    if ready:
        ready(serving.port or 0)
    stop.wait()
    finished = bot.orchestrator.shutdown(SHUTDOWN_SECONDS)
    log.info(
        "stopped (%s)", "all jobs idle" if finished else "jobs paused; they resume on next start"
    )
    serving.close()
