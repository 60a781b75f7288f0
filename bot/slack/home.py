"""The App Home tab (SPEC §13): what runs, whose it is, what it costs — Block Kit, pure.

Built per person from one shared look at every environment (``Orchestrator.overview``,
cached a few seconds), so a hundred people opening the tab cost one GitHub search and one
ECS round. First "Your environments" with the status message's Open / Stop / Extend
buttons (same action ids and values, so a press goes through the same intake code and the
same authorisation), then "All environments" one line each, then the totals.

Whose is an environment: the ECS tag ``requested_by`` says who had this bot create it, as a
typed requester (``slack:U…`` or ``github:login``, SPEC §11). "Yours" matches Slack users
only — a GitHub login can look exactly like a Slack id (``UCEO12345``), so nothing is
guessed from a value's shape; an older bot's untagged value counts only when it is exactly
your id. Environments made from GitHub or by the CLI are in "All environments".

For a person who may start environments the tab also has a **Start an environment** button
(the Start modal, ``bot.slack.modal``) and their direct-message setting with a button to flip
it (SPEC §16); everyone else sees what runs, and no button at all.

Slack's limits for a Home view: 100 blocks, 3000 characters a text, 150 a header. Every
outsider's word (titles, label values) goes through ``quote``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.domain.ttl import format_duration
from bot.orchestrator.inventory import EnvView
from bot.orchestrator.models import Overview
from bot.slack import views as V
from bot.slack.modal import ACTION_START
from bot.slack.text import quote, safe_url

MAX_HOME_BLOCKS = 100
MAX_HEADER = 150
OWN_SHOWN = 10  # "Your environments": a section and a row of buttons each
SECTION_CHARS = 2900  # lines packed per section, under Slack's 3000
ACTION_NOTIFY = "showtime_notify"  # value "on" or "off": what the press sets


@dataclass(frozen=True)
class Controls:
    """What a person who may start environments gets on their tab (SPEC §16)."""

    notify: bool  # direct messages about their environments are on
    dm_channel: str = ""  # the app's DM with them (``D…``): where the modal's start reports


def controls_blocks(controls: Controls) -> list[V.Block]:
    """Start an environment, and the direct-message setting, each beside its button."""
    start = V.button("Start an environment", ACTION_START, controls.dm_channel, style="primary")
    if controls.notify:
        setting = (
            "🔔 Direct messages about your environments are *on*: ready, failed, and an hour "
            "before one expires (`/showtime notify off` too)."
        )
        flip = V.button("Turn DMs off", ACTION_NOTIFY, "off")
    else:
        setting = (
            "🔕 Direct messages about your environments are *off* (`/showtime notify on` too)."
        )
        flip = V.button("Turn DMs on", ACTION_NOTIFY, "on")
    return [
        _beside(
            "*Start an environment* for a PR: the same as `/showtime start`, from a form.", start
        ),
        _beside(setting, flip),
    ]


def _beside(text: str, button: dict[str, Any]) -> V.Block:
    """A section with its button at its side (Slack's ``accessory``)."""
    return {**V.mrkdwn(text), "accessory": button}


def dm_channel_of(view: dict[str, Any] | None) -> str:
    """The DM channel a published tab's Start button carries ("" when it has none)."""
    for block in (view or {}).get("blocks") or []:
        accessory = block.get("accessory") or {}
        if accessory.get("action_id") == ACTION_START:
            return str(accessory.get("value") or "")
    return ""


def is_mine(view: EnvView, user_id: str) -> bool:
    """Did Slack user ``user_id`` ask for this environment (see the module docstring)?"""
    return view.requester_id is not None and view.requester_id.is_person(user_id)


def home_view(
    overview: Overview,
    user_id: str,
    *,
    repository: str,
    now: datetime,
    notice: str | None = None,
    controls: Controls | None = None,
) -> dict[str, Any]:
    """The Home tab for ``user_id``; ``notice`` (the bot's mrkdwn) answers a press there;
    ``controls`` for a person who may start environments."""
    environments = overview.environments
    footer = V.context(
        f"Updated {now.strftime('%H:%M UTC')} · ≈ list-price estimates (Fargate Linux/x86, "
        "public IPv4; SHOWTIME_COST_*) · URLs and mismatches: `/showtime list` · "
        "a PR's details: `/showtime status <pr>`"
    )
    blocks: list[V.Block] = [_header("🎪 Showtime environments")]
    if notice:
        blocks.append(V.mrkdwn(notice))
    if controls is not None:
        blocks.extend(controls_blocks(controls))
    blocks.append(V.mrkdwn(f"💵 {V.spend_text(overview.spend)}"))

    mine = [v for v in environments if is_mine(v, user_id)]
    blocks.append(_header(f"Your environments ({len(mine)})"))
    if not mine:
        blocks.append(
            V.context(
                "None is yours. Start one with `/showtime start <pr>` in a channel with the bot."
            )
        )
    for view in mine[:OWN_SHOWN]:
        blocks.append(V.mrkdwn(_own_text(view, repository, now)))
        if actions := _buttons(view):
            blocks.append(
                {"type": "actions", "block_id": f"home-{view.pr}-{view.sha}", "elements": actions}
            )
    if len(mine) > OWN_SHOWN:
        blocks.append(V.context(f"… {len(mine) - OWN_SHOWN} more of yours: `/showtime list`"))

    blocks.append({"type": "divider"})
    blocks.append(_header(f"All environments ({len(environments)})"))
    if not environments:
        blocks.append(V.context("No environments are running."))
    blocks.extend(_all_lines(environments, now, room=MAX_HOME_BLOCKS - len(blocks) - 1))
    blocks.append(footer)
    return {"type": "home", "blocks": blocks}


def _header(text: str) -> V.Block:
    return {
        "type": "header",
        "text": {"type": "plain_text", "text": V.clip(text, MAX_HEADER), "emoji": True},
    }


def _own_text(view: EnvView, repository: str, now: datetime) -> str:
    icon, status = V.shown_status(view)
    title = f" — {quote(view.title, V.TITLE_LIMIT)}" if view.title else ""
    head = f"{icon} *{V.pr_link(repository, view.pr)}*{title} · `{quote(view.sha, 40)}`"
    facts = [f"*{quote(status, 40)}*" + (" 🎯" if view.active else "")]
    if view.created:
        facts.append(f"age {format_duration(now - view.created)}")
    facts.append(f"⌛ {quote(_left(view, now), 40)}")
    lines = [head, " · ".join(facts)]
    if view.estimate is not None:
        lines.append(f"💵 {quote(view.estimate.text(), V.DETAIL_LIMIT)}")
    if view.mismatch:
        lines.append(f"⚠️ _{quote(view.mismatch, V.DETAIL_LIMIT)}_")
    return "\n".join(lines)


def _left(view: EnvView, now: datetime) -> str:
    if view.ttl == "close":
        return "until close"
    left = view.time_left(now)
    return format_duration(left) + " left" if left is not None else "?"


def _buttons(view: EnvView) -> list[dict[str, Any]]:
    """Open / Stop / Extend, exactly as on the status message (same ids, same values)."""
    value = V.button_value(view.pr, view.sha)
    found: list[dict[str, Any]] = []
    if view.status == "running" and (url := safe_url(view.url)):
        found.append(V.button("Open", V.ACTION_OPEN, value, url=url, style="primary"))
    found.append(V.button("Stop", V.ACTION_STOP, value, style="danger"))
    if view.status == "running":
        found.append(V.button("Extend TTL", V.ACTION_EXTEND, value))
    return found


def _all_lines(environments: Sequence[EnvView], now: datetime, *, room: int) -> list[V.Block]:
    """One line each, packed into sections; "… N more" once the blocks run out."""
    blocks: list[V.Block] = []
    chunk: list[str] = []
    size = 0
    shown = 0
    for view in environments:
        line = V.env_line(view, now)
        if chunk and size + len(line) + 1 > SECTION_CHARS:
            if len(blocks) >= room - 2:  # keep one for this chunk, one for "… N more"
                break
            blocks.append(V.mrkdwn("\n".join(chunk)))
            shown += len(chunk)
            chunk, size = [], 0
        chunk.append(line)
        size += len(line) + 1
    if chunk and len(blocks) < room - (0 if shown + len(chunk) == len(environments) else 1):
        blocks.append(V.mrkdwn("\n".join(chunk)))
        shown += len(chunk)
    if shown < len(environments):
        blocks.append(V.context(f"… {len(environments) - shown} more: `/showtime list`"))
    return blocks


def error_view(text: str) -> dict[str, Any]:
    """The Home tab when the environments could not be looked at (``text``: the bot's mrkdwn)."""
    return {
        "type": "home",
        "blocks": [_header("🎪 Showtime environments"), V.mrkdwn(text)],
    }
