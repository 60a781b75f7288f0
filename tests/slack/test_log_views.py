"""An environment's log as Slack shows it (SPEC §14, §12), without HTTP: PR code's output
stays inert text, bounded, inside a code block it cannot close."""

from __future__ import annotations

import json

from bot.domain.events import LogTail, Waiting
from bot.orchestrator.models import PrLogs
from bot.sandbox.slack import block_kit_problems
from bot.slack import views
from bot.slack.progress import newest_line
from bot.slack.views import Card

CONSOLE = "https://us-west-2.console.aws.amazon.com/ecs/v2/clusters/c/services/s/logs?region=x&y=1"
HOSTILE = (
    *(f"<!channel> flood {n}" for n in range(5000)),
    "x" * 10_000,
    "```<!here> closed the block?```",
    "<@U0MAINTAINER> <https://evil.example/login|Open the environment> & done",
    "arn:aws:iam::123456789012:role/ci postgresql://superset:hunter2@db:5432/superset",
)


def code_lines(text: str) -> list[str]:
    """The lines between the one pair of ``` fences in ``text``."""
    assert text.count("```") == 2, text
    return text.split("```")[1].strip("\n").split("\n")


def test_a_failure_tail_is_bounded_escaped_and_stays_in_its_code_block() -> None:
    text = views.failure_log_text(LogTail(HOSTILE, truncated=True, stream="ecs/app/0f3c"), CONSOLE)

    lines = code_lines(text)
    assert len(lines) <= 30
    assert sum(len(line) + 1 for line in lines) <= 2500
    # §12: no account ids, no credentials (the one masking function: bot.domain.masking).
    assert lines[-1] == "[iam resource] postgresql://[masked]@db:5432/superset"
    for raw in ("<!channel>", "<!here>", "<@U0MAINTAINER>", "<https://evil.example"):
        assert raw not in text
    assert "&lt;!channel&gt; flood 4999" in lines  # the newest lines, oldest first
    assert "&lt;!channel&gt; flood 0" not in lines
    assert "&lt;!here&gt;" in text and "ˋˋˋ" in text  # shown, inert, unable to close
    assert "hunter2" not in text and "123456789012" not in text  # §12: no credentials, ids
    assert max(len(line) for line in lines) <= 300 * 5  # one line cut to 300 before escaping
    # Ends with the console link for those who have access.
    assert text.endswith("(needs AWS access)")
    assert "<https://us-west-2.console.aws.amazon.com/ecs/v2/clusters/c/services/s/logs" in text


def test_no_log_is_one_line_saying_why_with_the_console_link() -> None:
    text = views.failure_log_text(
        LogTail(problem="no log: the bot may not read logs — add logs:GetLogEvents <!here>"),
        CONSOLE,
    )
    assert "\n" not in text and "```" not in text
    assert text.startswith("📜 no log: the bot may not read logs")
    assert "&lt;!here&gt;" in text and "(needs AWS access)" in text


def test_the_logs_answer_fits_slack_and_keeps_thenewest_lines() -> None:
    lines = tuple(f"{n:03d} " + "é<`" * 120 for n in range(200))
    logs = PrLogs(36121, "abc1234", "pr-36121-abc1234-service", LogTail(lines), CONSOLE)

    blocks = views.logs_blocks(logs, "apache/superset")

    assert block_kit_problems(blocks) == []
    text = json.dumps(blocks, ensure_ascii=False)
    assert "199 " in text and "<`" not in text
    assert "(earlier lines not shown)" in text  # 200 lines of 360 characters do not all fit
    assert "full log in the AWS console" in text
    for block in blocks[1:-1]:
        assert block["text"]["text"].startswith("```\n") and block["text"]["text"].endswith("```")


def test_a_logs_answer_without_lines_says_why() -> None:
    logs = PrLogs(36121, "abc1234", "s", LogTail(problem="no log yet: task `1` wrote nothing"), "")
    blocks = views.logs_blocks(logs, "apache/superset")
    assert len(blocks) == 1 and "no log yet" in blocks[0]["text"]["text"]


def test_a_heartbeat_shows_thenewest_line_cut_to_150_and_inert() -> None:
    event = Waiting(
        "health_check", "HTTP 503", 130.0, "still waiting", log_line="`<!channel>` " * 40
    )
    shown = newest_line(event)
    assert shown.startswith(" — `") and shown.endswith("`")
    inner = shown[4:-1]
    assert "`" not in inner and "<!channel>" not in inner
    assert len(inner.replace("&lt;", "<").replace("&gt;", ">")) == 150
    assert newest_line(Waiting("health_check", "HTTP 503", 1.0, "waiting")) == ""


def test_logs_is_a_button_the_bot_answers_not_a_link() -> None:
    card = Card(pr=1, repository="apache/superset", sha="abc1234", state="failed", logs_url="x")
    logs = next(b for b in views.card_buttons(card) if b["action_id"] == views.ACTION_LOGS)
    assert "url" not in logs and logs["value"] == "1:abc1234"
    assert views.ACTION_LOGS not in views.LINK_ACTIONS
