"""The smoke check against the sandbox's Superset over loopback HTTP (SPEC §15, §10, §12).

Real HTTP to a real server on 127.0.0.1; the waits between rounds run on a FakeClock, so
minutes of retrying cost milliseconds. What is judged is what people would read (the
report's words, the thread's waiting lines) and what Superset was asked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import pytest

from bot.adapters.smoke import HttpSmokeCheck
from bot.clock import FakeClock
from bot.config import Settings
from bot.domain.events import Event, Waiting
from bot.domain.smoke import Check, SmokeReport
from bot.orchestrator.ports import AdminLogin
from bot.sandbox.superset import Chart, SupersetStandIn

PASSWORD = "sandbox-password-for-the-smoke-tests"
LOGIN = AdminLogin("admin", PASSWORD, generated=True, examples=True)
LOGIN_WRONG = AdminLogin("admin", "wrong", generated=True, examples=True)
EVERYTHING = (Check.LOGIN, Check.EXAMPLES, Check.SQLLAB, Check.CHART)


class ScriptedClock(FakeClock):
    """A FakeClock that lets the test change the world between two rounds of checks."""

    def __init__(self) -> None:
        super().__init__()
        self.on_sleep: Callable[[int], None] = lambda slept: None

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds)
        self.on_sleep(len(self.slept))


@pytest.fixture
def superset() -> Iterator[SupersetStandIn]:
    server = SupersetStandIn(password=PASSWORD).start()
    yield server
    server.stop()


@pytest.fixture
def clock() -> ScriptedClock:
    return ScriptedClock()


def checker(clock: FakeClock, timeout: float = 900.0, **options: float) -> HttpSmokeCheck:
    settings = Settings(_env_file=None, showtime_smoke_timeout_seconds=timeout)  # type: ignore[call-arg]
    return HttpSmokeCheck(settings, clock, **options)  # type: ignore[arg-type]


def check(
    superset: SupersetStandIn,
    clock: FakeClock,
    events: list[Event] | None = None,
    *,
    timeout: float = 900.0,
    checks: tuple[Check, ...] = EVERYTHING,
    login: AdminLogin = LOGIN,
    examples: bool = True,
    **options: float,
) -> SmokeReport:
    return checker(clock, timeout, **options).wait_usable(
        superset.url,
        login,
        checks,
        examples=examples,
        progress=(events if events is not None else []).append,
    )


def waiting(events: list[Event]) -> list[str]:
    return [event.text for event in events if isinstance(event, Waiting)]


# ----- everything passes ----------------------------------------------------------------


def test_a_usable_superset_is_ready_at_once_in_at_most_eight_requests(
    superset: SupersetStandIn, clock: ScriptedClock
) -> None:
    events: list[Event] = []

    report = check(superset, clock, events)

    assert report.ready
    assert report.summary() == "✓ login · 5 dashboards · SQL Lab · charts"
    assert events == [] and clock.slept == []
    assert superset.requests == [
        ("POST", "/api/v1/security/login"),
        ("GET", "/api/v1/database/"),
        ("GET", "/api/v1/dashboard/"),
        ("GET", "/api/v1/security/csrf_token/"),
        ("POST", "/api/v1/sqllab/execute/"),
        ("GET", "/api/v1/chart/"),
        ("GET", "/api/v1/chart/41/data/"),
    ]
    assert len(superset.requests) <= 8  # SPEC §10


def test_a_chart_saved_without_a_query_context_is_skipped_for_the_next_within_budget(
    superset: SupersetStandIn, clock: ScriptedClock
) -> None:
    superset.charts = [Chart(7, "Old chart", query_context=False), Chart(8, "New chart", rows=3)]

    report = check(superset, clock)

    assert report.ready
    assert superset.requests[-2:] == [
        ("GET", "/api/v1/chart/7/data/"),
        ("GET", "/api/v1/chart/8/data/"),
    ]
    assert len(superset.requests) == 8


def test_the_cli_default_login_works_too(clock: ScriptedClock) -> None:
    server = SupersetStandIn().start()  # no ADMIN_PASSWORD: docker-init's admin/admin
    try:
        report = check(server, clock, login=AdminLogin("admin", "admin", False, True))
    finally:
        server.stop()

    assert report.ready


def test_without_examples_only_the_login_is_checked(
    superset: SupersetStandIn, clock: ScriptedClock
) -> None:
    superset.examples = False

    report = check(superset, clock, examples=False)

    assert report.ready
    assert report.summary() == (
        "✓ login · no examples loaded, so examples, SQL Lab and chart data not checked"
    )
    assert superset.requests == [("POST", "/api/v1/security/login")]


def test_no_checks_ask_nothing(superset: SupersetStandIn, clock: ScriptedClock) -> None:
    assert check(superset, clock, checks=()).ready
    assert superset.requests == []


def test_sql_lab_alone_still_finds_the_examples_database(
    superset: SupersetStandIn, clock: ScriptedClock
) -> None:
    report = check(superset, clock, checks=(Check.LOGIN, Check.SQLLAB))

    assert report.ready and report.summary() == "✓ login · SQL Lab"
    assert [path for _, path in superset.requests] == [
        "/api/v1/security/login",
        "/api/v1/database/",
        "/api/v1/security/csrf_token/",
        "/api/v1/sqllab/execute/",
    ]


def test_any_check_implies_the_login(superset: SupersetStandIn, clock: ScriptedClock) -> None:
    report = check(superset, clock, timeout=0.5, checks=(Check.CHART,), login=LOGIN_WRONG)

    assert not report.login_ok
    assert report.problem() == "Login failed: HTTP 401 from /api/v1/security/login"
    assert [r.check for r in report.results] == [Check.LOGIN, Check.CHART]


# ----- each check failing -----------------------------------------------------------------


def test_a_refused_login_fails_the_login_and_asks_nothing_else(
    superset: SupersetStandIn, clock: ScriptedClock
) -> None:
    report = check(superset, clock, timeout=30, login=LOGIN_WRONG)

    assert not report.login_ok and not report.ready
    assert report.problem() == "Login failed: HTTP 401 from /api/v1/security/login"
    assert report.summary() == ""
    assert {path for _, path in superset.requests} == {"/api/v1/security/login"}
    assert clock.slept == [15.0, 15.0]  # looked at 0, 15 and 30 s


def test_missing_examples_fail_the_examples_check(
    superset: SupersetStandIn, clock: ScriptedClock
) -> None:
    superset.broken = {Check.EXAMPLES}

    report = check(superset, clock, timeout=0.5)

    assert report.login_ok and not report.ready
    assert report.problem() == "Examples failed: no examples database yet"


def test_no_dashboards_yet_fail_the_examples_check(
    superset: SupersetStandIn, clock: ScriptedClock
) -> None:
    superset.dashboards = 0

    report = check(superset, clock, timeout=0.5, checks=(Check.LOGIN, Check.EXAMPLES))

    assert report.problem() == "Examples failed: no dashboards yet"


def test_sql_lab_answering_500_degrades_but_login_worked(
    superset: SupersetStandIn, clock: ScriptedClock
) -> None:
    superset.broken = {Check.SQLLAB}

    report = check(superset, clock, timeout=0.5)

    assert report.login_ok and not report.ready
    assert report.problem() == "SQL Lab failed: HTTP 500 from /api/v1/sqllab/execute/"
    assert report.summary() == "✓ login · 5 dashboards · charts"
    assert report.failing is not None and report.failing.status == 500


def test_chart_data_answering_500_fails_the_chart_check(
    superset: SupersetStandIn, clock: ScriptedClock
) -> None:
    superset.broken = {Check.CHART}

    report = check(superset, clock, timeout=0.5)

    assert report.problem() == "Chart data failed: HTTP 500 from /api/v1/chart/41/data/"
    assert report.summary() == "✓ login · 5 dashboards · SQL Lab"


def test_a_redirect_is_a_failure_and_is_never_followed(
    superset: SupersetStandIn, clock: ScriptedClock
) -> None:
    internal = SupersetStandIn().start()
    try:
        target = f"{internal.url}/api/v1/security/login"
        superset.override("/api/v1/security/login", 307, {"Location": target})

        report = check(superset, clock, timeout=0.5)
    finally:
        internal.stop()

    assert report.problem() == (
        "Login failed: HTTP 307 from /api/v1/security/login (a redirect; not followed)"
    )
    assert internal.requests == []  # the password went nowhere else


def test_a_hanging_answer_hits_the_request_limit(
    superset: SupersetStandIn, clock: ScriptedClock
) -> None:
    superset.override("/api/v1/dashboard/", 200, delay=30)

    report = check(superset, clock, timeout=10, request_seconds=0.3)

    assert report.problem() == "Examples failed: no answer from /api/v1/dashboard/ within 0.3s"
    assert report.failing is not None and report.failing.status is None


def test_an_answer_without_json_is_a_failure_in_the_bots_own_words(
    superset: SupersetStandIn, clock: ScriptedClock
) -> None:
    superset.override("/api/v1/chart/", 200)  # "{}": no charts in it

    report = check(superset, clock, timeout=0.5)

    assert report.problem() == "Chart data failed: no charts yet"


def test_nothing_answering_is_said_so(clock: ScriptedClock) -> None:
    server = SupersetStandIn().start()
    url = server.url
    server.stop()

    report = checker(clock, 0.5).wait_usable(url, LOGIN, EVERYTHING, examples=True)

    assert report.problem().startswith("Login failed: no answer from /api/v1/security/login (")


def test_proxies_from_the_environment_are_not_used(
    superset: SupersetStandIn, clock: ScriptedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")

    assert check(superset, clock).ready


# ----- retrying, and what the thread hears meanwhile ------------------------------------------


def test_failing_checks_are_retried_every_15_seconds_until_they_pass(
    superset: SupersetStandIn, clock: ScriptedClock
) -> None:
    superset.broken = {Check.SQLLAB}
    clock.on_sleep = lambda slept: superset.broken.clear() if slept == 2 else None
    events: list[Event] = []

    report = check(superset, clock, events)

    assert report.ready
    assert clock.slept == [15.0, 15.0]
    assert waiting(events) == [
        "SQL Lab failed: HTTP 500 from /api/v1/sqllab/execute/; "
        "trying again every 15s for up to 15m"
    ]
    # What passed is not asked again: a retry is a login, the CSRF token and the query.
    assert len(superset.requests) == 7 + 3 + 3


def test_the_heartbeat_names_the_check_that_still_fails_once_a_minute(
    superset: SupersetStandIn, clock: ScriptedClock
) -> None:
    superset.broken = {Check.SQLLAB}
    events: list[Event] = []
    started = clock.monotonic()

    report = check(superset, clock, events, timeout=150)

    assert not report.ready and report.login_ok
    assert waiting(events) == [
        "SQL Lab failed: HTTP 500 from /api/v1/sqllab/execute/; "
        "trying again every 15s for up to 2m30s",
        "still waiting for SQL Lab (HTTP 500), 1m0s",
        "still waiting for SQL Lab (HTTP 500), 2m0s",
    ]
    assert all(isinstance(e, Waiting) and e.step == "smoke_check" for e in events)
    assert clock.monotonic() - started == 150  # the last look is at the deadline


def test_a_different_failing_check_is_reported_when_it_changes(
    superset: SupersetStandIn, clock: ScriptedClock
) -> None:
    superset.broken = {Check.EXAMPLES}

    def world(slept: int) -> None:
        if slept == 1:  # the examples finished loading; now the charts' table is broken
            superset.broken = {Check.CHART}
        if slept == 3:
            superset.broken = set()

    clock.on_sleep = world
    events: list[Event] = []

    assert check(superset, clock, events).ready
    assert waiting(events) == [
        "Examples failed: no examples database yet; trying again every 15s for up to 15m",
        "Chart data failed: HTTP 500 from /api/v1/chart/41/data/, 15s",
    ]


def test_the_login_breaking_later_keeps_what_passed_and_names_the_login(
    superset: SupersetStandIn, clock: ScriptedClock
) -> None:
    superset.broken = {Check.CHART}
    clock.on_sleep = lambda slept: superset.broken.add(Check.LOGIN)

    report = check(superset, clock, timeout=15)

    assert not report.login_ok
    assert report.problem() == "Login failed: HTTP 401 from /api/v1/security/login"


# ----- secrets ------------------------------------------------------------------------------


def test_neither_the_password_nor_the_token_reaches_a_log_line_or_an_event(
    superset: SupersetStandIn, clock: ScriptedClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    superset.broken = {Check.SQLLAB}
    events: list[Event] = []

    report = check(superset, clock, events, timeout=60)

    tokens = list(superset._tokens)
    assert tokens and events and caplog.text
    for secret in (PASSWORD, *tokens):
        assert secret not in caplog.text
        assert all(secret not in repr(event) for event in events)
        assert secret not in repr(report)
    assert PASSWORD not in repr(LOGIN)
