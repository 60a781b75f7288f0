"""Block Kit, built by small pure functions returning plain dicts (testable without Slack).

Slack's limits are respected here, where the messages are made: at most 50
blocks, at most 3000 characters in a text field, 75 in a button's text.

What a card or a list line shows from outside the bot (PR titles, label values, error
texts) goes through ``bot.slack.text.quote``; the only markup in them is the bot's own:
links to the PR built from GITHUB_REPOSITORY, links to addresses that are addresses,
and mentions of Slack user ids (SPEC §12).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.domain.commands import USAGE
from bot.domain.cost import money, per_hour
from bot.domain.events import LogTail
from bot.domain.ttl import format_duration
from bot.errors import public_text
from bot.orchestrator.inventory import EnvView
from bot.orchestrator.models import Credentials, PrLogs, Spend
from bot.slack.text import (
    code_block,
    code_safe,
    escape,
    link,
    log_lines,
    mention,
    quote,
    safe_url,
)

Block = dict[str, Any]

MAX_BLOCKS = 50
MAX_TEXT = 3000
MAX_BUTTON_TEXT = 75
TITLE_LIMIT = 150  # characters of a PR title on a card or a status header
DETAIL_LIMIT = 300  # a fact on a card (a requester label, a stop summary)
REASON_LIMIT = 1500  # why something failed, often quoting AWS or GitHub

ACTION_OPEN = "showtime_open"
ACTION_LOGS = "showtime_logs"
ACTION_STOP = "showtime_stop"
ACTION_REDEPLOY = "showtime_redeploy"
ACTION_RETRY = "showtime_retry"
ACTION_EXTEND = "showtime_extend"
ACTION_FREEZE = "showtime_freeze"
ACTION_UNFREEZE = "showtime_unfreeze"
ACTION_CANCEL = "showtime_cancel"  # a running deploy: stop it and undo what it made
ACTION_CANCEL_QUEUED = "showtime_cancel_queued"  # value "<pr>:<queued entry id>"
# The environment's admin login, answered to the presser only (SPEC §15).
ACTION_CREDENTIALS = "showtime_credentials"
# A degraded environment's smoke check, run again on it (SPEC §15).
ACTION_CHECK = "showtime_check"
# Extend on the expiry warning sent as a direct message: the job reports in the PR's
# thread, not in the DM (a status message's Extend acts on the message it was pressed on).
ACTION_DM_EXTEND = "showtime_dm_extend"
# URL buttons: Slack opens them and still sends the click, which the bot only acks. Logs is
# not one: it answers the presser with the log's last lines (SPEC §14).
LINK_ACTIONS = (ACTION_OPEN,)

STATE_ICONS = {
    "queued": "⏳",
    "deploying": "🚧",
    "stopping": "🧹",
    "running": "🟢",
    "degraded": "🟠",  # running, but a smoke check keeps failing (SPEC §15)
    "failed": "🔴",
    "stopped": "⚪",
    "cancelled": "⏹",
    "unknown": "❔",
}


def clip(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def mrkdwn(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text)}}


def context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(text)}]}


def button(
    text: str,
    action_id: str,
    value: str = "",
    *,
    url: str | None = None,
    style: str | None = None,
) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": clip(text, MAX_BUTTON_TEXT), "emoji": True},
        "action_id": action_id,
    }
    if value:
        element["value"] = value[:2000]
    if url:
        element["url"] = url
    if style:
        element["style"] = style
    return element


def pr_url(repository: str, pr: int) -> str:
    """The PR's page, built from GITHUB_REPOSITORY (validated as owner/name), not from GitHub's answer."""
    return f"https://github.com/{repository}/pull/{pr}"


def pr_link(repository: str, pr: int) -> str:
    return link(pr_url(repository, pr), f"#{pr}")


def button_value(pr: int, sha: str | None = None) -> str:
    return f"{pr}:{sha or ''}"


def parse_button_value(value: str) -> tuple[int, str | None] | None:
    pr_text, _, sha = value.partition(":")
    if not pr_text.isascii() or not pr_text.isdigit():
        return None
    return int(pr_text), (sha or None)


@dataclass(frozen=True)
class Card:
    """What a status message shows about one PR's environment (``pr`` None: cleanup's)."""

    pr: int | None
    state: str  # queued | deploying | stopping | running | failed | stopped | unknown
    repository: str
    title: str = ""
    sha: str | None = None
    url: str | None = None
    requester: str | None = None  # Slack user id
    headline: str = ""  # e.g. "Deploying abc1234"
    reason: str | None = None
    next_action: str | None = None
    correlation_id: str | None = None
    ttl: str | None = None
    time_left: str | None = None
    frozen: bool = False
    logs_url: str | None = None
    details: Sequence[str] = field(default=())
    cost: str | None = None  # "≈ $0.034/h · $0.41 so far · …" (the bot's own words)
    can_cancel: bool = False  # a deploy under way: the Cancel button (SPEC §16)
    checked: str | None = None  # what the smoke check saw pass: "✓ login · 5 dashboards · …"
    degraded: str | None = None  # up, but this check keeps failing: "SQL Lab failed: HTTP 500 …"

    @property
    def icon(self) -> str:
        """🟢 running, 🟠 running but degraded, 🔴 failed, …"""
        if self.state == "running" and self.degraded:
            return STATE_ICONS["degraded"]
        return STATE_ICONS.get(self.state, "❔")


def shown_status(view: EnvView) -> tuple[str, str]:
    """An environment's icon and status word as `list`, the Home tab and `status` show it:
    a running one whose smoke check keeps failing is 🟠 degraded."""
    if view.status == "running" and view.degraded:
        return STATE_ICONS["degraded"], "running, degraded"
    return STATE_ICONS.get(view.status, "❔"), view.status


def card_text(card: Card) -> str:
    """The message's plain text (notifications, and clients without blocks)."""
    sha = f" `{quote(card.sha, 40)}`" if card.sha else ""
    head = quote(card.headline or card.state)
    subject = f" #{card.pr}" if card.pr is not None else ""
    return f"{card.icon}{subject}{sha}: {head}" if subject else f"{card.icon} {head}"


