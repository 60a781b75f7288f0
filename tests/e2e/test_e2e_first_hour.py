"""The first hour of a new maintainer (SPEC §17) in the sandbox, the bot as its own process:
Extend up to 1w and no further, a stop with nothing to stop heard only by the asker, Logs on
a crashed deploy showing the crash, and no earlier message left saying Running after a stop."""

from __future__ import annotations

from typing import Any

from bot.sandbox.aws import CRASH_LINES
from bot.sandbox.harness import Sandbox
from bot.slack import views

CHANNEL = "C0SHOWTIME"


def sha7(sandbox: Sandbox, pr: int) -> str:
    return sandbox.github.head_sha(pr)[:7]


def fresh(sandbox: Sandbox, message: dict[str, Any]) -> dict[str, Any]:
    found = sandbox.slack.message(message["channel"], message["ts"])
    assert found is not None
    return found


def buttons(sandbox: Sandbox, message: dict[str, Any]) -> list[str]:
    return [
        element["action_id"]
        for block in fresh(sandbox, message).get("blocks", [])
        if block.get("type") == "actions"
        for element in block["elements"]
    ]


def messages_about(sandbox: Sandbox, pr: int) -> list[dict[str, Any]]:
    return [m for m in sandbox.slack.channel_messages(CHANNEL) if f"#{pr}" in str(m.get("text"))]


def public(sandbox: Sandbox, pr: int) -> int:
    """Messages about ``pr`` in the channel and every reply under them."""
    found = messages_about(sandbox, pr)
    return len(found) + sum(len(sandbox.slack.thread(CHANNEL, m["ts"])) for m in found)


def test_extend_stops_at_1w_and_says_so_only_to_the_presser(sandbox: Sandbox, new_pr: int) -> None:
    sandbox.command(f"start {new_pr} ttl=72h")
    message = sandbox.status_message(new_pr)
    assert message is not None
    assert not sandbox.click(message, views.ACTION_EXTEND).failed
    assert "🎪 ⌛ 1w" in sandbox.github.labels(new_pr)
    before = public(sandbox, new_pr)

    at_the_top = sandbox.click(fresh(sandbox, message), views.ACTION_EXTEND)

    assert [r for r in at_the_top.replies if r.startswith("ℹ️")], at_the_top.replies
    assert "already at the longest TTL (1w)" in at_the_top.replies[-1]
    assert public(sandbox, new_pr) == before
    labels = sandbox.github.labels(new_pr)
    assert "🎪 ⌛ 1w" in labels and "🎪 ⌛ close" not in labels
    assert views.ACTION_LOGS in buttons(sandbox, message)


def test_a_stop_with_nothing_to_stop_posts_nothing(sandbox: Sandbox, new_pr: int) -> None:
    outcome = sandbox.command(f"stop {new_pr}")

    assert outcome.replies == [f"ℹ️ #{new_pr} has no environment; nothing to stop"]
    assert messages_about(sandbox, new_pr) == []


def test_logs_on_a_crashed_deploy_shows_its_crash(sandbox: Sandbox, new_pr: int) -> None:
    sandbox.ecs.crash_on_boot(f"apache/superset:pr-{new_pr}-{sha7(sandbox, new_pr)}-ci")
    failed = sandbox.command(f"start {new_pr}")
    assert failed.jobs and failed.jobs[0].state.value == "failed"
    message = sandbox.status_message(new_pr)
    assert message is not None and views.ACTION_LOGS in buttons(sandbox, message)

    sandbox.click(fresh(sandbox, message), views.ACTION_LOGS)

    answer = str(sandbox.slack.responses()[-1].get("blocks"))
    assert "ModuleNotFoundError" in answer and "runs no task now" not in answer
    assert CRASH_LINES[0] in answer


def test_after_a_stop_no_earlier_message_says_running(sandbox: Sandbox, new_pr: int) -> None:
    sandbox.command(f"start {new_pr}")
    sandbox.command(f"start {new_pr}")  # a redeploy, in a status message of its own
    earlier = messages_about(sandbox, new_pr)
    assert len(earlier) == 2 and all(views.ACTION_STOP in buttons(sandbox, m) for m in earlier)

    sandbox.command(f"stop {new_pr}")

    for message in messages_about(sandbox, new_pr):
        assert buttons(sandbox, message) == [views.ACTION_REDEPLOY]  # Start again
        assert fresh(sandbox, message)["text"].startswith("⚪")
