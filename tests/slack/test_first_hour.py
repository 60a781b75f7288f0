"""The first hour of a new maintainer (SPEC §17), through the real Bolt app under waitress
with the Slack, GitHub and AWS stand-ins: buttons that stay true, failure guidance that names
only what the message offers, old cards that do not lie, no public noise for a request that
changes nothing, and an Extend that never removes the expiry by itself."""

from __future__ import annotations

import re
from typing import Any

import pytest
from slack_support import RUNNING_BUTTONS, SlackWorld, image
from support import SLACK_USER

from bot.sandbox.aws import CRASH_LINES
from bot.slack import views
from bot.slack.text import escape

PR = 36121
CHANNEL = "C0SHOWTIME"
WRITES = ("POST", "PUT", "PATCH", "DELETE")
# Every button a status message may carry, as the "Next:" lines name them.
BUTTON_WORDS = {
    "Open": views.ACTION_OPEN,
    "Logs": views.ACTION_LOGS,
    "Stop": views.ACTION_STOP,
    "Redeploy": views.ACTION_REDEPLOY,
    "Retry": views.ACTION_RETRY,
    "Extend": views.ACTION_EXTEND,
    "Freeze": views.ACTION_FREEZE,
    "Unfreeze": views.ACTION_UNFREEZE,
    "Cancel": views.ACTION_CANCEL,
}


def fresh(sw: SlackWorld, message: dict[str, Any]) -> dict[str, Any]:
    found = sw.slack.message(message["channel"], message["ts"])
    assert found is not None
    return found


def texts(blocks: Any) -> str:
    """Every text of Block Kit ``blocks``, one per line (what a person reads)."""
    if isinstance(blocks, dict):
        found = [blocks["text"]] if isinstance(blocks.get("text"), str) else []
        return "\n".join(found + [texts(v) for k, v in blocks.items() if k != "text" or not found])
    if isinstance(blocks, list):
        return "\n".join(texts(item) for item in blocks)
    return ""


def shown(sw: SlackWorld, message: dict[str, Any]) -> str:
    """What the message shows now: its blocks' text."""
    return texts(fresh(sw, message).get("blocks"))


def last_answer(sw: SlackWorld) -> str:
    """The text of the last answer only its asker saw."""
    return texts(sw.slack.responses()[-1].get("blocks"))


def pressed_words(text: str) -> set[str]:
    """The buttons a text tells people to press ("press Logs", "(or press Logs)")."""
    return set(re.findall(r"[Pp]ress (\w+)", text))


def assert_names_only_its_buttons(sw: SlackWorld, message: dict[str, Any]) -> None:
    """Every button the message's words ask for is on the message (SPEC §17)."""
    words = pressed_words(shown(sw, message))
    missing = {w for w in words if BUTTON_WORDS.get(w) not in sw.buttons(message)}
    assert not missing, (words, sw.buttons(message), shown(sw, message))


def failure_reply(sw: SlackWorld, message: dict[str, Any]) -> str:
    (reply,) = [t for t in sw.thread_texts(message) if t.startswith("❌")]
    return reply


def public_counts(sw: SlackWorld) -> tuple[int, int]:
    """Messages in the channel, and replies in all their threads."""
    messages = sw.slack.channel_messages(CHANNEL)
    return len(messages), sum(len(sw.slack.thread(CHANNEL, m["ts"])) for m in messages)


# ----- buttons stay true ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("press", "command"),
    [
        (views.ACTION_EXTEND, None),
        (views.ACTION_FREEZE, None),
        (None, f"freeze {PR}"),
        (None, f"ttl {PR} 72h"),
    ],
)
def test_a_running_message_keeps_logs_and_every_button_after_a_change(
    sw: SlackWorld, press: str | None, command: str | None
) -> None:
    sw.command(f"start {PR}")
    message = sw.status_message()
    assert sw.buttons(message) == RUNNING_BUTTONS

    outcome = sw.click(message, press) if press else sw.command(command or "")

    assert [job.state.value for job in outcome.jobs] == ["succeeded"]
    buttons = sw.buttons(message)
    assert views.ACTION_LOGS in buttons
    assert set(buttons) - {views.ACTION_FREEZE, views.ACTION_UNFREEZE} == set(RUNNING_BUTTONS) - {
        views.ACTION_FREEZE
    }
    assert "🟢" in fresh(sw, message)["text"]


