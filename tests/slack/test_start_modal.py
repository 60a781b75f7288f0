"""Start from the Home tab (SPEC §16), through the real Bolt app: "Start an environment" opens
a modal; its submission is checked field by field (errors beside the field, the modal stays
open, nothing starts) and a good one becomes the same job as `/showtime start`, its status
message in SHOWTIME_NOTIFY_CHANNEL — or, unset, in the person's DM with the app."""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from slack_support import OUTSIDER, SlackWorld, bot_on, serving
from support import SLACK_USER, World

from bot.domain.requester import Requester
from bot.orchestrator.jobs import JobKind, StartParams
from bot.sandbox.harness import HOME_ANSWERS, Outcome, home_marks
from bot.sandbox.slack import DEFAULT_CHANNEL, SlackStandIn, im_channel_id, modal_view_problems
from bot.sandbox.slack_client import ViewAnswer
from bot.slack import modal, views

PR = 36121
PULL = ("GET", "/repos/{owner}/{repo}/pulls/{number}")
COMMITS = ("GET", "/repos/{owner}/{repo}/pulls/{number}/commits")


@pytest.fixture
def to_channel(world: World) -> Iterator[SlackWorld]:
    """The bot with SHOWTIME_NOTIFY_CHANNEL set: the modal's status messages go there."""
    slack = SlackStandIn()
    slack.start()
    slack.add_user(OUTSIDER, "outsider")
    bot = bot_on(world, slack, showtime_notify_channel=DEFAULT_CHANNEL)
    with serving(world, slack, bot) as served:
        yield served


def open_modal(sw: SlackWorld, user: str = SLACK_USER) -> dict[str, Any]:
    """``user`` presses "Start an environment" on the maintainer's Home tab."""
    tab = sw.slack.home_view(SLACK_USER) or sw.open_home()
    assert sw.requester.click_home(tab, modal.ACTION_START, user).ok
    opened = sw.slack.wait_for(lambda: sw.slack.modal(user), 10, "the modal to open")
    assert isinstance(opened, dict)
    return opened


def submit(
    sw: SlackWorld, view: dict[str, Any], values: dict[str, str], user: str = SLACK_USER
) -> tuple[ViewAnswer, Outcome]:
    """Submit the modal; once it closed, until the Home tab says how its start ended (✅ ❌)
    or why it did not start (🚫): the tab's answers are the outcome's replies."""
    known, shown = home_marks(sw.bot.store, sw.slack, user)
    answer = sw.requester.submit_view(user, view, values)
    if not answer.closed:
        return answer, Outcome(answer.response)

    def answered() -> list[str]:
        replies = [
            str(block["text"]["text"])
            for tab in sw.slack.home_views(user)[shown:]
            for block in tab["blocks"]
            if block["type"] == "section" and block["text"]["text"].startswith(HOME_ANSWERS)
        ]
        return replies if replies and replies[-1].startswith(("✅", "❌", "🚫")) else []

    replies = sw.slack.wait_for(answered, 60, "the Home tab to say how the start ended")
    jobs = [j for j in sw.bot.store.recent() if j.id not in known]
    return answer, Outcome(answer.response, jobs, replies)


# ----- the modal ------------------------------------------------------------------------------


def test_the_home_tab_offers_start_to_allowed_people_and_opens_the_modal(
    slack_world: SlackWorld,
) -> None:
    sw = slack_world
    tab = sw.open_home()
    starts = [
        b["accessory"]
        for b in tab["blocks"]
        if (b.get("accessory") or {}).get("action_id") == modal.ACTION_START
    ]
    # The button carries the app's DM with the person (the event's channel).
    assert [e.get("value") for e in starts] == [im_channel_id(SLACK_USER)]
    outsider = sw.open_home(OUTSIDER)
    assert modal.ACTION_START not in str(outsider)

    opened = open_modal(sw)

    assert opened["title"]["text"] == "Start an environment"
    assert [b["block_id"] for b in opened["blocks"] if b["type"] == "input"] == ["pr", "sha", "ttl"]
    assert opened["private_metadata"] == im_channel_id(SLACK_USER)
    assert modal_view_problems(opened) == []


