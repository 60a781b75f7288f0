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
