"""Reaching people, end to end (SPEC §15, §16): the bot as its own process. An environment's
password is said once, to the person who asked, and nowhere else — not in a channel, a
thread, a DM, a label, a PR comment, a deployment, the bot's log or the job store. The
console shows DMs as DMs, and opens and submits the Start modal."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from bot.adapters.ecs.taskdef import app_environment
from bot.adapters.store_schema import metadata
from bot.sandbox.aws import inspection_client
from bot.sandbox.console import Console
from bot.sandbox.harness import Sandbox
from bot.sandbox.slack import MAINTAINER_USER_ID, SlackChange
from bot.slack import views

PR = 36121


@pytest.fixture(scope="module")
def telling() -> Iterator[Sandbox]:
    """A sandbox whose bot tells everything it may: PR comments on, its own log at DEBUG."""
    env = {"SHOWTIME_PR_COMMENTS": "true", "LOG_LEVEL": "DEBUG"}
    with Sandbox(drain_seconds=1.0, stable_seconds=0.3, poll_seconds=0.1, env=env) as sandbox:
        yield sandbox


def test_the_password_is_said_once_to_the_asker_and_nowhere_else(telling: Sandbox) -> None:
    sandbox = telling
    seen: list[SlackChange] = []
    unsubscribe = sandbox.slack.on_change(seen.append)
    try:
        assert not sandbox.command(f"start {PR}").failed
        status = sandbox.status_message(PR)
        assert status is not None
        pressed = sandbox.click(status, views.ACTION_CREDENTIALS)
        # Everything else a person may ask for about it, each a chance to leak it.
        for text in (f"status {PR}", "list", f"logs {PR} 200", f"creds {PR}"):
            assert sandbox.command(text, user_id="U0OUTSIDER").response.ok
            sandbox.command(text)
        sandbox.open_home()
        assert not sandbox.command(f"stop {PR}").failed
    finally:
        unsubscribe()

    assert not pressed.failed
    password = _password_of(sandbox, pressed.replies)
    assert password == _task_definition_password(sandbox), "the answer is the environment's"
    assert len(password) >= 20

    # Slack: every change anyone saw (messages, thread replies, edits, DMs, ephemerals, the
    # Home tab), and the workspace as it is now — the password is in two answers only:
    # the Credentials press and `creds`, both to the maintainer, both ephemeral.
    carrying = [c for c in seen if password in json.dumps(c.message, ensure_ascii=False)]
    assert [(c.kind, c.message["user"], c.message["is_ephemeral"]) for c in carrying] == [
        ("response", MAINTAINER_USER_ID, True),
        ("response", MAINTAINER_USER_ID, True),
    ]
    with sandbox.slack.lock:
        messages = [
            m.render(extras=True) for box in sandbox.slack.messages.values() for m in box.values()
        ]
        homes = list(sandbox.slack.published_homes.values())
        ephemerals = list(sandbox.slack.ephemeral_posts)
    assert messages and sandbox.slack.direct_messages(MAINTAINER_USER_ID)  # DMs are in there
    assert password not in json.dumps([messages, homes, ephemerals], ensure_ascii=False)
    # GitHub: labels and their definitions, the PR's comments, its deployments.
    github = sandbox.github
    comments = github.comments(PR)
    assert comments, "PR comments are on: the outcome was told on the PR"
    everything_on_github = [
        github.labels(PR),
        list(github.label_definitions()),
        comments,
        github.deployments(),
    ]
    assert password not in json.dumps(everything_on_github, ensure_ascii=False, default=str)
    # The bot's own log (at DEBUG), and every row of every table of its job store.
    log = sandbox.bot_log()
    assert "job store ready" in log and password not in log
    rows = _store_rows(sandbox)
    assert any(row.get("pr") == PR for row in rows)
    assert password not in json.dumps(rows, ensure_ascii=False, default=str)
    for path in sandbox.workdir.glob("showtime.db*"):
        assert password.encode() not in path.read_bytes(), path.name


def test_the_console_shows_dms_as_dms_and_fills_in_the_start_modal(telling: Sandbox) -> None:
    # One sandbox per module (moto's ECS is patched once per process): PRs of their own.
    sandbox, new_pr, second = telling, 37501, 37502
    for number in (new_pr, second):
        sandbox.github.add_pr(number, f"e2e PR {number}", "")
    out = io.StringIO()
    console = Console(sandbox, out)
    try:
        console.run_lines(
            [
                f"start {new_pr}",
                "click credentials",
                "home start",
                "expect-failure",
                "submit 99999",
                f"submit {second} 72h",
            ],
            echo=True,
        )
    finally:
        console.close()

    shown = out.getvalue()
    assert console.errors == 0, shown
    step = dict(_steps(shown))
    ready = step[f"start {new_pr}"]
    assert "✉️  DM to @maintainer │ 🎉 Your environment of *#" in ready
    assert "📣 #showtime │ 🚧" in ready  # the status message is the channel's
    assert re.search(r"user `admin` · password `[A-Za-z0-9_-]{20,}`", step["click credentials"])
    assert step["click credentials"].startswith("👁  only you │ 🔑")
    assert step["home start"].startswith("🪟 Start an environment │ Pull request: ____")
    assert "⚠️  Pull request: PR #99999 does not exist" in step["submit 99999"]
    started = step[f"submit {second} 72h"]
    assert "🪟 Start an environment │ closed" in started
    assert f"📣 #showtime │ 🚧 *#{second}" in started
    assert f"🏠 Home │ ✅ `start` #{second}: #{second} runs" in started
    assert "🎪 ⌛ 72h" in sandbox.github.labels(second)


def _password_of(sandbox: Sandbox, replies: list[str]) -> str:
    """The password in the Credentials answer (its blocks; the text has none)."""
    answers = [r for r in sandbox.slack.responses() if r["text"].startswith("Admin login")]
    assert answers and replies and replies[0] == answers[0]["text"]
    found = re.search(r"password `([^`]+)`", json.dumps(answers[0]["blocks"]))
    assert found, answers[0]
    return found.group(1)


def _task_definition_password(sandbox: Sandbox) -> str:
    assert sandbox.network is not None
    ecs = inspection_client("ecs", sandbox.network.region, sandbox.aws_url)
    arns = ecs.list_task_definitions(familyPrefix=f"superset-ci-pr-{PR}")["taskDefinitionArns"]
    definition = ecs.describe_task_definition(taskDefinition=arns[-1])["taskDefinition"]
    return app_environment(definition)["ADMIN_PASSWORD"]


def _store_rows(sandbox: Sandbox) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with sandbox.store.engine.connect() as conn:
        for table in metadata.sorted_tables:
            rows += [dict(row) for row in conn.execute(select(table)).mappings()]
    return rows


def _steps(shown: str) -> list[tuple[str, str]]:
    """(the line typed, what the console printed for it), in order."""
    parts = shown.split("\nshowtime> ")[1:]
    return [
        (part.split("\n", 1)[0], part.split("\n", 1)[1] if "\n" in part else "") for part in parts
    ]