@pytest.mark.parametrize(
    ("values", "errors"),
    [
        (
            {"pr": "next week"},
            {
                "pr": "`next week` is not a pull request number (use 36121, #36121 or its "
                "GitHub URL)."
            },
        ),
        (
            {"pr": "https://github.com/other/repo/pull/1"},
            {
                "pr": "`https://github.com/other/repo/pull/1` is a pull request of other/repo; "
                "this bot serves apache/superset."
            },
        ),
        ({"pr": "99999"}, {"pr": "PR #99999 does not exist in apache/superset"}),
        (
            {"pr": "36000"},
            {"pr": "#36000: the PR is merged — environments are only for open pull requests"},
        ),
        (
            {"pr": "36121", "sha": "zzz"},
            {"sha": "“zzz” is not a commit SHA (7–40 hex characters)."},
        ),
        (
            {"pr": "36121", "sha": "1234567"},
            {"sha": "1234567 is not a commit of #36121; leave it empty for its head."},
        ),
        (
            {"pr": "#0", "sha": "not-hex"},
            {
                "pr": "`#0` is not a plausible pull request number.",
                "sha": "“not-hex” is not a commit SHA (7–40 hex characters).",
            },
        ),
    ],
    ids=["not-a-number", "other-repo", "unknown", "merged", "bad-sha", "sha-not-in-pr", "both"],
)
def test_each_bad_field_is_said_beside_it_and_nothing_starts(
    slack_world: SlackWorld, values: dict[str, str], errors: dict[str, str]
) -> None:
    sw = slack_world
    opened = open_modal(sw)

    answer, _ = submit(sw, opened, values)

    assert answer.action == "errors" and answer.errors == errors
    assert sw.slack.modal(SLACK_USER) is not None  # it stays open, the values kept
    assert sw.bot.store.recent() == [] and sw.world.showtime_labels() == []


def test_a_ttl_that_is_not_one_is_said_beside_the_ttl(slack_world: SlackWorld) -> None:
    sw = slack_world
    opened = open_modal(sw)
    # A modal from an older bot (or a forged submission) offering a TTL there is not.
    tampered = copy.deepcopy(opened)
    ttl = next(b for b in tampered["blocks"] if b["block_id"] == "ttl")
    ttl["element"]["options"].append({"text": {"type": "plain_text", "text": "2h"}, "value": "2h"})

    answer, _ = submit(sw, tampered, {"pr": "36121", "ttl": "2h"})

    assert answer.errors == {"ttl": "Pick one of 24h, 48h, 72h, 1w, close."}
    assert sw.bot.store.recent() == []


def test_someone_not_allowed_is_told_beside_the_pr_and_nothing_starts(
    slack_world: SlackWorld,
) -> None:
    sw = slack_world
    opened = open_modal(sw, OUTSIDER)  # a forged press of the maintainer's button

    answer, _ = submit(sw, opened, {"pr": "36121"}, user=OUTSIDER)

    assert answer.action == "errors"
    assert answer.errors["pr"].startswith("🚫 You (@U0OUTSIDER, `U0OUTSIDER`) may not change")
    assert sw.bot.store.recent() == [] and sw.world.showtime_labels() == []
    assert sw.world.github_standin.count(*PULL) == 0  # refused before asking GitHub


# ----- a good submission -----------------------------------------------------------------------


def test_a_good_submission_is_the_same_job_as_the_slash_command(to_channel: SlackWorld) -> None:
    sw = to_channel
    head = sw.world.github_standin.head_sha(PR)
    opened = open_modal(sw)
    sw.world.github_standin.reset_counts()

    answer, outcome = submit(sw, opened, {"pr": f"#{PR}", "sha": head[:9], "ttl": "72h"})

    assert answer.closed and answer.response.text == ""
    (job,) = outcome.jobs
    assert (job.kind, job.state.value, job.pr, job.sha) == (JobKind.START, "succeeded", PR, head)
    assert job.requester == Requester.slack(SLACK_USER, "maintainer")
    assert isinstance(job.params, StartParams) and job.params.ttl == "72h"
    # One read of the PR before the ack; the job's validation reused it.
    assert sw.world.github_standin.count(*PULL) == 1
    assert sw.world.github_standin.count(*COMMITS) == 0  # the SHA given is the head
    assert outcome.replies[0].startswith(f"⏳ `start` #{PR}: on it — <https://")
    assert outcome.replies[-1].startswith(f"✅ `start` #{PR}: #{PR} runs {head[:7]} at http://")
    by_modal = sw.status_message(PR)
    assert by_modal["channel"] == DEFAULT_CHANNEL

    slash = sw.command("start 36122 ttl=72h")

    assert slash.jobs[0].state.value == "succeeded"
    by_slash = sw.status_message(36122)
    assert sw.buttons(by_modal) == sw.buttons(by_slash)
    assert len(sw.thread_texts(by_modal)) == len(sw.thread_texts(by_slash))
    other = sw.world.github_standin.head_sha(36122)[:7]
    assert sorted(sw.world.showtime_labels(PR)) == sorted(
        label.replace(other, head[:7]) for label in sw.world.showtime_labels(36122)
    )
    assert "🎪 ⌛ 72h" in sw.world.labels(PR)


