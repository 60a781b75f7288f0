"""The sandbox console shows the bot's immediate answers as Slack shows them, lists its own
commands on `help` and `?`, and prints where the Open button goes (SPEC §17)."""

from __future__ import annotations

import io
import json
from typing import Any

from bot.sandbox.console import COMMANDS, SLASH_VERBS, Console, help_text
from bot.sandbox.harness import Outcome
from bot.sandbox.slack_client import Response

USAGE_ACK = json.dumps(
    {
        "text": "*Showtime* gives a pull request its own Superset.\nUsage: `start <pr>` · `list`",
        "response_type": "ephemeral",
    }
)  # json.dumps writes "·" as \u00b7, as Bolt's ack body does
BLOCKS_ACK = json.dumps(
    {
        "text": "fallback",
        "blocks": [
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "🚫 *#1* is blocked &lt;!here&gt;"},
            },
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "ask <@U0MAINTAINER>"}]},
        ],
        "response_type": "ephemeral",
    }
)
OPEN_URL = "http://127.0.0.1:43210"


class _Slack:
    def __init__(self) -> None:
        self.listener: Any = None

    def on_change(self, listener: Any) -> Any:
        self.listener = listener
        return lambda: None

    def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        return None


class _GitHub:
    def __init__(self) -> None:
        self.listener: Any = None

    def on_comment(self, listener: Any) -> Any:
        self.listener = listener

        def unsubscribe() -> None:
            self.listener = None

        return unsubscribe


class _Sandbox:
    """The console's view of a sandbox: every command and click is acked with ``ack``."""

    def __init__(self, ack: str = "") -> None:
        self.slack = _Slack()
        self.github = _GitHub()
        self.ack = ack
        self.asked: list[str] = []
        self.clicked: list[tuple[str, bool]] = []

    def _outcome(self) -> Outcome:
        return Outcome(Response(200, {}, self.ack, 0.0, None))  # type: ignore[arg-type]

    def command(self, text: str, *, wait: bool) -> Outcome:
        self.asked.append(text)
        return self._outcome()

    def click(self, message: dict[str, Any], action_id: str, *, wait: bool) -> Outcome:
        self.clicked.append((action_id, wait))
        return self._outcome()


def test_a_comment_the_bot_writes_on_a_pr_is_shown_as_github_shows_it() -> None:
    sandbox = _Sandbox()
    console, out = console_for(sandbox)

    sandbox.github.listener(36123, "🎪 @contributor: only people with write access…\nline 2")
    console.close()
    assert sandbox.github.listener is None

    assert out.getvalue().splitlines() == [
        "💬 comment on #36123 │ 🎪 @contributor: only people with write access…",
        "      line 2",
    ]


def console_for(sandbox: _Sandbox) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(sandbox, out), out  # type: ignore[arg-type]


def test_an_ack_is_rendered_as_slack_shows_it_never_as_json() -> None:
    sandbox = _Sandbox(USAGE_ACK)
    console, out = console_for(sandbox)

    console.run_lines(["/showtime help", "/showtime bogus"], echo=False)

    shown = out.getvalue()
    assert sandbox.asked == ["help", "bogus"]  # with the prefix, help asks the bot
    assert '{"' not in shown and "response_type" not in shown and "\\u00b7" not in shown
    assert shown.startswith("👁  only you │ *Showtime* gives a pull request its own Superset.")
    assert "Usage: `start <pr>` · `list`" in shown


def test_an_ack_with_blocks_shows_the_blocks_rendered() -> None:
    console, out = console_for(_Sandbox(BLOCKS_ACK))

    console.run_lines(["status 1"], echo=False)

    assert out.getvalue().splitlines() == [
        "👁  only you │ 🚫 *#1* is blocked <!here>",
        "      ask @maintainer",
    ]


def test_help_and_question_mark_list_the_consoles_own_commands() -> None:
    sandbox = _Sandbox(USAGE_ACK)
    console, out = console_for(sandbox)

    console.run_lines(["help", "?"], echo=False)

    assert sandbox.asked == []  # the console answered; the bot was not asked
    shown = out.getvalue()
    assert shown.count("Console commands:") == 2
    lines = help_text().splitlines()
    for usage in ("/showtime <command>", "click <button>", "push <pr>", "label <pr>", "home"):
        assert any(line.startswith(f"  {usage}") for line in lines), usage
    for name, command in COMMANDS.items():  # every command, one line of its own
        assert any(line.startswith(f"  {command.usage}") for line in lines), name
    assert "help" not in SLASH_VERBS and {"logs", "cancel", "creds", "notify"} <= SLASH_VERBS


def test_click_open_prints_the_url_of_the_open_button() -> None:
    sandbox = _Sandbox()
    console, out = console_for(sandbox)
    sandbox.slack.listener(_card_change())

    console.run_lines(["click open"], echo=False)

    assert f"🌐 [Open] opens {OPEN_URL}" in out.getvalue()
    # Slack still tells the app about the press; the bot only acks, so nothing to wait for.
    assert sandbox.clicked == [("showtime_open", False)]
    assert console.errors == 0


def _card_change() -> Any:
    from bot.sandbox.slack import SlackChange

    message = {
        "channel": "C0SHOWTIME",
        "ts": "1.000001",
        "text": "🟢 #36121 running",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "🟢 *#36121* running"}},
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open"},
                        "action_id": "showtime_open",
                        "url": OPEN_URL,
                        "value": "36121:eda89f6",
                    },
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Stop"},
                        "action_id": "showtime_stop",
                        "value": "36121:eda89f6",
                    },
                ],
            },
        ],
    }
    return SlackChange("message", message["channel"], message["ts"], message)