def card_blocks(card: Card) -> list[Block]:
    """The status message: one line of state, facts, and the buttons that fit the state."""
    icon = card.icon
    title = f" — {quote(card.title, TITLE_LIMIT)}" if card.title else ""
    sha = f" · `{quote(card.sha, 40)}`" if card.sha else ""
    subject = pr_link(card.repository, card.pr) if card.pr is not None else "Showtime"
    lines = [f"{icon} *{subject}*{title}{sha}", f"*{quote(card.headline or card.state)}*"]
    if safe_url(card.url) and card.state == "running":
        lines.append(f"🌐 {link(card.url, str(card.url))}")
    if card.state == "running" and card.degraded:
        lines.append(f"🟠 *Degraded:* {quote(card.degraded, REASON_LIMIT)}")
    elif card.state == "running" and card.checked:
        lines.append(quote(card.checked, DETAIL_LIMIT))
    if card.cost and card.state == "running":
        lines.append(f"💵 {quote(card.cost, DETAIL_LIMIT)}")
    if card.reason:
        lines.append(f"*Why:* {quote(card.reason, REASON_LIMIT, multiline=True)}")
    if card.next_action:
        lines.append(f"*Next:* {quote(card.next_action, REASON_LIMIT, multiline=True)}")
    blocks: list[Block] = [mrkdwn("\n".join(lines))]
    facts = []
    if requester := mention(card.requester):
        facts.append(f"requested by {requester}")
    if card.ttl:
        left = f" ({quote(card.time_left, 40)} left)" if card.time_left else ""
        facts.append(f"⌛ {quote(card.ttl, 40)}{left}")
    if card.frozen:
        facts.append("🧊 frozen")
    if card.correlation_id:
        facts.append(f"ref `{quote(card.correlation_id, 40)}`")
    facts.extend(quote(detail, DETAIL_LIMIT) for detail in card.details)
    if facts:
        blocks.append(context(" · ".join(facts)))
    actions = card_buttons(card)
    if actions:
        blocks.append({"type": "actions", "block_id": f"showtime-{card.pr}", "elements": actions})
    return blocks


