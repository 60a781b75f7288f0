"""The sandbox console shows messages as a person sees them in Slack.

Slack turns ``&lt;`` ``&gt;`` ``&amp;`` back into ``<`` ``>`` ``&`` when it displays a
message; so does the console, after it has rendered the bot's own links and mentions.
"""

from __future__ import annotations

from bot.sandbox.console import _plain


def test_escaped_text_is_shown_as_written() -> None:
    text = "🚧 <https://github.com/apache/superset/pull/1|#1> — Fix &lt;!channel&gt; &amp; more"

    assert (
        _plain(text) == "🚧 #1 (https://github.com/apache/superset/pull/1) — Fix <!channel> & more"
    )


def test_an_escaped_entity_stays_an_entity() -> None:
    # A title that literally says "&lt;" was escaped to "&amp;lt;": shown as "&lt;".
    assert _plain("title &amp;lt;b&amp;gt;") == "title &lt;b&gt;"


def test_escaped_link_syntax_is_not_rendered_as_a_link() -> None:
    assert _plain("&lt;https://evil.example|Open&gt; <@U0MAINTAINER>") == (
        "<https://evil.example|Open> @maintainer"
    )


class _Slack:
    def on_change(self, listener: object) -> object:
        return lambda: None


class _GitHub:
    def on_comment(self, listener: object) -> object:
        return lambda: None


class _Sandbox:
    """Just enough of a sandbox for the console: each command answers what it is told."""

    def __init__(self) -> None:
        self.slack = _Slack()
        self.github = _GitHub()
        self.answers: list[str] = []

    def command(self, text: str, *, wait: bool) -> object:
        from bot.sandbox.harness import Outcome
        from bot.sandbox.slack_client import Response

        answer = self.answers.pop(0)
        return Outcome(Response(200, {}, "", 0.0, None), replies=[answer])  # type: ignore[arg-type]


def test_a_step_expected_to_fail_counts_only_if_it_does_not() -> None:
    import io

    from bot.sandbox.console import Console

    sandbox = _Sandbox()
    sandbox.answers = ["❌ it failed", "✅ fine", "❌ it failed"]
    out = io.StringIO()
    console = Console(sandbox, out)  # type: ignore[arg-type]

    console.run_lines(
        ["expect-failure", "/showtime start 1", "expect-failure", "/showtime status 1"],
        echo=False,
    )
    assert console.errors == 1  # the second was expected to fail and did not
    assert "failed, as expected" in out.getvalue()
    assert "expected this step to fail, and it did not" in out.getvalue()

    console.run_lines(["/showtime start 1"], echo=False)  # no longer expected: it counts
    assert console.errors == 2
