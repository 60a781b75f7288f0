"""The smoke check: log in and use the environment the way a reviewer will (SPEC §15).

After ``/health`` answers 200, ``HttpSmokeCheck.wait_usable`` asks Superset's own REST API,
as the environment's admin:

1. **login** — ``POST /api/v1/security/login`` (``provider: db``) → an access token;
2. **examples** — ``GET /api/v1/database/`` names the ``examples`` database and
   ``GET /api/v1/dashboard/`` counts at least one dashboard;
3. **SQL Lab** — ``GET /api/v1/security/csrf_token/`` (Superset wants its CSRF token and the
   session cookie that comes with it on a POST), then ``POST /api/v1/sqllab/execute/`` runs
   ``SELECT 1`` on the examples database and returns a row;
4. **chart** — ``GET /api/v1/chart/`` (two, newest first), then
   ``GET /api/v1/chart/<id>/data/`` returns rows. A chart saved before Superset kept query
   contexts answers 400 ("Chart has no query context saved"): the second is tried instead.

When everything passes at once that is 7 requests (SPEC §10: at most 8; 8 when the newest
chart has no saved query context). The examples database's id is looked up once and shared.
Lists are asked for one page of one or two rows (``q=(page_size:1)``): ``count`` says how
many there are, so answers stay small.

Failing checks are retried every 15 s until SHOWTIME_SMOKE_TIMEOUT_SECONDS (examples may
still be loading), with a ``Waiting`` event at each change and a heartbeat at most once a
minute naming the check that still fails ("still waiting for SQL Lab (HTTP 500), 2m10s");
a check that passed is not asked again, login excepted (each round is a new session). The
result is a ``SmokeReport`` either way: whether a failure fails the deploy (login) or only
degrades it (the rest) is the orchestrator's decision.

What the environment answers is chosen by PR code, so, as for the health probe: a redirect
is never followed (a 3xx fails that check), proxies from the environment are not used,
every request has its own limit (10 s, never much more than the time left) and answers are
read up to 5 MiB. Nothing the environment sends is quoted in a result: details are the
bot's own words ("HTTP 500 from /api/v1/sqllab/execute/"), with numbers it parsed. The
password and the token never reach a log line, an event or a result.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Self

import requests

from bot.adapters.waiting import Wait, WaitText, duration, phrased
from bot.clock import Clock
from bot.config import Settings
from bot.domain.events import Progress, format_elapsed, no_progress
from bot.domain.smoke import Check, CheckResult, SmokeReport
from bot.orchestrator.ports import AdminLogin

log = logging.getLogger(__name__)

RETRY_SECONDS = 15.0  # failing checks are asked again this often (SPEC §15)
REQUEST_SECONDS = 10.0  # each request's own limit (SPEC §15)
LAST_LOOK_SECONDS = 1.0  # the look at the deadline still gets this long per request
MAX_ANSWER_BYTES = 5 * 1024 * 1024
CHARTS_TRIED = 2  # the newest may have no saved query context; 8 requests at most

LOGIN_PATH = "/api/v1/security/login"
DATABASES_PATH = "/api/v1/database/"
DASHBOARDS_PATH = "/api/v1/dashboard/"
CSRF_PATH = "/api/v1/security/csrf_token/"
EXECUTE_PATH = "/api/v1/sqllab/execute/"
CHARTS_PATH = "/api/v1/chart/"
EXAMPLES_DATABASE = "examples"

# Rison (what Flask-AppBuilder's list endpoints read from ``q``): one small page each.
_EXAMPLES_QUERY = (
    f"(columns:!(id,database_name),filters:!((col:database_name,opr:eq,value:{EXAMPLES_DATABASE})))"
)
_DASHBOARDS_QUERY = "(columns:!(id),page_size:1)"
_CHARTS_QUERY = f"(columns:!(id,slice_name),page_size:{CHARTS_TRIED})"


class HttpSmokeCheck:
    """``SmokeCheckPort`` over HTTP, waiting on ``clock`` (tests: a FakeClock)."""

    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        *,
        request_seconds: float = REQUEST_SECONDS,
        retry_seconds: float = RETRY_SECONDS,
    ) -> None:
        self._timeout = settings.showtime_smoke_timeout_seconds
        self._clock = clock
        self._request_seconds = request_seconds
        self._retry_seconds = retry_seconds

    def with_clock(self, clock: Clock) -> Self:
        """The same check, waiting on ``clock`` (a job's: a cancel ends its 15 s pauses)."""
        bound = copy.copy(self)
        bound._clock = clock
        return bound

    def wait_usable(
        self,
        url: str,
        login: AdminLogin,
        checks: Sequence[Check],
        *,
        examples: bool,
        progress: Progress = no_progress,
    ) -> SmokeReport:
        """Run ``checks`` until they all pass or the timeout is over; the latest report.

        As in SHOWTIME_SMOKE_CHECKS, any check implies the login (they all need its session).
        """
        asked = tuple(c for c in Check if c in checks or (checks and c is Check.LOGIN))
        skipped = () if examples else tuple(c for c in asked if c.needs_examples)
        run = tuple(check for check in asked if check not in skipped)
        if not run:
            return SmokeReport((), skipped)
        base = url.rstrip("/")
        wait = Wait(self._clock, self._timeout, "smoke_check", progress, self._text())
        results: dict[Check, CheckResult] = {}
        found = _Found()
        while True:
            pending = [check for check in run if not (check in results and results[check].ok)]
            results.update(self._round(base, login, pending, wait, found))
            report = SmokeReport(tuple(results.get(c) or _not_checked(c) for c in run), skipped)
            failing = report.failing
            if failing is None:
                log.info(
                    "%s is usable after %s: %s",
                    base,
                    format_elapsed(wait.elapsed),
                    report.summary(),
                )
                return report
            wait.observe(failing.state, report.problem())
            if wait.expired:
                log.info(
                    "%s is not usable after %s: %s", base, duration(self._timeout), report.problem()
                )
                return report
            wait.pause(self._retry_seconds)

    def _round(
        self, base: str, login: AdminLogin, pending: list[Check], wait: Wait, found: _Found
    ) -> dict[Check, CheckResult]:
        """One look at every pending check, in a session of its own."""

        def timeout() -> float:
            return min(self._request_seconds, max(wait.remaining, LAST_LOOK_SECONDS))

        with _Round(base, requests.Session(), timeout, found) as looking:
            results = {Check.LOGIN: looking.result(Check.LOGIN, lambda: looking.login(login))}
            if not results[Check.LOGIN].ok:
                return results  # nothing else can be looked at without a session
            for check in pending:
                if check is not Check.LOGIN:
                    results[check] = looking.result(check, looking.step(check))
            return results

    def _text(self) -> WaitText:
        every, limit = duration(self._retry_seconds), duration(self._timeout)
        return phrased(
            f"{{detail}}; trying again every {every} for up to {limit}",
            "{detail}, {elapsed}",
            "still waiting for {state}, {elapsed}",
        )


# ----- one round of checks ------------------------------------------------------------------


@dataclass
class _Found:
    """What one round learns that the next need not ask again."""

    examples_database: int | None = None


class _Unusable(Exception):
    """A check failed: why, in the bot's words, and the HTTP status if one answered."""

    def __init__(self, detail: str, status: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status


@dataclass
class _Round:
    base: str
    session: requests.Session
    timeout: Callable[[], float]
    found: _Found
    headers: dict[str, str] = field(default_factory=dict)

    def __enter__(self) -> _Round:
        # Nothing from the bot's own environment: no proxy (the environment is reached
        # directly), no ~/.netrc credentials sent to PR code.
        self.session.trust_env = False
        self.session.headers.update(
            {"User-Agent": "showtime-bot smoke check", "Accept": "application/json"}
        )
        return self

    def __exit__(self, *exc: object) -> None:
        self.session.close()

    def result(self, check: Check, run: Callable[[], str]) -> CheckResult:
        try:
            return CheckResult(check, True, run(), 200)
        except _Unusable as failed:
            log.debug("smoke check of %s: %s failed: %s", self.base, check, failed.detail)
            return CheckResult(check, False, failed.detail, failed.status)

    def step(self, check: Check) -> Callable[[], str]:
        return {Check.EXAMPLES: self.examples, Check.SQLLAB: self.sqllab, Check.CHART: self.chart}[
            check
        ]

    # ----- the checks -----------------------------------------------------------------

    def login(self, login: AdminLogin) -> str:
        body = {
            "username": login.username,
            "password": login.password,
            "provider": "db",
            "refresh": False,
        }
        answer = self.call("POST", LOGIN_PATH, json=body)
        token = answer.get("access_token") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token:
            raise _Unusable(f"no access token in the answer from {LOGIN_PATH}", 200)
        self.headers["Authorization"] = f"Bearer {token}"
        return ""

    def examples(self) -> str:
        self.examples_database()
        answer = self.call("GET", DASHBOARDS_PATH, params={"q": _DASHBOARDS_QUERY})
        count = _count(answer)
        if count is None:
            raise _Unusable(f"no dashboard count in the answer from {DASHBOARDS_PATH}", 200)
        if count < 1:
            raise _Unusable("no dashboards yet", 200)
        return f"{count} dashboard{'' if count == 1 else 's'}"

    def sqllab(self) -> str:
        database = self.examples_database()
        csrf = self.call("GET", CSRF_PATH)
        token = csrf.get("result") if isinstance(csrf, dict) else None
        if not isinstance(token, str) or not token:
            raise _Unusable(f"no CSRF token in the answer from {CSRF_PATH}", 200)
        body = {
            "database_id": database,
            "sql": "SELECT 1",
            "runAsync": False,
            "queryLimit": 1,
            "select_as_cta": False,
            "tab": "showtime smoke check",
        }
        headers = {"X-CSRFToken": token, "Referer": f"{self.base}/sqllab/"}
        answer = self.call("POST", EXECUTE_PATH, json=body, headers=headers)
        if not _list(answer, "data"):
            raise _Unusable(f"no row in the answer from {EXECUTE_PATH}", 200)
        return "1 row"

    def chart(self) -> str:
        listed = self.call("GET", CHARTS_PATH, params={"q": _CHARTS_QUERY})
        ids = _ids(listed)[:CHARTS_TRIED]
        if not ids:
            raise _Unusable("no charts yet", 200)
        *earlier, last = ids
        for chart_id in earlier:
            try:
                return self.chart_data(chart_id)
            except _Unusable as failed:
                if failed.status != 400:  # 400: saved without a query context; the next one
                    raise
        return self.chart_data(last)

    def chart_data(self, chart_id: int) -> str:
        path = f"{CHARTS_PATH}{chart_id}/data/"
        rows = _rows(self.call("GET", path))
        if rows < 1:
            raise _Unusable(f"no rows in the answer from {path}", 200)
        return f"{rows} row{'' if rows == 1 else 's'}"

    def examples_database(self) -> int:
        """The examples database's id (looked up once; it does not change)."""
        if self.found.examples_database is None:
            answer = self.call("GET", DATABASES_PATH, params={"q": _EXAMPLES_QUERY})
            found = [
                _int(database.get("id"))
                for database in _items(answer)
                if database.get("database_name") == EXAMPLES_DATABASE
            ]
            self.found.examples_database = next((i for i in found if i is not None), None)
            if self.found.examples_database is None:
                raise _Unusable("no examples database yet", 200)
        return self.found.examples_database

    # ----- one request ------------------------------------------------------------------

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One request, its JSON answer; ``_Unusable`` for anything but a 200 with JSON."""
        limit = self.timeout()
        headers = {**self.headers, **kwargs.pop("headers", {})}
        try:
            response = self.session.request(
                method,
                self.base + path,
                headers=headers,
                timeout=limit,
                allow_redirects=False,
                stream=True,
                **kwargs,
            )
        except requests.Timeout as exc:
            raise _Unusable(f"no answer from {path} within {_seconds(limit)}") from exc
        except requests.RequestException as exc:
            raise _Unusable(f"no answer from {path} ({type(exc).__name__})") from exc
        with response:
            status = response.status_code
            if 300 <= status < 400:
                raise _Unusable(f"HTTP {status} from {path} (a redirect; not followed)", status)
            if status != 200:
                raise _Unusable(f"HTTP {status} from {path}", status)
            return _json(_read(response, path, limit), path)


def _read(response: requests.Response, path: str, limit: float) -> bytes:
    """The body, at most ``MAX_ANSWER_BYTES``, within ``limit`` seconds however it trickles."""
    deadline = time.monotonic() + limit  # a socket's time, not a wait's: the real clock
    body = bytearray()
    try:
        for chunk in response.iter_content(64 * 1024):
            body.extend(chunk)
            if len(body) > MAX_ANSWER_BYTES:
                raise _Unusable(f"the answer from {path} is over 5 MiB", response.status_code)
            if time.monotonic() > deadline:
                raise _Unusable(f"no whole answer from {path} within {_seconds(limit)}")
    except requests.RequestException as exc:
        raise _Unusable(f"no whole answer from {path} ({type(exc).__name__})") from exc
    return bytes(body)


def _json(body: bytes, path: str) -> Any:
    try:
        return json.loads(body)
    except ValueError as exc:
        raise _Unusable(f"{path} answered 200 without JSON", 200) from exc


def _seconds(limit: float) -> str:
    """A request's limit as people read it: ``10s``, ``2.5s``."""
    return f"{round(limit, 1):g}s"


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _list(answer: Any, key: str) -> list[Any]:
    """``answer[key]`` when it is a list; else nothing."""
    found = answer.get(key) if isinstance(answer, dict) else None
    return found if isinstance(found, list) else []


def _items(answer: Any, key: str = "result") -> list[dict[str, Any]]:
    return [item for item in _list(answer, key) if isinstance(item, dict)]


def _count(answer: Any) -> int | None:
    return _int(answer.get("count")) if isinstance(answer, dict) else None


def _ids(answer: Any) -> list[int]:
    return [found for item in _items(answer) if (found := _int(item.get("id"))) is not None]


def _rows(answer: Any) -> int:
    """Rows in a chart data answer: ``result[*].rowcount`` (or the length of ``data``)."""
    return sum(
        max(_int(result.get("rowcount")) or 0, len(_list(result, "data")))
        for result in _items(answer)
    )


def _not_checked(check: Check) -> CheckResult:
    return CheckResult(check, False, "not checked: the login failed")
