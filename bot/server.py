"""Serving: HTTP mode under waitress (a production WSGI server), or Socket Mode.

Routes: ``POST /slack/events`` (Bolt), ``GET /healthz``. SIGTERM (Heroku's
restart) stops taking work, lets running jobs reach their next wait and record
their step, and exits within 25 s; their jobs resume on the next start.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt.adapter.wsgi import SlackRequestHandler

from bot import __version__
from bot.wiring import Bot

log = logging.getLogger(__name__)

SHUTDOWN_SECONDS = 20.0  # under Heroku's 30 s, leaving room to exit
HTTP_THREADS = 16

StartResponse = Callable[..., Any]


def wsgi_app(bot: Bot) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    slack = SlackRequestHandler(bot.app, path="/slack/events")

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == "/slack/events":
            return slack(environ, start_response)
        if path == "/healthz" and method in ("GET", "HEAD"):
            body = {
                "ok": True,
                "version": __version__,
                "mode": "socket" if bot.settings.socket_mode else "http",
                "jobs_in_flight": len(bot.orchestrator.runner.inflight_ids()),
                "stopping": bot.stopping.is_set(),
            }
            return _json(start_response, "200 OK", body)
        return _json(start_response, "404 Not Found", {"ok": False, "error": "not_found"})

    return app


def _json(start_response: StartResponse, status: str, body: dict[str, Any]) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    )
    return [data]


class HttpServer:
    """waitress in a background thread, so the main thread can wait for SIGTERM."""

    def __init__(self, bot: Bot, host: str, port: int) -> None:
        from waitress.server import create_server

        self._server = create_server(
            wsgi_app(bot),
            host=host,
            port=port,
            threads=HTTP_THREADS,
            ident="showtime-bot",
            clear_untrusted_proxy_headers=True,
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
    """Run until SIGTERM/SIGINT. HTTP mode unless SLACK_APP_TOKEN is set (Socket Mode)."""
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("signal %s: stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    closer: Callable[[], None]
    if bot.settings.socket_mode:
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        assert bot.settings.slack_app_token is not None
        handler = SocketModeHandler(
            bot.app,
            bot.settings.slack_app_token.get_secret_value(),
            web_client=bot.client,  # apps.connections.open honours SLACK_API_URL too
        )
        handler.connect()
        closer = handler.close
        log.info("serving in Socket Mode")
        start_bot(bot)
        if ready:
            ready(0)
    else:
        server = HttpServer(bot, host, port if port is not None else bot.settings.port)
        server.start()
        closer = server.close
        log.info("serving HTTP on %s:%s (POST /slack/events, GET /healthz)", host, server.port)
        start_bot(bot)
        if ready:
            ready(server.port)
    stop.wait()
    finished = bot.orchestrator.shutdown(SHUTDOWN_SECONDS)
    log.info(
        "stopped (%s)", "all jobs idle" if finished else "jobs paused; they resume on next start"
    )
    closer()