def card_buttons(card: Card) -> list[dict[str, Any]]:
    if card.pr is None:
        return []  # cleanup's card: nothing to press
    value = button_value(card.pr, card.sha)
    buttons: list[dict[str, Any]] = []
    if card.state == "running":
        if url := safe_url(card.url):
            buttons.append(button("Open", ACTION_OPEN, value, url=url, style="primary"))
        if card.degraded:
            buttons.append(button("Check again", ACTION_CHECK, value))
        if card.logs_url:
            buttons.append(button("Logs", ACTION_LOGS, value))
        buttons.append(button("Credentials", ACTION_CREDENTIALS, value))
        buttons.append(button("Stop", ACTION_STOP, value, style="danger"))
        buttons.append(button("Redeploy", ACTION_REDEPLOY, button_value(card.pr)))
        buttons.append(button("Extend TTL", ACTION_EXTEND, value))
        if card.frozen:
            buttons.append(button("Unfreeze", ACTION_UNFREEZE, value))
        else:
            buttons.append(button("Freeze", ACTION_FREEZE, value))
    elif card.state == "failed":
        buttons.append(button("Retry", ACTION_RETRY, value, style="primary"))
        if card.logs_url:
            buttons.append(button("Logs", ACTION_LOGS, value))
        buttons.append(button("Stop", ACTION_STOP, value, style="danger"))
    elif card.state in ("deploying", "queued"):
        if card.logs_url:
            buttons.append(button("Logs", ACTION_LOGS, value))
        if card.can_cancel:
            buttons.append(button("Cancel", ACTION_CANCEL, value, style="danger"))
    elif card.state in ("stopped", "cancelled"):
        buttons.append(button("Start again", ACTION_REDEPLOY, button_value(card.pr)))
    return buttons


def queued_blocks(text: str, pr: int, entry_id: str) -> list[Block]:
    """The answer to a request that waits for the PR's running job: what, and Cancel queued."""
    cancel = button("Cancel queued", ACTION_CANCEL_QUEUED, f"{pr}:{entry_id}", style="danger")
    return [
        mrkdwn(text),
        {"type": "actions", "block_id": f"showtime-queued-{pr}", "elements": [cancel]},
    ]


def help_text() -> str:
    return (
        "*Showtime* gives a pull request its own Superset on AWS ECS.\n"
        f"{escape(USAGE)}\n"
        "Read-only commands (`status`, `list`, `help`) are open to everyone; the others, "
        "`logs` and the buttons need permission (SHOWTIME_ALLOWED_USERS / "
        "SHOWTIME_ALLOWED_USERGROUPS).\n"
        "`logs <pr> [<lines>]` shows the last lines (default 30, at most 200) of the PR's "
        "active environment's log, only to you; so does a status message's *Logs* button."
    )


def env_line(view: EnvView, now: datetime) -> str:
    """One environment in one line: PR, SHA, status, age, TTL left, requester, URL."""
    age = format_duration(now - view.created) if view.created else "?"
    left = (
        format_duration(view.time_left(now)) if view.ttl and view.ttl != "close" else "until close"
    )
    if view.expires is None and view.ttl != "close":
        left = "?"
    # Label values (status, requester, TTL) are anyone-with-triage's words: quoted.
    pr = link(view.pr_url, f"#{view.pr}")
    icon, status = shown_status(view)
    parts = [
        f"{icon} {pr} `{quote(view.sha, 40)}` *{quote(status, 40)}*"
        + (" 🎯" if view.active else ""),
        f"age {age}",
        f"⌛ {quote(left, 40)}",
    ]
    if view.estimate is not None:
        parts.append(f"≈ {per_hour(view.estimate.hourly)}")
    if view.requester:
        parts.append(f"by {quote(view.requester, 60)}")
    if safe_url(view.url):
        parts.append(link(view.url, "open"))
    line = " · ".join(parts)
    if view.mismatch:
        line += f"\n      ⚠️ _{quote(view.mismatch, DETAIL_LIMIT)}_"
    return line


