"""Ready means usable (SPEC §15), end to end: the bot as its own process deploys into the
sandbox, whose every environment is a Superset of its own, and says ready, degraded or failed
as a reviewer would find it — on the status message, in the thread, in `status` and `list`,
on the GitHub Deployment — and Check again turns a mended environment green.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.domain.smoke import Check
from bot.sandbox.console import Console
from bot.sandbox.harness import Sandbox
from bot.sandbox.slack import SlackChange
from bot.slack import views

OUTSIDER = "U0OUTSIDER"
READY = "✓ login · 5 dashboards · SQL Lab · charts"
PULLS = "https://github.com/apache/superset/pull"


@pytest.fixture(scope="module")
def shared_sandbox() -> Iterator[Sandbox]:
    """Failing checks are retried for 3 s here, not 15 minutes: degraded comes quickly."""
    env = {"SHOWTIME_SMOKE_TIMEOUT_SECONDS": "3"}
    with Sandbox(drain_seconds=2.0, stable_seconds=0.5, poll_seconds=0.1, env=env) as sandbox:
        sandbox.slack.add_user(OUTSIDER, "outsider")
        yield sandbox


def fresh(sandbox: Sandbox, pr: int) -> dict[str, Any]:
    message = sandbox.status_message(pr)
    assert message is not None
    return sandbox.slack.message(message["channel"], message["ts"]) or message


def shown(message: dict[str, Any]) -> str:
    return str(message["text"]) + json.dumps(message.get("blocks", []), ensure_ascii=False)


def buttons(message: dict[str, Any]) -> list[str]:
    return [
        str(element["action_id"])
        for block in message.get("blocks", [])
        if block.get("type") == "actions"
        for element in block["elements"]
    ]


def thread(sandbox: Sandbox, message: dict[str, Any]) -> list[str]:
    return [str(m["text"]) for m in sandbox.slack.thread(message["channel"], message["ts"])]


def deployment_descriptions(sandbox: Sandbox, pr: int) -> list[str]:
    (deployment, *_) = sandbox.github.deployments(f"showtime-pr-{pr}")
    return [str(status.get("description", "")) for status in deployment["statuses"]]


def test_ready_says_what_passed_on_the_message_and_in_the_thread(
    sandbox: Sandbox, new_pr: int
) -> None:
    changes: list[SlackChange] = []
    unsubscribe = sandbox.slack.on_change(changes.append)
    try:
        outcome = sandbox.command(f"start {new_pr}")
    finally:
        unsubscribe()

    assert not outcome.failed
    message = fresh(sandbox, new_pr)
    assert message["text"].startswith("🟢") and READY in shown(message)
    assert views.ACTION_CHECK not in buttons(message)
    replies = thread(sandbox, message)
    assert replies[-1].startswith("🎉 <@") and READY in replies[-1]
    # The message turned green before the reply that ends the requester's wait was posted,
    # and not again after it (SPEC §10: they turn at the same moment).
    green = [i for i, c in enumerate(changes) if c.kind == "edit" and c.ts == message["ts"]]
    green = [i for i in green if str(changes[i].message.get("text", "")).startswith("🟢")]
    told = next(i for i, c in enumerate(changes) if c.kind == "reply" and "🎉" in c.message["text"])
    assert green and green[0] < told
    assert not [i for i in green if i > told]


@pytest.mark.parametrize(
    ("check", "named"),
    [
        (Check.EXAMPLES, "Examples failed"),
        (Check.CHART, "Chart data failed"),
    ],
)
def test_a_check_that_keeps_failing_leaves_it_up_but_degraded(
    sandbox: Sandbox, new_pr: int, check: Check, named: str
) -> None:
    sandbox.superset.break_check(new_pr, check)
    outcome = sandbox.command(f"start {new_pr}")

    assert not outcome.failed
    message = fresh(sandbox, new_pr)
    assert message["text"].startswith("🟠") and named in shown(message)
    assert any("🚦 running" in label for label in sandbox.github.labels(new_pr))


def test_degraded_everywhere_it_is_shown_then_check_again_turns_it_green(
    sandbox: Sandbox, new_pr: int
) -> None:
    sandbox.superset.break_check(new_pr, Check.SQLLAB)
    assert not sandbox.command(f"start {new_pr}").failed
    failing = "SQL Lab failed: HTTP 500 from /api/v1/sqllab/execute/"

    # The environment stays up, labelled running (the CLI reads it) …
    sha7 = sandbox.github.head_sha(new_pr)[:7]
    assert f"🎪 {sha7} 🚦 running" in sandbox.github.labels(new_pr)
    service = f"pr-{new_pr}-{sha7}-service"
    assert [s["status"] for s in sandbox.services() if s["serviceName"] == service] == ["ACTIVE"]
    # … and every place that shows it says degraded, and which check.
    message = fresh(sandbox, new_pr)
    assert message["text"].startswith("🟠") and f"Degraded:* {failing}" in shown(message)
    assert buttons(message)[:3] == [views.ACTION_OPEN, views.ACTION_CHECK, views.ACTION_LOGS]
    last = thread(sandbox, message)[-1]
    assert last.startswith("🟠 <@") and f"*degraded*: {failing}" in last
    assert "Check again" in last and "📜" in last  # what to do, and the log tail
    assert any("degraded" in d and "SQL Lab" in d for d in deployment_descriptions(sandbox, new_pr))
    sandbox.command(f"status {new_pr}")
    answer = json.dumps(sandbox.slack.responses()[-1].get("blocks"), ensure_ascii=False)
    assert "🟠" in answer and failing in answer
    sandbox.command("list")
    listed = json.dumps(sandbox.slack.responses()[-1].get("blocks"), ensure_ascii=False)
    assert f"#{new_pr}" in listed and "running, degraded" in listed

    # A change on it (Freeze) leaves the message as true as it was: still degraded.
    assert not sandbox.click(message, views.ACTION_FREEZE).failed
    frozen = fresh(sandbox, new_pr)
    assert frozen["text"].startswith("🟠") and f"Degraded:* {failing}" in shown(frozen)
    assert views.ACTION_CHECK in buttons(frozen) and views.ACTION_UNFREEZE in buttons(frozen)
    message = frozen

    # Somebody without permission cannot run it; nothing starts.
    refused = sandbox.click(message, views.ACTION_CHECK, user_id=OUTSIDER)
    assert refused.jobs == [] and refused.replies[0].startswith("🚫")

    sandbox.superset.fix(new_pr)
    again = sandbox.click(message, views.ACTION_CHECK)

    assert [j.kind.value for j in again.jobs] == ["check"]
    assert not again.failed
    mended = fresh(sandbox, new_pr)
    assert mended["text"].startswith("🟢") and READY in shown(mended)
    assert views.ACTION_CHECK not in buttons(mended)
    assert (
        thread(sandbox, mended)[-1].startswith("🎉 <@")
        and "checked again" in thread(sandbox, mended)[-1]
    )
    sandbox.wait_idle()
    assert deployment_descriptions(sandbox, new_pr)[-1] == f"{sha7} runs"
    sandbox.command("list")
    listed = json.dumps(sandbox.slack.responses()[-1].get("blocks"), ensure_ascii=False)
    assert f"🟢 <{PULLS}/{new_pr}|#{new_pr}> `{sha7}` *running* 🎯" in listed


def test_login_never_working_fails_the_deploy_and_leaves_nothing(
    sandbox: Sandbox, new_pr: int
) -> None:
    sandbox.superset.break_check(new_pr, Check.LOGIN)
    outcome = sandbox.command(f"start {new_pr}")

    assert outcome.failed
    message = fresh(sandbox, new_pr)
    assert message["text"].startswith("🔴")
    assert "nobody can log in" in shown(message) and "HTTP 401" in shown(message)
    assert buttons(message)[0] == views.ACTION_RETRY
    last = thread(sandbox, message)[-1]
    assert last.startswith("❌ <@") and "Login failed" in last
    ours = [s for s in sandbox.services() if s["serviceName"].startswith(f"pr-{new_pr}-")]
    assert [s["status"] for s in ours] in ([], ["DRAINING"])  # deleted by the undo
    # The labels say it failed, as a health-check failure's do; nothing points at it.
    labels = sandbox.github.labels(new_pr)
    assert f"🎪 {sandbox.github.head_sha(new_pr)[:7]} 🚦 failed" in labels
    assert not [label for label in labels if "🎯" in label or "🌐" in label]


def test_the_smoke_script_shows_ready_degraded_check_again_and_failed(sandbox: Sandbox) -> None:
    out = io.StringIO()
    console = Console(sandbox, out)
    try:
        script = Path(__file__).parents[2] / "examples" / "sandbox-smoke.txt"
        console.run_lines(script.read_text().splitlines(), echo=True)
    finally:
        console.close()

    shown = out.getvalue()
    assert console.errors == 0, shown[-3000:]
    assert "🎉 @maintainer #36121 runs" in shown and READY in shown
    assert "user `admin` · password `" in shown  # creds, only to the one who asked
    assert "🟠 *Degraded:* SQL Lab failed: HTTP 500 from /api/v1/sqllab/execute/" in shown
    assert "[Open] [Check again] [Logs] [Credentials] [Stop]" in shown
    assert "#36122 39a4e86 at" in shown and "checked again" in shown
    assert (
        "✓ failed, as expected: Superset answers its health check, but nobody can log in" in shown
    )
