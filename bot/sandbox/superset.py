"""Stand-in Superset environments: the health check and the REST API the smoke check uses.

``SupersetStandIn`` is one environment's Superset on one address: ``/health``, and the
routes a reviewer's first minutes go through (SPEC §15), answered the way Superset 5/6
answers them (``superset/security/api.py``, Flask-AppBuilder's ``/api/v1/security/login``,
``superset/databases/api.py``, ``dashboards``, ``charts/data/api.py``,
``superset/sqllab/api.py``):

- ``POST /api/v1/security/login`` ``{"username", "password", "provider": "db"}`` → 200
  ``{"access_token": …}``; a wrong login → 401 ``{"message": "Not authorized"}``;
- every other ``/api/v1/`` route wants ``Authorization: Bearer <access token>`` (401 without);
- ``GET /api/v1/security/csrf_token/`` → ``{"result": <token>}`` and a ``session`` cookie;
  ``POST /api/v1/sqllab/execute/`` without that token *and* that cookie → 400, as
  Flask-WTF's CSRF protection answers;
- ``GET /api/v1/database/`` (the ``examples`` database), ``/api/v1/dashboard/`` (a
  handful), ``/api/v1/chart/`` and ``/api/v1/chart/<id>/data/`` (rows; a chart saved without
  a query context → 400, as Superset says), ``POST /api/v1/sqllab/execute/`` running
  ``SELECT 1`` on the examples database → one row. List routes honour rison's
  ``page_size`` and a ``database_name`` filter, and always say ``count``.

Knobs: ``healthy`` (False → ``/health`` 503), ``broken`` (checks that fail: login 401, no
examples, SQL Lab 500, chart data 500), ``examples`` (loaded or not), ``override`` (any
status, headers or delay on one path — redirects, hangs), ``latency`` (every API answer
waits that long, like a real server's work). ``requests`` lists what was asked.

``SupersetFleet`` is the sandbox's set of them: the ECS stand-in gives each task its own
loopback address (127.0.0.2, 127.0.0.3, …) and tells the fleet when a task runs or stops
(``task_changed``), so every environment is its own Superset on that address and
``SHOWTIME_ENV_PORT``, logging in with its own task definition's ``ADMIN_PASSWORD``
(``admin`` without one, as Superset's docker-init does). Faults are per PR: ``break_check``
and ``fix`` (the console's ``break sqllab 36121`` / ``fix 36121``).
"""

from __future__ import annotations

import json
import re
import secrets
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from bot.domain.smoke import Check

if TYPE_CHECKING:
    from bot.sandbox.aws import TaskChange

LOGIN_PATH = "/api/v1/security/login"
CSRF_PATH = "/api/v1/security/csrf_token/"
EXECUTE_PATH = "/api/v1/sqllab/execute/"
EXAMPLES_DATABASE = "examples"
NO_QUERY_CONTEXT = "Chart has no query context saved. Please save the chart again."

_CHART_DATA = re.compile(r"^/api/v1/chart/(\d+)/data/$")
_PAGE_SIZE = re.compile(r"page_size:(\d+)")
_NAME_FILTER = re.compile(r"col:database_name,opr:eq,value:'?([\w.-]+)'?")


