"""The environment's own log in Slack (SPEC §14), through the real Bolt app: a failed
deploy's thread quotes its task's last lines, health-check heartbeats its newest line, and
`/showtime logs` and the Logs button answer only the person who asked, if allowed."""

from __future__ import annotations

import pytest
from slack_support import OUTSIDER, SlackWorld, image
from support import SLACK_USER

from bot.sandbox.aws import CRASH_LINES
from bot.slack import views
from bot.slack.text import escape

PR = 36121


def failure_reply(sw: SlackWorld) -> str:
    replies = [t for t in sw.thread_texts(sw.status_message()) if t.startswith("❌")]
    assert len(replies) == 1, replies
    return replies[0]


def unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def code_lines(text: str) -> list[str]:
    assert text.count("```") == 2, text
    return text.split("```")[1].strip("\n").split("\n")


# ----- a failed deploy's thread --------------------------------------------------------------


def test_a_stopped_tasks_last_lines_are_in_the_thread_beside_the_reason(sw: SlackWorld) -> None:
    sw.world.ecs_standin.crash_on_boot(image(sw))

    outcome = sw.command(f"start {PR}")

    assert outcome.jobs[0].state.value == "failed"
    reply = failure_reply(sw)
    assert "failed: a task of" in reply and "Essential container in task exited" in reply
    assert code_lines(reply) == [escape(line) for line in CRASH_LINES]
    assert reply.endswith("(needs AWS access)")
    message = sw.status_message()
    assert "🔴" in message["text"]
    assert sw.buttons(message) == [views.ACTION_RETRY, views.ACTION_LOGS, views.ACTION_STOP]


def test_a_boot_crash_that_never_passes_health_shows_the_crash_lines_and_live_heartbeats(
    sw: SlackWorld, health: dict[str, int]
) -> None:
    sw.world.ecs_standin.crash_loop(
        image(sw), ["[7] [ERROR] Exception in worker process", "ImportError: no create_app"]
    )
    health["status"] = 503
    sw.world.ecs_standin.reset()

    outcome = sw.command(f"start {PR}")

    assert outcome.jobs[0].state.value == "failed"
    reply = failure_reply(sw)
    assert "did not answer 200 within 15m" in reply
    assert code_lines(reply)[-2:] == [
        "[7] [ERROR] Exception in worker process",
        "ImportError: no create_app",
    ]
    heartbeats = [t for t in sw.thread_texts(sw.status_message()) if "still waiting for" in t]
    assert len(heartbeats) >= 10
    assert all(t.endswith(" — `ImportError: no create_app`") for t in heartbeats)
    # At most one read a minute while it waited 15 minutes, plus the failure's own.
    assert sw.world.ecs_standin.calls["GetLogEvents"] <= 17


def test_hostile_log_lines_stay_inert_and_bounded_in_the_thread(sw: SlackWorld) -> None:
    flood = "\n".join(f"<!channel> {n}" for n in range(5000))
    sw.world.ecs_standin.crash_on_boot(
        image(sw), ["x" * 10_000, flood, "```<!here>``` <https://evil.example|Open>"]
    )

    sw.command(f"start {PR}")

    reply = failure_reply(sw)
    lines = code_lines(reply)
    assert len(lines) <= 30 and sum(len(line) + 1 for line in lines) <= 2500
    assert lines[-1] == "ˋˋˋ&lt;!here&gt;ˋˋˋ &lt;https://evil.example|Open&gt;"
    assert lines[-2] == "&lt;!channel&gt; 4999"
    for markup in ("<!channel>", "<!here>", "<https://evil"):
        assert markup not in reply
    assert len(reply) < 4000


def test_a_log_the_bot_may_not_read_is_one_line_and_the_outcome_is_unchanged(
    sw: SlackWorld,
) -> None:
    sw.world.ecs_standin.crash_on_boot(image(sw))
    sw.world.ecs_standin.fail_next("GetLogEvents", "AccessDeniedException", "not authorized")

    outcome = sw.command(f"start {PR}")

    assert outcome.jobs[0].state.value == "failed"
    reply = failure_reply(sw)
    assert "Essential container in task exited" in reply
    last = reply.splitlines()[-1]
    assert last.startswith("📜 no log: the bot may not read logs — add logs:GetLogEvents")
    assert "```" not in reply
    sha = sw.world.github_standin.head_sha(PR)[:7]
    assert f"🎪 {sha} 🚦 failed" in sw.world.labels(PR)
    assert sw.world.services() == []


