"""The Start modal (SPEC §16): "Start an environment" on the Home tab — Block Kit, pure.

The modal asks what ``/showtime start <pr> [<sha>] [ttl=…]`` takes: a PR (number, ``#n`` or
its URL), an optional SHA and a TTL. Its submission is read and checked field by field
here, with the slash command's own grammar (``bot.domain.commands``), so a bad value is
said beside its field (``response_action: errors``); what needs GitHub (does the PR exist,
is it open, is the SHA one of its commits) is the intake's, before it acks.

``private_metadata`` carries where the status message goes when SHOWTIME_NOTIFY_CHANNEL is
unset: the app's DM with the person (its ``D…`` id, from the Home tab's ``app_home_opened``),
so the status message can be edited in place like any other (``chat.update`` takes a
conversation id, not a user id).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bot.domain import commands as C
from bot.domain.ttl import TTL_VALUES

ACTION_START = "showtime_start_modal"  # the Home tab's "Start an environment" button
CALLBACK_START = "showtime_start"  # the modal's callback_id: its submission's listener

PR_BLOCK, SHA_BLOCK, TTL_BLOCK = "pr", "sha", "ttl"
PR_INPUT, SHA_INPUT, TTL_INPUT = "pr_value", "sha_value", "ttl_value"
MAX_ERROR = 150  # characters of an error beside a field

TTL_LABELS = {
    "24h": "24 hours",
    "48h": "48 hours",
    "72h": "72 hours",
    "1w": "1 week",
    "close": "until the PR closes",
}
_MENTION = re.compile(r"<@([UW][A-Z0-9]+)>")


def start_modal(*, default_ttl: str, dm_channel: str = "") -> dict[str, Any]:
    """The modal ``views.open`` shows (``dm_channel``: see the module docstring)."""
    return {
        "type": "modal",
        "callback_id": CALLBACK_START,
        "private_metadata": dm_channel,
        "title": _plain("Start an environment"),
        "submit": _plain("Start"),
        "close": _plain("Cancel"),
        "blocks": [
            _pr_input(),
            _sha_input(),
            _ttl_input(default_ttl),
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": "The same as `/showtime start <pr> [<sha>] [ttl=…]`: a status "
                        "message with its thread, and a direct message when it is ready.",
                    }
                ],
            },
        ],
    }


def _pr_input() -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": PR_BLOCK,
        "label": _plain("Pull request"),
        "hint": _plain("Its number (36121, #36121) or its GitHub URL"),
        "element": {
            "type": "plain_text_input",
            "action_id": PR_INPUT,
            "max_length": 200,
            "placeholder": _plain("36121"),
        },
    }


def _sha_input() -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": SHA_BLOCK,
        "optional": True,
        "label": _plain("Commit SHA"),
        "hint": _plain("Leave empty for the PR's head; or 7–40 hex of one of its commits"),
        "element": {
            "type": "plain_text_input",
            "action_id": SHA_INPUT,
            "max_length": 40,
            "placeholder": _plain("the PR's head"),
        },
    }


def _ttl_input(default_ttl: str) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": TTL_BLOCK,
        "optional": True,
        "label": _plain("Time to live"),
        "hint": _plain(f"Empty keeps the PR's TTL (else {default_ttl})"),
        "element": {
            "type": "static_select",
            "action_id": TTL_INPUT,
            "placeholder": _plain(f"the PR's, else {default_ttl}"),
            "options": [_option(ttl) for ttl in TTL_VALUES],
        },
    }


@dataclass(frozen=True)
class StartForm:
    """A submission whose fields read well (the PR still to be checked with GitHub)."""

    pr: int
    sha: str | None
    ttl: str | None
    dm_channel: str  # the modal's private_metadata


def read_start_form(view: dict[str, Any], repository: str) -> StartForm | dict[str, str]:
    """The submitted ``view``'s fields, or the errors to show beside them (by block id)."""
    values = (view.get("state") or {}).get("values") or {}
    errors: dict[str, str] = {}
    pr_text = _text(values, PR_BLOCK, PR_INPUT)
    pr = C.parse_pr(pr_text, repository) if pr_text else "Give the PR's number or its URL."
    if isinstance(pr, str):
        errors[PR_BLOCK] = error_text(pr)
    sha_text = _text(values, SHA_BLOCK, SHA_INPUT)
    sha = C.parse_sha(sha_text) if sha_text else None
    if sha_text and sha is None:
        errors[SHA_BLOCK] = error_text(
            f"{_shown(sha_text)} is not a commit SHA (7–40 hex characters)."
        )
    ttl = _selected(values, TTL_BLOCK, TTL_INPUT)
    if ttl is not None and ttl not in TTL_VALUES:
        errors[TTL_BLOCK] = error_text(f"Pick one of {', '.join(TTL_VALUES)}.")
    if errors or isinstance(pr, str):
        return errors
    return StartForm(pr=pr, sha=sha, ttl=ttl, dm_channel=str(view.get("private_metadata") or ""))


def error_text(text: str) -> str:
    """An error beside a field: plain text (Slack shows it as written), one line, short."""
    plain = _MENTION.sub(lambda m: f"@{m.group(1)}", text)
    plain = " ".join(plain.split())
    return plain if len(plain) <= MAX_ERROR else plain[: MAX_ERROR - 1] + "…"


def _text(values: dict[str, Any], block: str, action: str) -> str:
    state = (values.get(block) or {}).get(action) or {}
    return str(state.get("value") or "").strip()


def _selected(values: dict[str, Any], block: str, action: str) -> str | None:
    state = (values.get(block) or {}).get(action) or {}
    option = state.get("selected_option") or {}
    value = option.get("value")
    return str(value) if value else None


def _shown(word: str) -> str:
    """A person's word echoed beside a field: short and on one line."""
    clean = "".join(ch if ch.isprintable() else "?" for ch in word)
    return f"“{clean[:39]}…”" if len(clean) > 40 else f"“{clean}”"


def _option(ttl: str) -> dict[str, Any]:
    return {"text": _plain(TTL_LABELS.get(ttl, ttl)), "value": ttl}


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}