def test_unfreeze_keeps_the_logs_button_and_the_logs_still_answer(sw: SlackWorld) -> None:
    sw.command(f"start {PR}")
    message = sw.status_message()
    sw.click(message, views.ACTION_FREEZE)
    assert views.ACTION_UNFREEZE in sw.buttons(message)

    sw.click(message, views.ACTION_UNFREEZE)

    assert sw.buttons(message) == RUNNING_BUTTONS
    sw.click(message, views.ACTION_LOGS)
    assert "Booting worker with pid: 7" in last_answer(sw)


# ----- failures: guidance that names what the message has, Logs that shows the failure ------


def crash_on_boot(sw: SlackWorld, health: dict[str, int]) -> None:
    sw.world.ecs_standin.crash_on_boot(image(sw))


def crash_loop(sw: SlackWorld, health: dict[str, int]) -> None:
    sw.world.ecs_standin.crash_loop(image(sw))
    health["status"] = 503  # workers keep dying: the health check never passes


def image_missing(sw: SlackWorld, health: dict[str, int]) -> None:
    sw.world.ecs_standin.mark_image_missing(image(sw))


@pytest.mark.parametrize("failure", [crash_on_boot, crash_loop, image_missing])
def test_every_failure_names_only_buttons_its_message_has(
    sw: SlackWorld, health: dict[str, int], failure: Any
) -> None:
    failure(sw, health)

    outcome = sw.command(f"start {PR}")

    assert [job.state.value for job in outcome.jobs] == ["failed"]
    message = sw.status_message()
    assert "🔴" in fresh(sw, message)["text"]
    assert views.ACTION_RETRY in sw.buttons(message)
    assert_names_only_its_buttons(sw, message)
    # The thread's failure reply speaks about the same message's buttons.
    words = pressed_words(failure_reply(sw, message))
    assert {BUTTON_WORDS[w] for w in words} <= set(sw.buttons(message)), words


def test_logs_on_a_crashed_deploy_shows_the_crash_not_an_empty_service(sw: SlackWorld) -> None:
    sw.world.ecs_standin.crash_on_boot(image(sw))
    sw.command(f"start {PR}")
    message = sw.status_message()
    assert sw.world.services() == []  # the failed deploy's undo deleted its service
    sw.world.ecs_standin.reset()

    pressed = sw.click(message, views.ACTION_LOGS)

    assert pressed.jobs == []
    answer = sw.slack.responses()[-1]
    assert (answer["response_type"], answer["user"]) == ("ephemeral", SLACK_USER)
    blocks = texts(answer["blocks"])
    assert escape(CRASH_LINES[-1]) in blocks
    assert "runs no task now" not in blocks
    # The job store named the task: one GetLogEvents, no task look-up.
    assert dict(sw.world.ecs_standin.calls) == {"GetLogEvents": 1}


def test_logs_on_a_deploy_whose_health_check_never_passed_shows_its_last_lines(
    sw: SlackWorld, health: dict[str, int]
) -> None:
    sw.world.ecs_standin.crash_loop(
        image(sw), ["[7] [ERROR] Exception in worker process", "ImportError: no create_app"]
    )
    health["status"] = 503
    sw.command(f"start {PR}")
    message = sw.status_message()
    assert "did not answer 200" in failure_reply(sw, message)
    assert sw.world.services() == []

    sw.click(message, views.ACTION_LOGS)

    blocks = last_answer(sw)
    assert "ImportError: no create_app" in blocks and "runs no task now" not in blocks
    # `/showtime logs` with no environment running finds the failed one too.
    sw.command(f"logs {PR} 5")
    assert "ImportError: no create_app" in last_answer(sw)


def test_a_missing_image_links_no_log_anywhere(sw: SlackWorld) -> None:
    sw.world.ecs_standin.mark_image_missing(image(sw))

    sw.command(f"start {PR}")

    message = sw.status_message()
    reply = failure_reply(sw, message)
    assert "image not built yet" in reply
    assert views.ACTION_LOGS not in sw.buttons(message)
    for text in (reply, shown(sw, message)):
        assert "AWS console" not in text and "press Logs" not in text
    # Asked anyway: why there is none, without an AWS call.
    sw.world.ecs_standin.reset()
    sw.command(f"logs {PR}")
    answer = last_answer(sw)
    assert "failed before its container ran" in answer and "AWS console" not in answer
    assert sw.world.ecs_standin.calls["GetLogEvents"] == 0


