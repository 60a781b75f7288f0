"""The health check never follows a redirect the environment chooses (SPEC §12).

The environment runs PR code, so its answers are the PR author's: a ``302 Location:
http://<internal>/admin/delete?id=1`` must not make the bot GET that address from its
own network, nor count that address's 200 as healthy. Real HTTP servers on 127.0.0.1.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bot.adapters.health import urllib_get


class _Server:
    """A real HTTP server on 127.0.0.1 answering every GET with ``status`` (and headers)."""

    def __init__(self, status: int, headers: dict[str, str] | None = None) -> None:
        self.hits: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.hits.append(self.path)
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def internal() -> Iterator[_Server]:
    """Something on the bot's own network that must never be reached through an environment."""
    server = _Server(200)
    yield server
    server.close()


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_the_health_check_does_not_follow_redirects(internal: _Server, status: int) -> None:
    target = f"{internal.url}/admin/delete?id=1"
    environment = _Server(status, {"Location": target})
    try:
        answer = urllib_get(f"{environment.url}/health", timeout=5)
    finally:
        environment.close()

    assert answer == status  # "not healthy yet", never the 200 of the internal address
    assert environment.hits == ["/health"]
    assert internal.hits == []


def test_a_plain_200_is_still_healthy(internal: _Server) -> None:
    assert urllib_get(f"{internal.url}/health", timeout=5) == 200
