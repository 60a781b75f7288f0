"""Text from outside the bot, made inert for Slack (SPEC §12), and the markup the bot means.

Slack reads ``<…>`` in message text as markup: ``<!channel>`` and ``<!here>`` notify
everyone, ``<@U123>`` mentions someone, ``<https://x|Open the environment>`` is a link
whose label hides where it goes. PR titles and descriptions, branch names, logins,
label values (anyone with triage rights edits labels) and the error texts of GitHub,
AWS and PR code (a container's stop reason) are written by people outside the project.
So every such text reaches Slack through ``quote``: shortened, then escaped the way
Slack asks (``&`` ``<`` ``>`` → ``&amp;`` ``&lt;`` ``&gt;``). Slack shows the entities as
the characters again, so the reader sees what was written, and nothing of it acts.

The bot's own markup is built here too, from values checked to be what they claim:
``mention`` only for Slack user ids, ``link`` only to http(s) URLs that cannot close
the link early. Both go around text that was already escaped, never inside it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from bot.errors import public_text

QUOTE_LIMIT = 200  # characters of an outsider's one-line text (a title is at most 256)

_SLACK_USER_ID = re.compile(r"[UW][A-Z0-9]{2,20}")
# No whitespace (Slack would end the URL there) and none of <>| (they end the link, or
# start a label that hides the target).
_SAFE_URL = re.compile(r"https?://[^\s<>|]+", re.ASCII)
_SPACES = re.compile(r"\s+")


def escape(text: str) -> str:
    """Slack's escaping: the three characters it reads as markup become entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def quote(text: object, limit: int = QUOTE_LIMIT, *, multiline: bool = False) -> str:
    """Untrusted ``text`` as Slack message text: at most ``limit`` characters, inert.

    Control characters become spaces (a one-line field also gets its line breaks and
    runs of spaces folded), so a title cannot push text onto lines of its own. The
    limit counts what a person sees: it is applied before escaping, which can then
    never be cut in the middle of an entity.
    """
    raw = "" if text is None else str(text)
    if multiline:
        raw = raw.replace("\r\n", "\n")
    raw = "".join(
        ch if (multiline and ch == "\n") or unicodedata.category(ch) != "Cc" else " " for ch in raw
    )
    if not multiline:
        raw = _SPACES.sub(" ", raw).strip()
    if len(raw) > limit:
        raw = raw[: max(limit - 1, 0)] + "…"
    return escape(raw)


def slack_user_id(value: str | None) -> str | None:
    """``value`` if it looks like a Slack user id (``U…``/``W…``), else ``None``.

    Requesters are Slack ids for slash commands and buttons, but ``sweeper``, a
    GitHub login or anything else for other entry points: those are never mentioned.
    """
    return value if value and _SLACK_USER_ID.fullmatch(value) else None


def mention(user_id: str | None) -> str | None:
    """``<@U…>`` for a Slack user id; ``None`` for anything else."""
    checked = slack_user_id(user_id)
    return f"<@{checked}>" if checked else None


def safe_url(url: str | None) -> str | None:
    """``url`` if it is an http(s) URL that Slack cannot read as more than a URL."""
    return url if url and _SAFE_URL.fullmatch(url) else None


def link(url: str | None, label: str) -> str:
    """``<url|label>`` with ``label`` escaped; only the escaped label when ``url`` is not safe."""
    checked = safe_url(url)
    shown = quote(label)
    # Slack un-escapes the URL part too, so an & in a query string is written &amp;.
    return f"<{escape(checked)}|{shown}>" if checked else shown


# ----- an environment's log (SPEC §14) ---------------------------------------------------

# Log lines are PR code's output. Quoted like any outsider's text, and a backtick becomes a
# look-alike (U+02CB): Slack has no escape for ` inside code, and ``` would close the block.
_BACKTICK_LOOKALIKE = "ˋ"


def code_safe(text: str) -> str:
    """``text`` (already quoted) with no backtick left to end the code it sits in."""
    return text.replace("`", _BACKTICK_LOOKALIKE)


def log_line(raw: str, limit: int) -> str:
    """One log line for inline code (a heartbeat): one line, at most ``limit``, inert.

    Masked before it is cut (§12), so a cut can never leave half a secret that no longer
    looks like one.
    """
    return code_safe(quote(public_text(raw), limit))


@dataclass(frozen=True)
class LogExcerpt:
    """The newest lines of a log, ready for a code block (oldest first)."""

    lines: list[str]
    complete: bool  # no line of the log was left out


def log_lines(
    lines: Sequence[str], *, max_lines: int, max_chars: int, line_chars: int
) -> LogExcerpt:
    """The newest of ``lines`` (an environment's log events) made fit for a Slack code block.

    The log is masked as one text (``public_text``: credentials, ARNs, account ids; §12),
    so a private key logged one line per event goes whole; an event holding several
    lines (a traceback) shows as those lines. Each line is then cut to ``line_chars``, made
    inert (``quote``) and unable to close the block; then as many of the newest as fit in
    ``max_lines`` and in ``max_chars`` of the text Slack receives (escaped, one newline each).
    """
    public = public_text("\n".join(lines).replace("\r\n", "\n")).split("\n") if lines else []
    shown: list[str] = []
    size = 0
    for raw in reversed(public):
        if len(shown) >= max_lines:
            break
        # multiline keeps a traceback's indentation (the line has no break left to keep).
        line = code_safe(quote(raw, line_chars, multiline=True))
        if size + len(line) + 1 > max_chars:
            break
        shown.append(line)
        size += len(line) + 1
    shown.reverse()
    return LogExcerpt(shown, complete=len(shown) == len(public))


def code_block(lines: Sequence[str]) -> str:
    """Lines made by ``log_lines`` as one code block."""
    return "```\n" + "\n".join(lines) + "\n```"
