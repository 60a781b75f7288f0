"""Text written by PR authors (and anything else from GitHub or PR code) is inert in Slack.

SPEC §12: titles, descriptions, branch names, logins, label values, error texts are
escaped, so they can never mention (``<!channel>``) or link (``<https://…|text>``);
feature-flag warnings are one thread reply at most, quoting ≤ 80 characters a line.
"""

from __future__ import annotations

import html
import json
import re
import threading

from slack_support import SlackWorld
from support import SLACK_USER

from bot.domain import labels as L
from bot.sandbox.slack import SlackChange

PR = 36121
TITLE = "Fix typo <!channel> <https://evil.example/login|Open the environment>"
BACKTICK_LINE = "FEATURE_X`<!here>`=`<!channel>` <https://evil.example/x|click here> " + "y" * 120
BODY = "\n".join(
    [
        "### SUMMARY",
        "Please review <!here> & merge.",
        BACKTICK_LINE,
        *(f"FEATURE_FLAG_{n}=maybe" for n in range(300)),
        "FEATURE_EMBEDDED_SUPERSET=true",
    ]
)
OLD = "0123abc"  # an older environment of the PR, with labels anyone with triage may edit
HOSTILE_LABELS = [
    L.status_label(OLD, "running"),
    L.active_label(OLD),
    f"🎪 {OLD} 🌐 e.example|<!channel>:80",
    f"🎪 {OLD} 🤡 <!channel>",
    "🎪 ⌛ 48h",
]

# Every `<…>` a person may see from the bot: its own mentions and links it built.
BOT_MADE = re.compile(
    r"<(?:@U0MAINTAINER"
    r"|https://github\.com/apache/superset/pull/\d+\|[^<>]*"
    r"|http://203\.0\.113\.10:8080(?:/health)?\|[^<>]*"
    r"|https://[a-z-]+\.slack\.com/archives/[^<>|]+\|see its thread)>"
)


def everything_shown(changes: list[SlackChange]) -> list[str]:
    """Every version of every message, reply, ephemeral and response: its text and blocks."""
    shown = []
    for change in changes:
        message = change.message
        shown.append(str(message.get("text", "")))
        shown.append(json.dumps(message.get("blocks") or [], ensure_ascii=False))
    return shown


def markup_not_made_by_the_bot(text: str) -> list[str]:
    # JSON escapes nothing Slack reads, so `<…>` sequences look the same in blocks.
    return [m.group(0) for m in re.finditer(r"<[^<>]*>", text) if not BOT_MADE.fullmatch(m[0])]


def test_hostile_pr_text_and_labels_never_mention_or_link(slack_world: SlackWorld) -> None:
    sw = slack_world
    github = sw.world.github_standin
    head = github.head_sha(PR)
    github.add_pr(PR, TITLE, BODY, commits=[f"{OLD}{'0' * 33}", head], labels=HOSTILE_LABELS)
    changes: list[SlackChange] = []
    lock = threading.Lock()

    def record(change: SlackChange) -> None:
        with lock:
            changes.append(change)

    sw.slack.on_change(record)
    acks: list[str] = []
    for command in ("status 36121", "list", "start 36121", "status 36121", "list"):
        outcome = sw.command(command)
        acks.append(outcome.response.text)
        assert outcome.response.status_code == 200, command

    with lock:
        shown = everything_shown(changes) + acks
    assert shown, "nothing was shown at all"
    for text in shown:
        assert "<!channel>" not in text and "<!here>" not in text, text[:300]
        assert markup_not_made_by_the_bot(text) == [], text[:300]
    # The title is shown as written, not swallowed: Slack turns the entities back into text.
    status = sw.status_message()
    assert "Fix typo &lt;!channel&gt; &lt;https://evil.example/login|Open the environment&gt;" in (
        json.dumps(status["blocks"], ensure_ascii=False)
    )

    thread = sw.thread_texts(status)
    flag_replies = [t for t in thread if "Feature flags" in t or "FEATURE_" in t]
    assert len(flag_replies) == 1, f"{len(flag_replies)} feature-flag replies"
    reply = flag_replies[0]
    assert "and 291 more" in reply  # 301 skipped lines: 10 listed
    # Ten code spans, one a line: the hostile line's backticks did not open any more.
    quotes = re.findall(r"`([^`]*)`", reply)
    assert len(quotes) == 10
    assert all(len(html.unescape(q)) <= 80 for q in quotes), quotes
    assert quotes[0].startswith("FEATURE_Xˋ&lt;!here&gt;ˋ=ˋ&lt;!channel&gt;ˋ &lt;https://evil")
    assert quotes[0].endswith("…")
    # A rolling update from the labelled environment; the requester is still mentioned.
    assert thread[-1].startswith(f"🎉 <@{SLACK_USER}> #36121 now runs")


def test_a_status_message_of_a_hostile_pr_links_only_where_the_bot_means_to(
    slack_world: SlackWorld,
) -> None:
    sw = slack_world
    github = sw.world.github_standin
    github.add_pr(PR, TITLE, "FEATURE_EMBEDDED_SUPERSET=true", head_sha=github.head_sha(PR))

    sw.command("start 36121")

    message = sw.slack.message(sw.status_message()["channel"], sw.status_message()["ts"])
    assert message is not None
    blocks = json.dumps(message["blocks"], ensure_ascii=False)
    sha = github.head_sha(PR)[:7]
    assert "<https://github.com/apache/superset/pull/36121|#36121>" in blocks
    assert "<http://203.0.113.10:8080|http://203.0.113.10:8080>" in blocks
    assert markup_not_made_by_the_bot(blocks) == []
    assert sha in message["text"]
    open_button = [
        e
        for b in message["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == "showtime_open"
    ]
    assert [b["url"] for b in open_button] == ["http://203.0.113.10:8080"]
