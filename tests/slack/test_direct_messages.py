"""Direct messages to the person who asked (SPEC §16), through the real Bolt app: ready (URL,
Open, Credentials, the thread), failed (reason, the thread), an hour before expiry (Extend);
none after `notify off`, none for GitHub-started jobs; a DM Slack refuses fails nothing."""

from __future__ import annotations

import contextlib
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from slack_support import OUTSIDER, SlackWorld
from support import SLACK_USER, postgres_schema

from bot.adapters.store import SqlJobStore
from bot.domain.requester import Requester
from bot.orchestrator.jobs import JobKind, StartParams
from bot.orchestrator.models import JobRequest, Reporting, Started
from bot.sandbox.slack import DEFAULT_CHANNEL, block_kit_problems
from bot.slack import home, views

PR = 36121
URL = "http://203.0.113.10:8080"  # the ECS stand-in's public IP, the default port


def text_of(message: dict[str, Any]) -> str:
    """Every text a person reads in a message (its blocks' sections and contexts)."""
    parts: list[str] = []
    for block in message.get("blocks") or []:
        if block.get("type") == "section":
            parts.append(block["text"]["text"])
        elif block.get("type") == "context":
            parts.extend(e["text"] for e in block["elements"])
    return "\n".join(parts)


def buttons_of(message: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    """(action_id, value, url) of every button: in a row, or beside a section."""
    return [
        (e["action_id"], e.get("value", ""), e.get("url"))
        for b in message.get("blocks") or []
        for e in (b["elements"] if b.get("type") == "actions" else [b.get("accessory") or {}])
        if e.get("type") == "button"
    ]


def every_dm(sw: SlackWorld) -> list[dict[str, Any]]:
    """What the app posted in any direct-message channel, whoever it is with."""
    with sw.slack.lock:
        ims = [c.id for c in sw.slack.channels.values() if c.is_im]
    return [m for channel in ims for m in sw.slack.channel_messages(channel)]


def permalink(sw: SlackWorld, message: dict[str, Any]) -> str:
    """What Slack's chat.getPermalink says of a status message."""
    answer = sw.bot.client.chat_getPermalink(channel=message["channel"], message_ts=message["ts"])
    return str(answer["permalink"])


def sha7(sw: SlackWorld, pr: int = PR) -> str:
    return sw.world.github_standin.head_sha(pr)[:7]


def expire_soon(sw: SlackWorld) -> None:
    """Half an hour before the default 48 h run out, the sweeper's round."""
    sw.world.clock.advance(timedelta(hours=47, minutes=30).total_seconds())
    sw.bot.orchestrator.sweep()


# ----- ready, failed, expiring --------------------------------------------------------------


def test_a_ready_environment_is_told_to_its_requester_with_open_credentials_and_the_thread(
    slack_world: SlackWorld,
) -> None:
    sw = slack_world
    assert sw.command(f"start {PR}").jobs[0].state.value == "succeeded"

    (dm,) = sw.slack.direct_messages(SLACK_USER)
    said = text_of(dm)
    assert f"#{PR}>* — feat(alerts): run report schedules" in said
    assert f"`{sha7(sw)}` is ready: <{URL}|{URL}>" in said
    # The thread link is the status message's permalink, as Slack itself gives it.
    assert (
        f"Its progress and buttons: <{permalink(sw, sw.status_message())}|see its thread>" in said
    )
    assert buttons_of(dm) == [
        (views.ACTION_OPEN, f"{PR}:{sha7(sw)}", URL),
        (views.ACTION_CREDENTIALS, f"{PR}:{sha7(sw)}", None),
    ]
    assert block_kit_problems(dm["blocks"]) == []
    assert every_dm(sw) == [dm]  # nobody else is written to
    assert sw.slack.direct_messages(OUTSIDER) == []


def test_a_failed_deploy_is_told_with_its_reason_and_the_thread(slack_world: SlackWorld) -> None:
    sw = slack_world
    sw.world.ecs_standin.crash_on_boot(f"apache/superset:pr-{PR}-{sha7(sw)}-ci")

    assert sw.command(f"start {PR}").jobs[0].state.value == "failed"

    (dm,) = sw.slack.direct_messages(SLACK_USER)
    said = text_of(dm)
    assert said.startswith(f"❌ Your deploy of *<https://github.com/apache/superset/pull/{PR}|")
    assert f"`{sha7(sw)}` failed: a task of pr-{PR}-{sha7(sw)}-service stopped" in said
    assert "*Next:*" in said
    assert f"The log and Retry: <{permalink(sw, sw.status_message())}|see its thread>" in said
    assert buttons_of(dm) == []


def test_an_hour_before_expiry_the_requester_gets_extend_which_reports_in_the_prs_thread(
    slack_world: SlackWorld,
) -> None:
    sw = slack_world
    sw.command(f"start {PR}")
    status = sw.status_message()

    expire_soon(sw)

    _ready, expiring = sw.slack.direct_messages(SLACK_USER)
    assert re.search(r"expires in (29|30)m; press Extend to keep it", text_of(expiring))
    thread = f"Extend reports in the PR's thread: <{permalink(sw, status)}|see its thread>"
    assert thread in text_of(expiring)
    assert buttons_of(expiring) == [(views.ACTION_DM_EXTEND, f"{PR}:{sha7(sw)}", None)]
    # The warning in the thread now names whose environment it is.
    warning = next(t for t in sw.thread_texts(status) if "expires in" in t)
    assert warning.startswith(f"⌛ <@{SLACK_USER}> #{PR}")

    extended = sw.click(expiring, views.ACTION_DM_EXTEND)

    assert [(j.kind, j.state.value) for j in extended.jobs] == [("ttl", "succeeded")]
    assert "🎪 ⌛ 72h" in sw.world.labels()
    assert any("TTL is now 72h" in t for t in sw.thread_texts(status))  # in the PR's thread
    assert extended.replies[0].startswith(f"⏳ Extending #{PR}: on it — <https://")
    dm = sw.slack.message(expiring["channel"], expiring["ts"])
    assert dm is not None and dm["edit_count"] == 0  # the DM is not turned into a card
    assert sw.slack.thread(expiring["channel"], expiring["ts"]) == []
    sw.bot.orchestrator.sweep()
    assert len(sw.slack.direct_messages(SLACK_USER)) == 2  # one warning per expiry


def test_an_outsider_pressing_extend_in_a_dm_is_refused(slack_world: SlackWorld) -> None:
    sw = slack_world
    sw.command(f"start {PR}")
    expire_soon(sw)
    expiring = sw.slack.direct_messages(SLACK_USER)[-1]

    refused = sw.click(expiring, views.ACTION_DM_EXTEND, user_id=OUTSIDER)

    assert refused.jobs == [] and refused.replies[0].startswith("🚫 You (<@U0OUTSIDER>")
    assert "🎪 ⌛ 48h" in sw.world.labels()


# ----- notify on|off --------------------------------------------------------------------------


def test_notify_off_stops_them_the_home_tab_shows_it_and_flips_it_back(
    slack_world: SlackWorld,
) -> None:
    sw = slack_world
    off = sw.command("notify off")
    assert off.replies == [
        "🔕 Direct messages are off: the status messages and their threads still say "
        "everything. `/showtime notify on` brings them back."
    ]

    sw.command(f"start {PR}")
    expire_soon(sw)

    assert every_dm(sw) == []
    assert any("expires in" in t for t in sw.thread_texts(sw.status_message()))  # still said
    tab = sw.open_home()
    assert "🔕 Direct messages about your environments are *off*" in text_of(tab)
    assert (home.ACTION_NOTIFY, "on", None) in buttons_of(tab)

    flipped = sw.click_home(home.ACTION_NOTIFY, "on")

    assert flipped.response.ok and flipped.jobs == []
    now = sw.slack.home_view(SLACK_USER)
    assert now is not None
    assert "🔔 Direct messages are on: I will write to you" in text_of(now)  # the answer
    assert "Direct messages about your environments are *on*" in text_of(now)
    assert (home.ACTION_NOTIFY, "off", None) in buttons_of(now)
    assert sw.bot.store.notify_wanted(SLACK_USER)
    # The setting is per person: the outsider's is untouched (and on, the default).
    assert sw.bot.store.notify_wanted(OUTSIDER)


def test_notify_needs_on_or_off(slack_world: SlackWorld) -> None:
    answer = slack_world.command("notify maybe")
    assert "`notify` takes `on` or `off`" in answer.response.text
    assert slack_world.bot.store.notify_wanted(SLACK_USER)


# ----- nobody to write to ------------------------------------------------------------------------


def test_a_github_started_environment_writes_to_nobody_even_with_a_slack_looking_login(
    slack_world: SlackWorld,
) -> None:
    sw = slack_world
    # A GitHub login may look exactly like a Slack user id: it is still a login.
    requester = Requester.github(SLACK_USER)
    answer = sw.bot.orchestrator.submit(
        JobRequest(
            kind=JobKind.START,
            pr=PR,
            requester=requester,
            params=StartParams(reason="🎪 ⚡ showtime-trigger-start added on GitHub"),
            reporting=Reporting.in_pr_thread(DEFAULT_CHANNEL),
        )
    )
    assert isinstance(answer, Started)
    done = sw.bot.orchestrator.wait(answer.job.id, 60)
    assert done is not None and done.state.value == "succeeded"

    expire_soon(sw)

    assert any("expires in" in t for t in sw.thread_texts(sw.status_message()))
    assert every_dm(sw) == []


def test_a_dm_slack_refuses_is_logged_and_fails_nothing(
    slack_world: SlackWorld, caplog: pytest.LogCaptureFixture
) -> None:
    sw = slack_world
    gone = "U0GONE"  # asked, then left the workspace: Slack has no DM with them
    answer = sw.bot.orchestrator.submit(
        JobRequest(
            kind=JobKind.START,
            pr=PR,
            requester=Requester.slack(gone, "gone"),
            reporting=Reporting.new_message(DEFAULT_CHANNEL),
        )
    )
    assert isinstance(answer, Started)
    with caplog.at_level(logging.WARNING, logger="bot.slack.dms"):
        done = sw.bot.orchestrator.wait(answer.job.id, 60)

    assert done is not None and done.state.value == "succeeded"
    assert "🟢" in sw.status_message()["text"]
    assert [r.getMessage() for r in caplog.records if r.name == "bot.slack.dms"] == [
        f"direct message to {gone} (#{PR} succeeded) refused by Slack: channel_not_found"
    ]


# ----- the setting, in the job store ------------------------------------------------------------


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_the_setting_is_kept_per_person_and_seen_by_every_replica(
    backend: str, tmp_path: Path
) -> None:
    with contextlib.ExitStack() as stack:
        url = (
            f"sqlite:///{tmp_path / 'jobs.db'}"
            if backend == "sqlite"
            else stack.enter_context(postgres_schema())
        )
        one, two = SqlJobStore(url), SqlJobStore(url)  # two replicas, one database
        stack.callback(one.close)
        stack.callback(two.close)
        assert one.notify_wanted("U0ONE") and one.notify_wanted("U0TWO")  # on by default

        one.set_notify("U0ONE", False)
        assert not two.notify_wanted("U0ONE") and two.notify_wanted("U0TWO")
        # Many presses at once (two replicas, both first-timers for U0TWO): one row each,
        # the last word wins, nothing fails.
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda n: (one, two)[n % 2].set_notify("U0TWO", n % 2 == 0), range(16)))
        two.set_notify("U0TWO", False)
        one.set_notify("U0ONE", True)
        assert one.notify_wanted("U0ONE") and not one.notify_wanted("U0TWO")
