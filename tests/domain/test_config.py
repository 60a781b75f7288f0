"""Settings: every SPEC §4 variable typed; problems named by variable, never echoing values."""

from __future__ import annotations

import pytest

from bot.config import Settings, load_settings
from bot.errors import ConfigurationError

SECRET = "xoxb-test-secret-value"


pytestmark = pytest.mark.usefixtures("no_configuration")


def test_defaults_match_the_spec() -> None:
    s = Settings()
    assert s.slack_api_url == "https://slack.com/api/"
    assert s.showtime_max_environments == 30
    assert s.github_repository == "apache/superset"
    assert s.github_api_url == "https://api.github.com"
    assert s.github_seconds_between_writes == 1.0
    assert s.aws_region == "us-west-2"
    assert s.ecs_cluster == "superset-ci"
    assert s.ecs_assign_public_ip == "ENABLED"
    assert s.showtime_image_template == "apache/superset:pr-{pr}-{sha}-ci"
    assert s.showtime_env_port == 8080
    assert s.showtime_health_path == "/health"
    assert s.showtime_poll_seconds == 5
    assert s.showtime_drain_timeout_seconds == 600
    assert s.showtime_default_ttl == "48h"
    assert s.showtime_db_url == "sqlite:///showtime.db"
    assert s.ecs_task_definition_file.is_file()
    assert not s.socket_mode


def test_lists_pairs_decimals_and_database_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOWTIME_ALLOWED_USERS", "U1, U2,,U3")
    monkeypatch.setenv("ECS_SUBNETS", "subnet-example1,subnet-example2")
    monkeypatch.setenv("SHOWTIME_GITHUB_LOGINS", "U1:maxime,U2:villebro")
    monkeypatch.setenv("SHOWTIME_POLL_SECONDS", "0.2")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db/showtime")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1-test")
    s = Settings()
    assert s.showtime_allowed_users == ["U1", "U2", "U3"]
    assert s.ecs_subnets == ["subnet-example1", "subnet-example2"]
    assert s.showtime_github_logins == {"U1": "maxime", "U2": "villebro"}
    assert s.showtime_poll_seconds == 0.2
    assert s.showtime_db_url == "postgresql://u:p@db/showtime"
    assert s.socket_mode


def test_dotenv_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    from pathlib import Path

    Path(".env").write_text("ECS_CLUSTER=from-dotenv\nSHOWTIME_DEFAULT_TTL=1w\n")
    s = Settings()
    assert s.ecs_cluster == "from-dotenv"
    assert s.showtime_default_ttl == "1w"


def test_serve_without_slack_names_each_missing_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(("slack", "github"))
    text = str(caught.value)
    assert "SLACK_BOT_TOKEN: missing" in text
    assert "SLACK_SIGNING_SECRET: missing" in text
    assert "GITHUB_TOKEN: missing" in text


def test_invalid_values_are_named_without_echoing_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOWTIME_POLL_SECONDS", "soon")
    monkeypatch.setenv("SLACK_API_URL", SECRET)
    monkeypatch.setenv("SHOWTIME_DEFAULT_TTL", "3d")
    monkeypatch.setenv("SHOWTIME_GITHUB_LOGINS", "nonsense")
    monkeypatch.setenv("SHOWTIME_IMAGE_TEMPLATE", "x:{branch}")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    text = str(caught.value)
    for var in (
        "SHOWTIME_POLL_SECONDS",
        "SLACK_API_URL",
        "SHOWTIME_DEFAULT_TTL",
        "SHOWTIME_GITHUB_LOGINS",
        "SHOWTIME_IMAGE_TEMPLATE",
    ):
        assert var in text
    assert SECRET not in text and "soon" not in text


def test_secrets_are_not_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", SECRET)
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_abcdefghijklmnop")
    s = Settings()
    assert SECRET not in repr(s) and "ghp_abcdefghijklmnop" not in repr(s)
    assert s.slack_bot_token is not None and s.slack_bot_token.get_secret_value() == SECRET


def test_partial_github_app_names_the_missing_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_APP_ID", "123")
    with pytest.raises(ConfigurationError) as caught:
        load_settings(("github",))
    text = str(caught.value)
    assert "GITHUB_APP_PRIVATE_KEY: missing" in text
    assert "GITHUB_APP_INSTALLATION_ID: missing" in text