def test_without_a_notify_channel_the_status_message_is_a_dm_edited_in_place(
    slack_world: SlackWorld,
) -> None:
    sw = slack_world
    opened = open_modal(sw)

    answer, outcome = submit(sw, opened, {"pr": str(PR)})

    assert answer.closed and outcome.jobs[0].state.value == "succeeded"
    status, ready = sw.slack.direct_messages(SLACK_USER)
    assert status["channel"] == im_channel_id(SLACK_USER)
    assert "🟢" in status["text"] and status["edit_count"] >= 1  # updated in place
    assert views.ACTION_STOP in str(status["blocks"])
    replies = [m["text"] for m in sw.slack.thread(status["channel"], status["ts"])]
    assert replies[0].startswith("✅ PR #36121 claimed") and replies[-1].startswith("🎉")
    assert "is ready" in str(ready["blocks"])
    assert sw.slack.channel_messages(DEFAULT_CHANNEL) == []


def test_a_blocked_pr_is_said_beside_the_pr(slack_world: SlackWorld) -> None:
    sw = slack_world
    sw.world.github_standin.set_labels(PR, ["🎪 🔒 showtime-blocked"])

    answer, _ = submit(sw, open_modal(sw), {"pr": str(PR)})

    # Known before the ack, from the one read of the PR.
    assert answer.errors["pr"].startswith(f"#{PR}: ") and "blocked" in answer.errors["pr"]
    assert sw.bot.store.recent() == []


@pytest.fixture
def limited(world: World) -> Iterator[SlackWorld]:
    """The bot with room for one environment (SHOWTIME_MAX_ENVIRONMENTS=1)."""
    slack = SlackStandIn()
    slack.start()
    bot = bot_on(world, slack, showtime_max_environments=1)
    with serving(world, slack, bot) as served:
        yield served


def test_a_refusal_after_the_ack_is_said_on_the_home_tab(limited: SlackWorld) -> None:
    sw = limited
    sw.command(f"start {PR}")

    answer, outcome = submit(sw, open_modal(sw), {"pr": "36122"})

    # The limit is the job's own validation's, after the ack: the same words as the command's.
    assert answer.closed
    assert [j.state.value for j in outcome.jobs] == ["failed"]
    assert outcome.replies[-1].startswith(
        "🚫 #36122: 1 environments already run, the limit is 1 (SHOWTIME_MAX_ENVIRONMENTS)"
    )
    assert sw.world.showtime_labels(36122) == []
    assert sw.slack.direct_messages(SLACK_USER)[-1]["text"].startswith("🎉")  # #36121's only


def test_a_slow_github_is_an_error_to_try_again_within_slacks_3_seconds(
    slack_world: SlackWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    sw = slack_world
    released = threading.Event()
    queries = sw.bot.orchestrator.queries
    checked = queries.start_check

    def slow(pr: int, sha: str | None = None):  # type: ignore[no-untyped-def]
        released.wait(10)  # GitHub taking its time
        return checked(pr, sha)

    monkeypatch.setattr(queries, "start_check", slow)
    opened = open_modal(sw)
    began = time.monotonic()
    try:
        answer: ViewAnswer = sw.requester.submit_view(SLACK_USER, opened, {"pr": str(PR)})
    finally:
        released.set()

    assert time.monotonic() - began < 3.0
    assert answer.errors == {
        "pr": "GitHub is slow to answer right now, so nothing was started: press Start "
        "again in a moment."
    }
    assert sw.bot.store.recent() == [] and sw.world.showtime_labels() == []
