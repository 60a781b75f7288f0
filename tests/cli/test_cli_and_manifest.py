"""The command line, the Slack manifest, the Procfile: what an operator meets first."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from bot.domain.requester import Requester
from bot.orchestrator.jobs import JobKind

ROOT = Path(__file__).resolve().parents[2]


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "GITHUB_", "SHOWTIME_", "ECS_", "AWS_"))
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        env={**clean, **(env or {})},
        cwd=cwd,
        timeout=60,
    )


def test_help_lists_subcommands() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for sub in ("serve", "sandbox", "jobs", "check-config"):
        assert sub in result.stdout


def test_serve_without_settings_exits_2_naming_each_variable(tmp_path: Path) -> None:
    secret = "xoxb-000-leaked-value"
    result = run_cli(
        "serve", env={"SHOWTIME_POLL_SECONDS": "never", "SLACK_API_URL": secret}, cwd=tmp_path
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "SHOWTIME_POLL_SECONDS" in result.stderr and "SLACK_API_URL" in result.stderr
    assert secret not in result.stderr
    missing = run_cli("serve", cwd=tmp_path)
    assert missing.returncode == 2
    for var in (
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "GITHUB_TOKEN",
        "ECS_SUBNETS",
        "ECS_SECURITY_GROUPS",
    ):
        assert var in missing.stderr


def test_jobs_prints_the_audit_log(tmp_path: Path) -> None:
    from bot.adapters.store import SqlJobStore
    from bot.orchestrator.jobs import JobState

    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    store = SqlJobStore(url)
    job = store.create_job(
        kind=JobKind.START, requester=Requester.slack("U1"), lock_key="pr:1", pr=1
    )
    store.finish(job.id, JobState.SUCCEEDED, "#1 runs abc1234")
    store.close()
    result = run_cli("jobs", env={"SHOWTIME_DB_URL": url}, cwd=tmp_path)
    assert result.returncode == 0
    assert job.correlation_id in result.stdout and "succeeded" in result.stdout


def test_jobs_with_no_store_says_so_and_creates_none(tmp_path: Path) -> None:
    result = run_cli("jobs", env={"SHOWTIME_DB_URL": "sqlite:///showtime.db"}, cwd=tmp_path)

    assert result.returncode == 2
    assert f"no job store at {tmp_path.resolve() / 'showtime.db'}" in result.stderr
    assert "SHOWTIME_DB_URL" in result.stderr
    assert not (tmp_path / "showtime.db").exists()


def test_manifest_is_valid_and_holds_only_used_scopes() -> None:
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    commands = manifest["features"]["slash_commands"]
    assert [c["command"] for c in commands] == ["/showtime"]
    assert commands[0]["usage_hint"]
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["settings"]["socket_mode_enabled"] is False
    assert commands[0]["url"].endswith("/slack/events")
    # The Home tab (SPEC §13): enabled, and its event delivered to the same URL.
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    events = manifest["settings"]["event_subscriptions"]
    assert events["request_url"] == commands[0]["url"]
    assert events["bot_events"] == ["app_home_opened"]
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert scopes == {"commands", "chat:write", "usergroups:read"}
    # Every Web API method the bot calls needs one of these scopes (or none).
    source = "\n".join(p.read_text() for p in (ROOT / "bot" / "slack").glob("*.py"))
    source += (ROOT / "bot" / "wiring.py").read_text()
    used = {
        m
        for m in (
            "chat_postMessage",
            "chat_update",
            "chat_getPermalink",
            "usergroups_users_list",
            "users_info",
            "conversations_info",
            "chat_postEphemeral",
            "views_publish",
        )
        if m in source
    }
    # views.publish needs no scope (the Home tab is the app's own surface).
    assert used <= {
        "chat_postMessage",
        "chat_update",
        "chat_getPermalink",
        "usergroups_users_list",
        "views_publish",
    }


def test_procfile_and_env_example() -> None:
    procfile = (ROOT / "Procfile").read_text()
    assert "web: showtime-bot serve" in procfile
    example = (ROOT / ".env.example").read_text()
    from bot.config import MEANINGS

    for var in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "GITHUB_TOKEN", "ECS_SUBNETS"):
        assert var in example and var in MEANINGS
    assert not (ROOT / ".env").exists() or ".env" in (ROOT / ".gitignore").read_text()