def spend_text(spend: Spend) -> str:
    """This month in one line: per hour now, spent so far, what runs will add, the budget."""
    running = f"{spend.running} running" if spend.running else "nothing running"
    text = (
        f"≈ {per_hour(spend.hourly)} ({running}) · this month (UTC) ≈ {money(spend.spent)} "
        f"so far, ≈ {money(spend.committed)} more until the running ones expire"
    )
    if spend.budget is not None:
        used = spend.spent + spend.committed
        share = int(used / spend.budget * 100) if spend.budget else 0
        text += f" · budget {money(spend.budget)} ({share}% spent or committed)"
    return text + " · list-price estimates"


def list_blocks(
    views: Sequence[EnvView],
    now: datetime,
    *,
    limit_chars: int = 2800,
    spend: Spend | None = None,
) -> list[Block]:
    """Every environment, packed into sections within Slack's limits; a count when truncated;
    with ``spend``, this month's totals at the end."""
    header = f"*{len(views)} environment{'s' if len(views) != 1 else ''}*"
    totals = [context(f"💵 {spend_text(spend)}")] if spend is not None else []
    if not views:
        return [
            mrkdwn("No environments are running. Start one with `/showtime start <pr>`."),
            *totals,
        ]
    room = MAX_BLOCKS - len(totals)
    blocks: list[Block] = [mrkdwn(header)]
    chunk: list[str] = []
    size = 0
    shown = 0
    for view in views:
        line = env_line(view, now)
        if size + len(line) + 1 > limit_chars:
            blocks.append(mrkdwn("\n".join(chunk)))
            chunk, size = [], 0
            if len(blocks) >= room - 2:
                break
        chunk.append(line)
        size += len(line) + 1
        shown += 1
    if chunk and len(blocks) < room - 1:
        blocks.append(mrkdwn("\n".join(chunk)))
    else:
        shown -= len(chunk)
    if shown < len(views):
        blocks.append(context(f"… and {len(views) - shown} more not shown (Slack's message limit)"))
    return blocks + totals


def status_blocks(
    cards: Sequence[Card],
    *,
    header: str,
    footer: Sequence[str] = (),
) -> list[Block]:
    blocks: list[Block] = [mrkdwn(header)]
    for card in cards:
        if len(blocks) + 3 > MAX_BLOCKS - 1:
            blocks.append(context(f"… {len(cards)} environments in all; not all are shown"))
            break
        blocks.extend(card_blocks(card))
    for line in footer:
        blocks.append(context(line))
    return blocks[:MAX_BLOCKS]


def notice_blocks(text: str, *, pr: int, sha: str | None, offer: str | None) -> list[Block]:
    """A notice in a PR's thread, with the one button it offers (Extend TTL, Redeploy)."""
    blocks: list[Block] = [mrkdwn(text)]
    offered = {
        "extend": button("Extend TTL", ACTION_EXTEND, button_value(pr, sha), style="primary"),
        "redeploy": button("Redeploy", ACTION_REDEPLOY, button_value(pr), style="primary"),
    }.get(offer or "")
    if offered is not None:
        blocks.append(
            {"type": "actions", "block_id": f"showtime-notice-{pr}", "elements": [offered]}
        )
    return blocks


# ----- an environment's admin login (SPEC §15) ---------------------------------------------

CLI_LOGIN_NOTE = "the CLI's default: this environment has no password of its own"


