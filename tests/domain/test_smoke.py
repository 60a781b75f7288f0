"""The smoke check's vocabulary and verdict (SPEC §15): what the setting means, what people read."""

from __future__ import annotations

import pytest

from bot.config import Settings, load_settings
from bot.domain.smoke import Check, CheckResult, SmokeReport, parse_checks
from bot.errors import ConfigurationError

EVERYTHING = (Check.LOGIN, Check.EXAMPLES, Check.SQLLAB, Check.CHART)


def passed(check: Check, detail: str = "") -> CheckResult:
    return CheckResult(check, True, detail, 200)


# ----- SHOWTIME_SMOKE_CHECKS ------------------------------------------------------------


def test_the_default_runs_every_check_in_order() -> None:
    assert parse_checks("login,examples,sqllab,chart") == EVERYTHING
    assert Settings(_env_file=None).showtime_smoke_checks == EVERYTHING  # type: ignore[call-arg]


def test_empty_means_the_health_check_alone() -> None:
    assert parse_checks("") == ()
    assert parse_checks(" , ,") == ()


def test_any_check_implies_login_and_the_order_is_the_running_order() -> None:
    assert parse_checks("sqllab") == (Check.LOGIN, Check.SQLLAB)
    assert parse_checks("chart, EXAMPLES,chart") == (Check.LOGIN, Check.EXAMPLES, Check.CHART)
    assert parse_checks("login") == (Check.LOGIN,)


def test_an_unknown_check_is_named() -> None:
    with pytest.raises(ValueError, match="unknown smoke check 'charts'; choose from login"):
        parse_checks("login,charts")


def test_a_bad_setting_stops_start_up_naming_the_variable_and_the_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SHOWTIME_SMOKE_CHECKS", "login,sql")
    with pytest.raises(ConfigurationError) as caught:
        load_settings(_env_file=None)

    assert "SHOWTIME_SMOKE_CHECKS: invalid — unknown smoke check 'sql'" in str(caught.value)


def test_the_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOWTIME_SMOKE_CHECKS", "examples")
    monkeypatch.setenv("SHOWTIME_SMOKE_TIMEOUT_SECONDS", "12.5")
    settings = load_settings(_env_file=None)

    assert settings.showtime_smoke_checks == (Check.LOGIN, Check.EXAMPLES)
    assert settings.showtime_smoke_timeout_seconds == 12.5


# ----- the verdict ----------------------------------------------------------------------


def test_all_passing_is_ready_and_summed_up_in_one_line() -> None:
    report = SmokeReport(
        (
            passed(Check.LOGIN),
            passed(Check.EXAMPLES, "12 dashboards"),
            passed(Check.SQLLAB, "1 row"),
            passed(Check.CHART, "23 rows"),
        )
    )

    assert report.ready and report.login_ok
    assert report.failing is None
    assert report.summary() == "✓ login · 12 dashboards · SQL Lab · charts"
    assert report.problem() == ""


def test_a_later_check_failing_is_not_ready_but_login_worked() -> None:
    sqllab = CheckResult(Check.SQLLAB, False, "HTTP 500 from /api/v1/sqllab/execute/", 500)
    report = SmokeReport(
        (
            passed(Check.LOGIN),
            passed(Check.EXAMPLES, "3 dashboards"),
            sqllab,
            CheckResult(Check.CHART, False, "HTTP 500 from /api/v1/chart/7/data/", 500),
        )
    )

    assert not report.ready and report.login_ok
    assert report.failing == sqllab  # the first one: the later ones may follow from it
    assert report.summary() == "✓ login · 3 dashboards"
    assert report.problem() == "SQL Lab failed: HTTP 500 from /api/v1/sqllab/execute/"
    assert sqllab.state == "SQL Lab (HTTP 500)"


def test_a_failed_login_is_what_the_problem_names() -> None:
    report = SmokeReport(
        (
            CheckResult(Check.LOGIN, False, "HTTP 401 from /api/v1/security/login", 401),
            CheckResult(Check.EXAMPLES, False, "not checked: no login"),
        )
    )

    assert not report.login_ok and not report.ready
    assert report.problem() == "Login failed: HTTP 401 from /api/v1/security/login"
    assert report.summary() == ""


def test_a_failure_without_an_answer_says_why_in_its_state() -> None:
    result = CheckResult(Check.EXAMPLES, False, "no examples database yet")

    assert result.state == "examples (no examples database yet)"
    assert SmokeReport((passed(Check.LOGIN), result)).problem() == (
        "Examples failed: no examples database yet"
    )


def test_checks_without_examples_to_look_at_are_said_to_be_skipped() -> None:
    report = SmokeReport(
        (passed(Check.LOGIN),), skipped=(Check.EXAMPLES, Check.SQLLAB, Check.CHART)
    )

    assert report.ready
    assert report.summary() == (
        "✓ login · no examples loaded, so examples, SQL Lab and chart data not checked"
    )


def test_no_checks_at_all_stand_in_no_ones_way() -> None:
    report = SmokeReport(())

    assert report.ready and report.login_ok and report.summary() == ""
