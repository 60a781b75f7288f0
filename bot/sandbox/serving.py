"""A stand-in's WSGI app served on loopback, in a background thread.

The Slack and GitHub stand-ins route with ``werkzeug.routing`` and answer with
``werkzeug.wrappers``; this module is the HTTP side they share. It serves them with
waitress (the bot's own production server) rather than werkzeug's development server,
because that one ends every connection after one answer ("Connection: close"): PyGithub and
slack_sdk keep connections alive, as they do against the real services, and a stand-in that
refuses them made each call about three times slower and opened a new TCP connection for
every request a benchmark makes.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from waitress import wasyncore
from waitress.server import create_server

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

logger = logging.getLogger(__name__)

# Requests answered at once: the bot runs up to SHOWTIME_JOB_WORKERS jobs that may all call a
# stand-in together (benchmarks put 50 deploys in flight); more wait in waitress's queue.
THREADS = 64
CONNECTIONS = 1000  # keep-alive connections held at once (PyGithub keeps one per client)


class LoopbackServer:
    """``app`` on ``host:port`` (port 0: any free port) in a daemon thread."""

    def __init__(
        self, app: WSGIApplication, name: str, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self._app = app
        self._name = name
        self._host = host
        self._port = port
        self._server: Any = None
        self._sockets: dict[int, Any] = {}  # waitress's socket map: the server and connections
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` (no trailing slash)."""
        if self._server is None:
            raise RuntimeError(f"the {self._name} is not running; call start() first")
        return f"http://{self._host}:{self._server.effective_port}"

    def start(self, port: int | None = None) -> str:
        """Serve (once; a second call changes nothing) and return the URL."""
        if self._server is None:
            self._closing.clear()
            self._sockets = {}
            self._server = create_server(
                self._app,
                map=self._sockets,
                host=self._host,
                port=self._port if port is None else port,
                threads=THREADS,
                connection_limit=CONNECTIONS,
                channel_timeout=30,  # an idle keep-alive connection is closed after this
                asyncore_use_poll=True,  # select() stops at 1024 descriptors
                ident=self._name,
            )
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()
            logger.info("%s serving on %s", self._name, self.url)
        return self.url

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._closing.set()
        # waitress has no stop(): its loop ends once every socket is closed, kept-alive
        # connections included (a stopped stand-in answers nobody, as a stopped service).
        # Closed from inside the loop, woken through its trigger: at once, and no socket is
        # closed under a poll() in another thread.
        sockets = self._sockets
        try:
            server.trigger.pull_trigger(lambda: wasyncore.close_all(sockets))
        except OSError:
            # A request thread woke the loop between the thunk's queueing and this pull: the
            # loop ran it already, closing the trigger with every socket (EBADF here).
            logger.debug("%s: its loop closed the sockets before the wake-up", self._name)
        if self._thread is not None:
            self._thread.join(timeout=5)
            if self._thread.is_alive():
                logger.warning("%s did not stop within 5 s", self._name)
        self._thread = None
        server.task_dispatcher.shutdown()

    def _run(self) -> None:
        server = self._server
        try:
            server.run()
        except (OSError, ValueError):
            if not self._closing.is_set():
                raise