def credentials_blocks(creds: Credentials, repository: str) -> list[Block]:
    """The answer to `creds <pr>` and the Credentials button, for the one person who asked:
    where, the user and the password in code spans (copied as they are, never linked)."""
    subject = f"🔑 *{pr_link(repository, creds.pr)}* `{quote(creds.sha, 40)}`"
    if url := safe_url(creds.url):
        subject += f" — {link(url, url)}"
    if creds.generated:
        login = f"user `{_code(creds.username)}` · password `{_code(creds.password)}`"
    else:
        login = f"{_code(creds.username)} / {_code(creds.password)} ({CLI_LOGIN_NOTE})"
    return [
        mrkdwn(f"{subject}\n{login}"),
        context("Only you can see this. Share it with the PR's reviewers, not in a channel."),
    ]


def _code(text: str) -> str:
    """A value from outside the bot (a task definition's) for a code span: inert, one line."""
    return code_safe(quote(text, 200))


# ----- direct messages (SPEC §16) -----------------------------------------------------------

NOTIFY_HINT = "`/showtime notify off` stops these messages"


def _thread(thread_url: str | None) -> str:
    return link(thread_url, "see its thread") if safe_url(thread_url) else "see its thread"


def ready_dm_blocks(
    *,
    repository: str,
    pr: int,
    title: str,
    sha: str,
    url: str | None,
    thread_url: str | None,
    degraded: str = "",
) -> list[Block]:
    """Your environment is ready: where, Open, Credentials, and the thread it was made in —
    or up but degraded, and which check fails (SPEC §15)."""
    head = f"{'🟠' if degraded else '🎉'} Your environment of *{pr_link(repository, pr)}*"
    if title:
        head += f" — {quote(title, TITLE_LIMIT)}"
    head += f" · `{quote(sha, 40)}` " + ("is up, but degraded" if degraded else "is ready")
    opened = safe_url(url)
    if opened:
        head += f": {link(opened, opened)}"
    if degraded:
        head += (
            f"\n*Degraded:* {quote(degraded, REASON_LIMIT)} — its log and *Check again* are "
            "in the thread"
        )
    value = button_value(pr, sha)
    buttons = [button("Credentials", ACTION_CREDENTIALS, value)]
    if opened:
        buttons.insert(0, button("Open", ACTION_OPEN, value, url=opened, style="primary"))
    return [
        mrkdwn(head),
        context(f"Its progress and buttons: {_thread(thread_url)} · {NOTIFY_HINT}"),
        {"type": "actions", "block_id": f"showtime-dm-{pr}", "elements": buttons},
    ]


def failed_dm_blocks(
    *,
    repository: str,
    pr: int,
    sha: str | None,
    reason: str,
    next_action: str,
    thread_url: str | None,
) -> list[Block]:
    """Your deploy failed: why, and the thread (its log, Retry)."""
    at = f" · `{quote(sha, 40)}`" if sha else ""
    lines = [
        f"❌ Your deploy of *{pr_link(repository, pr)}*{at} failed: "
        f"{quote(reason, REASON_LIMIT, multiline=True)}"
    ]
    if next_action:
        lines.append(f"*Next:* {quote(next_action, REASON_LIMIT, multiline=True)}")
    return [
        mrkdwn("\n".join(lines)),
        context(f"The log and Retry: {_thread(thread_url)} · {NOTIFY_HINT}"),
    ]


def expiry_dm_blocks(
    *, text: str, pr: int, sha: str, thread_url: str | None, extend: bool = True
) -> list[Block]:
    """Your environment expires within the hour (``text``: the warning, the bot's own
    words with figures), with Extend — unless it is at the longest TTL already."""
    if not extend:
        return [
            mrkdwn(f"⌛ {quote(text, REASON_LIMIT, multiline=True)}"),
            context(f"Its thread: {_thread(thread_url)} · {NOTIFY_HINT}"),
        ]
    press = button("Extend TTL", ACTION_DM_EXTEND, button_value(pr, sha), style="primary")
    return [
        mrkdwn(f"⌛ {quote(text, REASON_LIMIT, multiline=True)}"),
        context(f"Extend reports in the PR's thread: {_thread(thread_url)} · {NOTIFY_HINT}"),
        {"type": "actions", "block_id": f"showtime-dm-expiry-{pr}", "elements": [press]},
    ]


