"""A bad configuration stops start-up with ONE message naming every bad variable (SPEC §4):
invalid and missing together, exit status 2, no traceback, no value echoed."""

from __future__ import annotations

import logging

import pytest

from bot.__main__ import main

REQUIRED_TO_SERVE = (
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "GITHUB_TOKEN",
    "ECS_SUBNETS",
    "ECS_SECURITY_GROUPS",
)


pytestmark = pytest.mark.usefixtures("no_configuration")


def test_invalid_and_missing_variables_are_named_together(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SHOWTIME_POLL_SECONDS", "abc")

    status = main(["check-config"])

    out = capsys.readouterr()
    assert status == 2
    assert "SHOWTIME_POLL_SECONDS: invalid" in out.err
    for var in REQUIRED_TO_SERVE:
        assert f"{var}: missing" in out.err
    assert "abc" not in out.err and "Traceback" not in out.err
    assert out.out == ""


def test_a_variable_is_named_once_even_when_invalid_and_needed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "not-a-number-but-a-secret"
    monkeypatch.setenv("GITHUB_APP_ID", "12")
    monkeypatch.setenv("GITHUB_APP_PRIVATE_KEY", "-----BEGIN KEY-----")
    monkeypatch.setenv("GITHUB_APP_INSTALLATION_ID", secret)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.setenv("ECS_TASK_ROLE_ARN", "not a role")

    status = main(["check-config"])

    err = capsys.readouterr().err
    assert status == 2
    assert err.count("GITHUB_APP_INSTALLATION_ID") == 1
    assert "GITHUB_APP_INSTALLATION_ID: invalid" in err
    assert "ECS_TASK_ROLE_ARN: invalid" in err
    assert "SLACK_SIGNING_SECRET: missing" in err and "ECS_SUBNETS: missing" in err
    assert "SLACK_BOT_TOKEN" not in err and "GITHUB_TOKEN" not in err
    assert secret not in err and "not a role" not in err


def test_a_good_configuration_passes(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for var, value in {
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_SIGNING_SECRET": "s",
        "GITHUB_TOKEN": "t",
        "ECS_SUBNETS": "subnet-1",
        "ECS_SECURITY_GROUPS": "sg-1",
        "ECS_TASK_ROLE_ARN": "arn:aws:iam::123456789012:role/showtime-environments",
    }.items():
        monkeypatch.setenv(var, value)

    assert main(["check-config"]) == 0
    assert "configuration OK" in capsys.readouterr().out


def test_check_config_leaves_logging_alone(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Checking the configuration only prints; it does not take over the process's logging."""
    for var in REQUIRED_TO_SERVE:
        monkeypatch.setenv(var, "x")
    handlers = list(logging.getLogger().handlers)

    assert main(["check-config"]) == 0

    assert logging.getLogger().handlers == handlers