def test_a_missing_image_says_there_is_no_log_without_reading_one(sw: SlackWorld) -> None:
    sw.world.ecs_standin.mark_image_missing(image(sw))

    sw.command(f"start {PR}")

    reply = failure_reply(sw)
    assert "image not built yet" in reply
    assert "📜 no log: the container never started" in reply
    assert sw.world.ecs_standin.calls["GetLogEvents"] == 0


# ----- `/showtime logs` and the Logs button --------------------------------------------------


def test_logs_answers_only_the_allowed_person_who_asked(sw: SlackWorld) -> None:
    sw.command(f"start {PR}")
    public = len(sw.slack.channel_messages("C0SHOWTIME"))
    thread = len(sw.thread_texts(sw.status_message()))
    sw.world.github_standin.reset_counts()
    sw.world.ecs_standin.reset()

    outcome = sw.command(f"logs {PR} 3")

    assert outcome.jobs == []
    (answer,) = sw.slack.responses()[-1:]
    assert (answer["response_type"], answer["user"]) == ("ephemeral", SLACK_USER)
    shown = str(answer["blocks"])
    assert "the last 3 lines of `pr-36121-" in shown
    assert "Booting worker with pid: 7" in shown and "full log in the AWS console" in shown
    # Nothing for anyone else to see; the budget: one GitHub read, one ListTasks, one read.
    assert len(sw.slack.channel_messages("C0SHOWTIME")) == public
    assert len(sw.thread_texts(sw.status_message())) == thread
    assert sw.world.github_standin.total() == 1
    assert dict(sw.world.ecs_standin.calls) == {"ListTasks": 1, "GetLogEvents": 1}


def test_an_outsider_gets_no_log(sw: SlackWorld) -> None:
    sw.command(f"start {PR}")
    sw.world.ecs_standin.reset()

    outcome = sw.command(f"logs {PR}", user_id=OUTSIDER)

    assert any(r.startswith("🚫") and "may not change" in r for r in outcome.replies)
    assert sw.world.ecs_standin.calls["GetLogEvents"] == 0


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (f"logs {PR} 500", "too many"),
        (f"logs {PR} many", "is not a number of lines"),
        ("logs 36122", "has no active environment"),
    ],
)
def test_bad_logs_input_is_told_with_the_usage(sw: SlackWorld, text: str, says: str) -> None:
    outcome = sw.command(text)
    answers = [unescape(a) for a in [outcome.response.text, *outcome.replies]]
    assert any(says in a and "`logs <pr> [<lines>]`" in a for a in answers), answers
    assert sw.world.ecs_standin.calls["GetLogEvents"] == 0


def test_the_logs_button_answers_only_the_presser_and_only_if_allowed(sw: SlackWorld) -> None:
    sw.command(f"start {PR}")
    message = sw.status_message()
    assert views.ACTION_LOGS in sw.buttons(message)
    thread = len(sw.thread_texts(message))
    sw.world.github_standin.reset_counts()
    sw.world.ecs_standin.reset()

    pressed = sw.click(message, views.ACTION_LOGS)

    assert pressed.jobs == []
    answer = sw.slack.responses()[-1]
    assert (answer["response_type"], answer["user"]) == ("ephemeral", SLACK_USER)
    assert answer["replace_original"] is False  # the status message stays as it is
    assert "Booting worker with pid: 7" in str(answer["blocks"])
    assert "full log in the AWS console" in str(answer["blocks"])
    assert len(sw.thread_texts(message)) == thread
    # The message names its SHA: no GitHub read; one ListTasks, one GetLogEvents.
    assert sw.world.github_standin.total() == 0
    assert dict(sw.world.ecs_standin.calls) == {"ListTasks": 1, "GetLogEvents": 1}

    refused = sw.click(message, views.ACTION_LOGS, user_id=OUTSIDER)

    assert any(r.startswith("🚫") for r in refused.replies)
    assert sw.slack.responses()[-1]["user"] == OUTSIDER
    assert sw.world.ecs_standin.calls["GetLogEvents"] == 1


def test_logs_counts_toward_the_per_user_limit_of_reads(sw: SlackWorld) -> None:
    for _ in range(10):
        assert "Slow down" not in sw.command(f"logs {PR}").response.text
    assert "Slow down" in sw.command(f"status {PR}").response.text
