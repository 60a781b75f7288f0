"""Slack calls per start with direct messages on and off (SPEC §16).

A DM is one more Slack message, and nothing else: ``chat.postMessage`` to the person's user
id (no ``conversations.open``, no ``chat.getPermalink``: the thread link is built from the
workspace's URL, which ``auth.test`` tells once per process). One sandbox; the maintainer
alternates `/showtime notify on|off` and starts a fresh PR each time (the first start, in
an empty repository, is a warm-up and not measured). Every Slack Web API call the stand-in
answers is counted from the command until nothing has moved for half a second; what each
call changed (a message or an edit, in #showtime or in the maintainer's DM) is seen through
the stand-in's change feed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass

from benchmarks import common
from benchmarks.table import Table
from bot.sandbox.harness import Sandbox
from bot.sandbox.slack import MAINTAINER_USER_ID, SlackChange, im_channel_id

log = logging.getLogger(__name__)

FIRST_PR = 52001
ROUNDS = ("on", "off", "on", "off", "on")
QUIET_SECONDS = 0.5


@dataclass
class Row:
    notify: str
    pr: int
    calls: Counter[str]
    channel_posts: int  # status message and thread replies in #showtime
    channel_edits: int
    dms: int  # messages in the maintainer's DM
    failed: bool


def run() -> list[Table]:
    sandbox = common.new_sandbox(drain_seconds=0.3, stable_seconds=0.05, poll_seconds=0.05, env={})
    rows: list[Row] = []
    with sandbox:
        common.add_prs(sandbox, range(FIRST_PR, FIRST_PR + len(ROUNDS) + 1))
        sandbox.command("notify off")
        log.info("dms: warm-up start of #%d", FIRST_PR)
        sandbox.command(f"start {FIRST_PR}")
        for n, notify in enumerate(ROUNDS, 1):
            sandbox.command(f"notify {notify}")
            rows.append(_measure(sandbox, notify, FIRST_PR + n))
        problems = common.log_problems(sandbox)
    return [_table(rows, problems)]


def _measure(sandbox: Sandbox, notify: str, pr: int) -> Row:
    log.info("dms: start #%d with notify %s", pr, notify)
    seen: Counter[tuple[str, str]] = Counter()
    lock = threading.Lock()
    dm = im_channel_id(MAINTAINER_USER_ID)

    def count(change: SlackChange) -> None:
        where = "dm" if change.channel == dm else "channel"
        with lock:
            seen[(where, change.kind)] += 1

    unsubscribe = sandbox.slack.on_change(count)
    sandbox.slack.reset_calls()
    try:
        outcome = sandbox.command(f"start {pr}", timeout=120)
        _quiet(sandbox)
    finally:
        unsubscribe()
    with lock:
        return Row(
            notify=notify,
            pr=pr,
            calls=Counter(sandbox.slack.calls),
            channel_posts=seen[("channel", "message")] + seen[("channel", "reply")],
            channel_edits=seen[("channel", "edit")],
            dms=seen[("dm", "message")],
            failed=outcome.failed,
        )


def _quiet(sandbox: Sandbox) -> None:
    """Until no Slack call has arrived for ``QUIET_SECONDS`` (the trailing edits are in)."""
    last, since = sum(sandbox.slack.calls.values()), time.monotonic()
    while time.monotonic() - since < QUIET_SECONDS:
        time.sleep(0.05)
        now = sum(sandbox.slack.calls.values())
        if now != last:
            last, since = now, time.monotonic()


def _table(rows: list[Row], problems: list[str]) -> Table:
    table = Table(
        "Slack Web API calls per fresh start, direct messages on and off",
        [
            "notify",
            "PR",
            "Slack calls",
            "postMessage",
            "update",
            "getPermalink",
            "auth.test",
            "in #showtime (posts + edits)",
            "DMs",
            "beyond the channel's",
        ],
    )
    for row in rows:
        in_channel = row.channel_posts + row.channel_edits
        total = sum(row.calls.values())
        table.add(
            row.notify + (" [FAILED]" if row.failed else ""),
            row.pr,
            total,
            row.calls["chat.postMessage"],
            row.calls["chat.update"],
            row.calls["chat.getPermalink"],
            row.calls["auth.test"],
            f"{row.channel_posts} + {row.channel_edits}",
            row.dms,
            total - in_channel,
        )
    table.notes += [
        "Slack calls: every Web API call the stand-in answered for the start (the slash "
        "command's response_url answers are not Web API calls); in #showtime: the status "
        "message, its thread replies and edits; beyond the channel's: calls that changed "
        "nothing in #showtime (the DM, auth.test).",
        "The first start with DMs on in a process also asks auth.test once (the workspace "
        "URL, for the thread link in every DM after it).",
        *problems,
    ]
    return table
