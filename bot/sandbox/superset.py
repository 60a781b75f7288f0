"""A stand-in Superset: answers the health check the way a booted environment does.

In the sandbox every environment's task gets the address 127.0.0.1 and the bot
is told ``SHOWTIME_ENV_PORT`` = this server's port, so the bot's real health
check (HTTP GET ``/health``) reaches it. ``healthy = False`` makes it answer 503,
like a Superset still loading its examples.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class SupersetStandIn:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.healthy = True
        self.hits = 0
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                standin.hits += 1
                if self.path.startswith("/health"):
                    ok = standin.healthy
                    body = b"OK" if ok else b"starting"
                    self.send_response(200 if ok else 503)
                else:
                    body = b"<html><body><h1>Superset (sandbox stand-in)</h1></body></html>"
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> SupersetStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