# ----- old cards do not lie ----------------------------------------------------------------


def test_after_a_stop_no_earlier_message_still_says_running(sw: SlackWorld) -> None:
    sw.command(f"start {PR}")
    first = sw.status_message()
    sw.command(f"start {PR}")  # a redeploy: a second message that says running
    second = sw.status_message()
    assert second["ts"] != first["ts"]

    sw.command(f"stop {PR}")

    stop = sw.status_message()
    for message in (first, second):
        assert fresh(sw, message)["text"].startswith(f"⚪ #{PR}")
        assert "Stopped" in shown(sw, message) and "Running" not in shown(sw, message)
        assert sw.buttons(message) == [views.ACTION_REDEPLOY]  # Start again, nothing else
    assert "Stopped" in shown(sw, stop)
    for message in sw.slack.channel_messages(CHANNEL):
        assert views.ACTION_STOP not in sw.buttons(message)
        assert views.ACTION_OPEN not in sw.buttons(message)


def test_a_stop_adds_one_slack_update_per_earlier_message_showing_the_environment(
    sw: SlackWorld,
) -> None:
    """The cost of keeping old cards true, measured: one chat.update per earlier message
    that showed the environment, nothing else (the stop's own messages are the same)."""
    labels_only = 36122
    sw.world.github_standin.set_labels(labels_only, ["🎪 ⌛ 48h"])  # no message, no service
    sw.slack.reset_calls()
    sw.command(f"stop {labels_only}")
    plain = dict(sw.slack.calls)

    sw.command(f"start {PR}")
    sw.command(f"start {PR}")
    sw.slack.reset_calls()
    sw.command(f"stop {PR}")
    with_two = dict(sw.slack.calls)

    assert with_two["chat.update"] == plain["chat.update"] + 2
    assert with_two["chat.postMessage"] == plain["chat.postMessage"]


def test_a_rolling_update_marks_the_earlier_message_replaced(sw: SlackWorld) -> None:
    sw.command(f"start {PR}")
    first = sw.status_message()
    old = sw.world.github_standin.head_sha(PR)[:7]
    new = sw.world.github_standin.push_commit(PR)[:7]

    sw.command(f"start {PR}")  # the new head: a rolling update, in a message of its own

    current = sw.status_message()
    assert current["ts"] != first["ts"]
    assert f"Running {new}" in shown(sw, current)
    assert f"Replaced by `{new}`" in shown(sw, first)
    assert f"`{old}`" in fresh(sw, first)["text"]
    assert sw.buttons(first) == [views.ACTION_REDEPLOY]
    assert sw.buttons(current) == RUNNING_BUTTONS


def test_an_expired_environment_leaves_no_message_saying_running(sw: SlackWorld) -> None:
    sw.command(f"start {PR}")
    first = sw.status_message()
    sw.command(f"start {PR}")  # a second message; the sweeper reports in the newest thread
    sw.world.clock.advance(49 * 3600)

    sw.bot.orchestrator.sweep()

    def none_running() -> bool:
        messages = sw.slack.channel_messages(CHANNEL)
        return not any(views.ACTION_STOP in sw.buttons(m) for m in messages)

    sw.slack.wait_for(none_running, 30, "no message offering Stop")
    assert sw.world.services() == []
    assert "Stopped" in shown(sw, first)
    for message in sw.slack.channel_messages(CHANNEL):
        assert "Running" not in shown(sw, message)


# ----- nothing to do: only you hear it ------------------------------------------------------


@pytest.mark.parametrize(
    ("setup", "command", "says"),
    [
        ([], f"stop {PR}", f"#{PR} has no environment; nothing to stop"),
        (["🎪 🧊 showtime-freeze"], f"freeze {PR}", f"#{PR} is already frozen"),
        ([], f"unfreeze {PR}", f"#{PR} is not frozen; nothing to unfreeze"),
        (["🎪 ⌛ 72h"], f"ttl {PR} 72h", f"#{PR}'s TTL is already 72h; nothing to change"),
    ],
)
def test_a_command_that_changes_nothing_is_said_only_to_whoever_asked(
    sw: SlackWorld, setup: list[str], command: str, says: str
) -> None:
    sw.world.github_standin.set_labels(PR, setup)
    before = public_counts(sw)
    sw.world.github_standin.reset_counts()
    sw.world.ecs_standin.reset()

    outcome = sw.command(command)

    (answer,) = outcome.replies
    assert answer.startswith("ℹ️ ") and says in answer, answer
    assert sw.slack.responses()[-1]["response_type"] == "ephemeral"
    assert public_counts(sw) == before  # no status message, no thread, no reply
    assert sum(sw.world.github_standin.total(m) for m in WRITES) == 0
    assert sw.world.github_standin.total() == 1  # the PR, read once
    assert sorted(sw.world.labels(PR)) == sorted(setup)
    assert "DeleteService" not in sw.world.ecs_standin.calls