@dataclass
class Override:
    """A fixed answer for one path: ``status`` (with ``headers``) after ``delay`` seconds."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Chart:
    id: int
    slice_name: str
    rows: int = 10
    query_context: bool = True  # False: saved before Superset kept query contexts


def sample_charts() -> list[Chart]:
    return [
        Chart(41, "World's Population", rows=1),
        Chart(42, "Most Populated Countries", rows=25),
        Chart(43, "Growth Rate", query_context=False),
        Chart(44, "Rural Breakdown", rows=12),
    ]


class SupersetStandIn:
    """One environment's Superset on ``host``:``port`` (port 0: any free port)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        username: str = "admin",
        password: str = "admin",
        examples: bool = True,
        dashboards: int = 5,
        faults: Callable[[], set[Check]] | None = None,
        fleet_healthy: Callable[[], bool] | None = None,
    ) -> None:
        self.healthy = True
        self.crash_looping = False  # its workers fail to boot: /health answers 503
        self.examples = examples
        self.dashboards = dashboards
        self.charts = sample_charts()
        self.broken: set[Check] = set()
        self.latency = 0.0
        self.requests: list[tuple[str, str]] = []  # (method, path without the query)
        self._username = username
        self._password = password
        self._faults = faults or (lambda: set())
        self._fleet_healthy = fleet_healthy or (lambda: True)
        self._overrides: dict[str, Override] = {}
        self._tokens: set[str] = set()
        self._sessions: dict[str, str] = {}  # session cookie → its CSRF token
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server = ThreadingHTTPServer((host, port), _handler(self))
        self._server.daemon_threads = True
        self.host = host
        self.port = int(self._server.server_address[1])
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self._serve, daemon=True)

    # ----- lifecycle ------------------------------------------------------------------

    def start(self) -> SupersetStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._closing.set()  # releases answers held by an override's delay
        self._server.shutdown()
        self._server.server_close()

    def _serve(self) -> None:
        self._server.serve_forever(poll_interval=0.05)

    # ----- knobs -----------------------------------------------------------------------

    def override(
        self,
        path: str,
        status: int = 200,
        headers: dict[str, str] | None = None,
        *,
        delay: float = 0.0,
    ) -> None:
        """Answer ``path`` (any method, any query) with ``status`` after ``delay`` seconds."""
        with self._lock:
            self._overrides[path] = Override(status, dict(headers or {}), delay)

    def failing(self) -> set[Check]:
        """The checks that fail now: this environment's and its PR's (the fleet's)."""
        return self.broken | self._faults()

    def count(self, prefix: str = "/api/") -> int:
        """Requests so far whose path starts with ``prefix``."""
        with self._lock:
            return sum(1 for _, path in self.requests if path.startswith(prefix))

    # ----- answering (called by the handler) ---------------------------------------------

    def answer(
        self, method: str, target: str, headers: Any, body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        split = urlsplit(target)
        path, query = split.path, unquote(split.query)
        with self._lock:
            self.requests.append((method, path))
            override = self._overrides.get(path)
        if override is not None:
            self._closing.wait(override.delay)
            return override.status, override.headers, b"{}"
        if path.startswith("/health"):
            ok = self.healthy and self._fleet_healthy() and not self.crash_looping
            return (200 if ok else 503), {"Content-Type": "text/plain"}, b"OK" if ok else b"bad"
        if not path.startswith("/api/"):
            page = b"<html><body><h1>Superset (sandbox stand-in)</h1></body></html>"
            return 200, {"Content-Type": "text/html"}, page
        if self.latency:
            self._closing.wait(self.latency)
        status, payload, extra = self._api(method, path, query, headers, body)
        return status, {"Content-Type": "application/json", **extra}, json.dumps(payload).encode()

    def _api(
        self, method: str, path: str, query: str, headers: Any, body: bytes
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        failing = self.failing()
        if method == "POST" and path == LOGIN_PATH:
            return (*self._login(body, failing), {})
        if not self._authorized(headers):
            return 401, {"msg": "Missing Authorization Header"}, {}
        if method == "GET" and path == CSRF_PATH:
            return self._csrf()
        if method == "POST" and path == EXECUTE_PATH:
            return (*self._execute(headers, body, failing), {})
        if method != "GET":
            return 405, {"message": "Method Not Allowed"}, {}
        return (*self._read(path, query, failing), {})

    def _login(self, body: bytes, failing: set[Check]) -> tuple[int, dict[str, Any]]:
        try:
            sent = json.loads(body or b"null")
        except ValueError:
            return 400, {"message": "Request payload is not JSON"}
        if not isinstance(sent, dict) or sent.get("provider") not in ("db", "ldap"):
            return 400, {"message": {"provider": ["Must be one of: db, ldap."]}}
        right = sent.get("username") == self._username and sent.get("password") == self._password
        if Check.LOGIN in failing or not right:
            return 401, {"message": "Not authorized"}
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens.add(token)
        return 200, {"access_token": token}

    def _authorized(self, headers: Any) -> bool:
        sent = str(headers.get("Authorization") or "")
        with self._lock:
            return sent.startswith("Bearer ") and sent[7:] in self._tokens

    def _csrf(self) -> tuple[int, dict[str, Any], dict[str, str]]:
        session, token = secrets.token_hex(16), secrets.token_urlsafe(24)
        with self._lock:
            self._sessions[session] = token
        cookie = f"session={session}; HttpOnly; Path=/; SameSite=Lax"
        return 200, {"result": token}, {"Set-Cookie": cookie}

    def _execute(
        self, headers: Any, body: bytes, failing: set[Check]
    ) -> tuple[int, dict[str, Any]]:
        cookies = dict(
            part.strip().split("=", 1)
            for part in str(headers.get("Cookie") or "").split(";")
            if "=" in part
        )
        with self._lock:
            expected = self._sessions.get(cookies.get("session", ""))
        if expected is None or headers.get("X-CSRFToken") != expected:
            return 400, {"errors": [{"message": "400 Bad Request: The CSRF token is missing."}]}
        try:
            sent = json.loads(body or b"null")
        except ValueError:
            return 400, {"message": "Request is not JSON"}
        if not isinstance(sent, dict) or "sql" not in sent or "database_id" not in sent:
            return 400, {"message": {"database_id": ["Missing data for required field."]}}
        if not self.examples or Check.EXAMPLES in failing or sent["database_id"] != 1:
            return 404, {"message": "Not found"}
        if Check.SQLLAB in failing:
            return 500, {"message": "Fatal error: worker timeout"}
        return 200, {
            "status": "success",
            "query_id": 1,
            "columns": [{"column_name": "1", "name": "1", "type": "INTEGER"}],
            "data": [{"1": 1}],
        }

    def _read(self, path: str, query: str, failing: set[Check]) -> tuple[int, dict[str, Any]]:
        examples = self.examples and Check.EXAMPLES not in failing
        size = int(match.group(1)) if (match := _PAGE_SIZE.search(query)) else 20
        if path == "/api/v1/database/":
            names = [EXAMPLES_DATABASE] if examples else []
            if wanted := _NAME_FILTER.search(query):
                names = [name for name in names if name == wanted.group(1)]
            found = [{"id": 1, "database_name": name} for name in names]
            return 200, _page(found, size)
        if path == "/api/v1/dashboard/":
            count = self.dashboards if examples else 0
            boards = [{"id": n, "dashboard_title": f"Dashboard {n}"} for n in range(1, count + 1)]
            return 200, _page(boards, size)
        if path == "/api/v1/chart/":
            shown = self.charts if examples else []
            return 200, _page([{"id": c.id, "slice_name": c.slice_name} for c in shown], size)
        if match := _CHART_DATA.match(path):
            return self._chart_data(int(match.group(1)), failing)
        return 404, {"message": "Not found"}

    def _chart_data(self, chart_id: int, failing: set[Check]) -> tuple[int, dict[str, Any]]:
        chart = next((c for c in self.charts if c.id == chart_id), None)
        if chart is None or not self.examples or Check.EXAMPLES in failing:
            return 404, {"message": "Not found"}
        if not chart.query_context:
            return 400, {"message": NO_QUERY_CONTEXT}
        if Check.CHART in failing:
            return 500, {"message": "Error: (sqlite3.OperationalError) no such table"}
        rows = [{"name": f"row {n}", "value": n} for n in range(chart.rows)]
        result = {"rowcount": len(rows), "colnames": ["name", "value"], "data": rows}
        return 200, {"result": [result]}


def _page(items: list[dict[str, Any]], size: int) -> dict[str, Any]:
    shown = items[:size]
    return {"count": len(items), "ids": [item["id"] for item in shown], "result": shown}


def _handler(standin: SupersetStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._respond("GET")

        def do_POST(self) -> None:
            self._respond("POST")

        def _respond(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            try:
                status, headers, payload = standin.answer(method, self.path, self.headers, body)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                pass  # the client gave up (a timeout test): nothing to answer

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


# ----- the sandbox's environments ------------------------------------------------------------


class SupersetFleet:
    """Every environment's Superset, each on its task's own loopback address (see above)."""

    def __init__(self, port: int = 0) -> None:
        self.port = port or _port_free_everywhere()
        self.healthy = True  # the console's crash-loop: every environment answers 503
        self._servers: dict[str, SupersetStandIn] = {}  # address → its Superset
        self._who: dict[str, TaskChange] = {}  # address → the task it serves
        self._faults: dict[int, set[Check]] = {}  # PR → checks that fail for it
        self._lock = threading.Lock()

    def start(self) -> SupersetFleet:
        return self

    def stop(self) -> None:
        with self._lock:
            servers = list(self._servers.values())
            self._servers.clear()
            self._who.clear()
        for server in servers:
            server.stop()

    # ----- what ECS does ---------------------------------------------------------------

    def task_changed(self, change: TaskChange) -> None:
        """The ECS stand-in's listener: serve a task's address while it runs."""
        if not change.address:
            return
        if change.running:
            self.serve(change)
        else:
            self.stop_serving(change.address)

    def serve(self, change: TaskChange) -> SupersetStandIn:
        assert change.address
        password = change.environment.get("ADMIN_PASSWORD") or "admin"
        examples = change.environment.get("SUPERSET_LOAD_EXAMPLES", "").lower() == "yes"
        pr = change.pr
        self.stop_serving(change.address)  # a task that ran there before (a restart)
        server = SupersetStandIn(
            change.address,
            self.port,
            password=password,
            examples=examples,
            faults=lambda: self.faults(pr),
            fleet_healthy=lambda: self.healthy,
        )
        server.crash_looping = change.crash_looping
        server.start()
        with self._lock:
            self._servers[change.address] = server
            self._who[change.address] = change
        return server

    def stop_serving(self, address: str) -> None:
        with self._lock:
            server = self._servers.pop(address, None)
            self._who.pop(address, None)
        if server is not None:
            server.stop()

    # ----- faults, per PR (the console's `break` and `fix`) ------------------------------

    def break_check(self, pr: int, check: Check) -> None:
        with self._lock:
            self._faults.setdefault(pr, set()).add(check)

    def fix(self, pr: int) -> None:
        with self._lock:
            self._faults.pop(pr, None)

    def faults(self, pr: int | None) -> set[Check]:
        with self._lock:
            return set(self._faults.get(pr, set())) if pr is not None else set()

    # ----- looking ----------------------------------------------------------------------

    def at(self, address: str) -> SupersetStandIn | None:
        with self._lock:
            return self._servers.get(address)

    def serving(self) -> dict[str, TaskChange]:
        """Address → the task whose Superset answers there."""
        with self._lock:
            return dict(self._who)


def _port_free_everywhere() -> int:
    """A port free on every local address, so each environment's loopback address has it."""
    with socket.socket() as sock:
        sock.bind(("0.0.0.0", 0))
        return int(sock.getsockname()[1])
