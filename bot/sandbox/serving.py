"""A stand-in's WSGI app served on loopback by werkzeug's threaded server, quietly.

The Slack and GitHub stand-ins route with ``werkzeug.routing`` and answer with
``werkzeug.wrappers``; this module is the HTTP side they share: start on a free port,
stop quickly, keep-alive connections, and no request lines on stderr (werkzeug's own
logger prints one per request unless told otherwise).
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

logger = logging.getLogger(__name__)

# serve_forever notices shutdown() between polls: short polls make stop() quick.
POLL_SECONDS = 0.05


class _QuietHandler(WSGIRequestHandler):
    # HTTP/1.1 so keep-alive clients (PyGithub, slack_sdk, requests) reuse connections;
    # idle ones are dropped after ``timeout``.
    protocol_version = "HTTP/1.1"
    timeout = 30
    # Headers and body go out as two writes: without this, Nagle's algorithm and the
    # client's delayed ACK add 40 ms to many answers.
    disable_nagle_algorithm = True

    def log(self, type: str, message: str, *args: Any) -> None:
        logger.debug("%s " + message.rstrip(), self.address_string(), *args)


class LoopbackServer:
    """``app`` on ``host:port`` (port 0: any free port) in a daemon thread."""

    def __init__(
        self, app: WSGIApplication, name: str, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self._app = app
        self._name = name
        self._host = host
        self._port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` (no trailing slash)."""
        if self._server is None:
            raise RuntimeError(f"the {self._name} is not running; call start() first")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self, port: int | None = None) -> str:
        """Serve (once; a second call changes nothing) and return the URL."""
        if self._server is None:
            server = make_server(
                self._host,
                self._port if port is None else port,
                self._app,
                threaded=True,
                request_handler=_QuietHandler,
            )
            self._server = server
            self._thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": POLL_SECONDS},
                name=self._name,
                daemon=True,
            )
            self._thread.start()
            logger.info("%s serving on %s", self._name, self.url)
        return self.url

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._thread = None