# ----- an environment's log (SPEC §14) ---------------------------------------------------

FAILURE_LOG_LINES = 30  # a failed deploy's thread: at most 30 lines …
FAILURE_LOG_CHARS = 2500  # … and 2,500 characters of them
LOG_LINE_CHARS = 300  # one line, in a thread or an answer
ANSWER_LOG_CHARS = 12_000  # `logs <pr> 200`: the newest lines that fit, in sections
SECTION_LOG_CHARS = MAX_TEXT - 100  # one section's code block, with room for the fences


def console_link(url: str | None) -> str:
    """The same log in the AWS console, for the people who have access to it."""
    return f"{link(url, 'full log in the AWS console')} (needs AWS access)" if safe_url(url) else ""


def failure_log_text(tail: LogTail, logs_url: str | None) -> str:
    """A failed deploy's log in its thread: the last lines in a code block, then the console
    link; or the one line saying why there are none."""
    more = console_link(logs_url)
    lines = log_lines(
        tail.lines,
        max_lines=FAILURE_LOG_LINES,
        max_chars=FAILURE_LOG_CHARS,
        line_chars=LOG_LINE_CHARS,
    ).lines
    if not lines:
        why = public_text(tail.problem or "no log: the task wrote nothing")  # may quote AWS
        return f"📜 {quote(why, REASON_LIMIT)}" + (f" · {more}" if more else "")
    where = f" (`{quote(tail.stream, 120)}`)" if tail.stream else ""
    head = f"📜 *The task's last {_lines(len(lines))} of log*{where}:"
    return f"{head}\n{code_block(lines)}" + (f"\n{more}" if more else "")


def logs_blocks(logs: PrLogs, repository: str) -> list[Block]:
    """The answer to `logs <pr>` and the Logs button: the newest lines in code blocks, one
    section per ~3,000 characters, then the console link."""
    subject = f"📜 *{pr_link(repository, logs.pr)}* `{quote(logs.sha, 40)}`"
    more = console_link(logs.console_url)
    tail = logs.tail
    # As many lines as were asked for (an event may hold several: a traceback).
    excerpt = log_lines(
        tail.lines, max_lines=len(tail.lines), max_chars=ANSWER_LOG_CHARS, line_chars=LOG_LINE_CHARS
    )
    lines = excerpt.lines
    if not lines:
        why = public_text(tail.problem or "no log: the task wrote nothing")  # may quote AWS
        return [
            mrkdwn(f"{subject}: {quote(why, REASON_LIMIT)}"),
            *([context(more)] if more else []),
        ]
    earlier = " (earlier lines not shown)" if tail.truncated or not excerpt.complete else ""
    service = quote(logs.service, 80)
    blocks = [mrkdwn(f"{subject} — the last {_lines(len(lines))} of `{service}`'s log{earlier}:")]
    chunk: list[str] = []
    size = 0
    for line in lines:
        if chunk and size + len(line) + 1 > SECTION_LOG_CHARS:
            blocks.append(mrkdwn(code_block(chunk)))
            chunk, size = [], 0
        chunk.append(line)
        size += len(line) + 1
    blocks.append(mrkdwn(code_block(chunk)))
    footer = [f"stream `{quote(tail.stream, 120)}`" if tail.stream else "", more]
    if any(footer):
        blocks.append(context(" · ".join(part for part in footer if part)))
    return blocks[:MAX_BLOCKS]


def _lines(count: int) -> str:
    return f"{count} line{'s' if count != 1 else ''}"