def test_a_service_without_labels_is_something_to_stop(sw: SlackWorld) -> None:
    """ECS is the truth: labels gone (removed by hand, the CLI) but a service runs."""
    sw.command(f"start {PR}")
    sw.world.github_standin.set_labels(PR, [])

    outcome = sw.command(f"stop {PR}")

    assert [job.state.value for job in outcome.jobs] == ["succeeded"]
    assert sw.world.services() == []
    assert "Stopped" in shown(sw, sw.status_message())


def test_buttons_that_change_nothing_answer_only_the_presser(sw: SlackWorld) -> None:
    sw.command(f"start {PR}")
    older = fresh(sw, sw.status_message())  # as it was: offering Freeze
    sw.command(f"freeze {PR}")  # the message now offers Unfreeze
    assert views.ACTION_UNFREEZE in sw.buttons(older)
    before = public_counts(sw)
    labels = sorted(sw.world.labels(PR))
    sw.world.github_standin.reset_counts()

    # A copy of the message from before (another client, a slow refresh) still says Freeze.
    stale = sw.send(sw.requester.click(older, views.ACTION_FREEZE))

    assert any(r.startswith("ℹ️ ") and "already frozen" in r for r in stale.replies), stale.replies
    assert public_counts(sw) == before
    assert sum(sw.world.github_standin.total(m) for m in WRITES) == 0
    assert sorted(sw.world.labels(PR)) == labels


def test_a_stop_of_a_merged_pr_with_nothing_left_posts_nothing(sw: SlackWorld) -> None:
    """The issue's case: `stop 36000` of a merged PR that runs nothing."""
    merged = 36000
    sw.world.github_standin.add_pr(merged, "chore: an old change", "")
    sw.world.github_standin.close_pr(merged, merged=True)
    before = public_counts(sw)

    outcome = sw.command(f"stop {merged}")

    assert outcome.replies == [f"ℹ️ #{merged} has no environment; nothing to stop"]
    assert public_counts(sw) == before


# ----- Extend never removes the expiry by itself --------------------------------------------


def test_extend_climbs_to_1w_and_stops_there(sw: SlackWorld) -> None:
    sw.command(f"start {PR}")  # the default TTL, 48h
    message = sw.status_message()
    for ttl in ("72h", "1w"):
        outcome = sw.click(message, views.ACTION_EXTEND)
        assert [job.state.value for job in outcome.jobs] == ["succeeded"]
        assert f"🎪 ⌛ {ttl}" in sw.world.labels(PR)
    before = public_counts(sw)
    shown_before = shown(sw, message)
    sw.world.github_standin.reset_counts()

    at_the_top = sw.click(message, views.ACTION_EXTEND)

    (answer,) = at_the_top.replies
    assert answer.startswith("ℹ️ ") and "already at the longest TTL (1w)" in answer
    assert f"`/showtime ttl {PR} close` keeps it until the PR closes" in answer
    assert public_counts(sw) == before and shown(sw, message) == shown_before
    assert sum(sw.world.github_standin.total(m) for m in WRITES) == 0
    assert "🎪 ⌛ 1w" in sw.world.labels(PR) and "🎪 ⌛ close" not in sw.world.labels(PR)
    # Asking for close is how it gets there.
    sw.command(f"ttl {PR} close")
    assert "🎪 ⌛ close" in sw.world.labels(PR)


def test_extend_from_the_default_ttl_goes_one_step_longer_than_it(sw: SlackWorld) -> None:
    sw.command(f"start {PR}")
    sw.world.github_standin.set_labels(
        PR, [name for name in sw.world.labels(PR) if "⌛" not in name]
    )  # no ⌛ label: the default 48h applies

    sw.click(sw.status_message(), views.ACTION_EXTEND)

    assert [name for name in sw.world.labels(PR) if "⌛" in name] == ["🎪 ⌛ 72h"]
