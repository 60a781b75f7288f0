"""Slack pieces without the HTTP server: authorization, Block Kit builders, OAuth guard."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from slack_sdk import WebClient
from slack_support import RUNNING_BUTTONS
from support import a_job

from bot.clock import FakeClock
from bot.config import Settings
from bot.orchestrator.jobs import Job
from bot.sandbox.slack import SlackStandIn, block_kit_problems
from bot.slack import cards, views
from bot.slack.auth import Authorizer

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def standin() -> Iterator[SlackStandIn]:
    with SlackStandIn() as slack:
        yield slack


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_nobody_may_change_until_an_admin_says_who(standin: SlackStandIn) -> None:
    client = WebClient(token=standin.bot_token, base_url=standin.api_url)
    refusal = Authorizer(settings(), client).refusal("U0MAINTAINER")
    assert refusal is not None
    assert "SHOWTIME_ALLOWED_USERS" in refusal and "SHOWTIME_ALLOWED_USERGROUPS" in refusal


def test_user_group_members_are_allowed_and_cached(standin: SlackStandIn) -> None:
    standin.add_usergroup("S0DEPLOYERS", ["U0ALICE"])
    client = WebClient(token=standin.bot_token, base_url=standin.api_url)
    clock = FakeClock()
    auth = Authorizer(settings(showtime_allowed_usergroups=["S0DEPLOYERS"]), client, clock)
    assert auth.refusal("U0ALICE") is None
    assert auth.refusal("U0BOB") is not None
    assert standin.calls["usergroups.users.list"] == 1  # cached
    standin.add_usergroup("S0DEPLOYERS", ["U0ALICE", "U0BOB"])
    clock.advance(301)
    assert auth.refusal("U0BOB") is None
    assert standin.calls["usergroups.users.list"] == 2


def test_a_stale_membership_stops_counting_while_slack_keeps_failing(
    standin: SlackStandIn,
) -> None:
    """While Slack fails, the last answer serves for a while — never forever: someone removed
    from the group during an outage loses access once that answer is too old."""
    standin.add_usergroup("S0DEPLOYERS", ["U0ALICE"])
    client = WebClient(token=standin.bot_token, base_url=standin.api_url)
    clock = FakeClock()
    auth = Authorizer(settings(showtime_allowed_usergroups=["S0DEPLOYERS"]), client, clock)
    assert auth.refusal("U0ALICE") is None
    standin.fail("usergroups.users.list", "fatal_error", times=1000)
    for _ in range(2):  # the cache runs out twice within 15 minutes: the old answer stands
        clock.advance(301)
        assert auth.refusal("U0ALICE") is None
    clock.advance(301)  # 15 minutes and more since Slack last answered
    assert auth.refusal("U0ALICE") is not None


def test_allowed_users_need_no_slack_call(standin: SlackStandIn) -> None:
    client = WebClient(token=standin.bot_token, base_url=standin.api_url)
    auth = Authorizer(settings(showtime_allowed_users=["U1"]), client)
    assert auth.refusal("U1") is None
    assert "U2" in (auth.refusal("U2") or "")
    assert standin.calls["usergroups.users.list"] == 0


def test_card_buttons_follow_state() -> None:
    base = {"pr": 1, "repository": "apache/superset", "sha": "abc1234"}
    running = views.Card(state="running", url="http://1.2.3.4:8080", logs_url="https://x", **base)  # type: ignore[arg-type]
    ids = [b["action_id"] for b in views.card_buttons(running)]
    assert ids == RUNNING_BUTTONS
    frozen = views.Card(state="running", frozen=True, **base)  # type: ignore[arg-type]
    assert views.ACTION_UNFREEZE in [b["action_id"] for b in views.card_buttons(frozen)]
    failed = views.Card(state="failed", **base)  # type: ignore[arg-type]
    assert views.card_buttons(failed)[0]["action_id"] == views.ACTION_RETRY
    assert block_kit_problems(views.card_blocks(running)) == []


def test_long_texts_are_clipped_to_slack_limits() -> None:
    card = views.Card(state="failed", pr=1, repository="apache/superset", reason="x" * 10_000)
    assert block_kit_problems(views.card_blocks(card)) == []


def test_button_values_round_trip() -> None:
    assert views.parse_button_value(views.button_value(36121, "abc1234")) == (36121, "abc1234")
    assert views.parse_button_value(views.button_value(36121)) == (36121, None)
    assert views.parse_button_value("garbage") is None


def test_oauth_variables_are_refused_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bolt would switch to OAuth installs when it sees both: the bot refuses to start."""
    from bot.config import load_settings
    from bot.errors import ConfigurationError

    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "s")
    monkeypatch.setenv("SLACK_CLIENT_ID", "111.222")
    monkeypatch.setenv("SLACK_CLIENT_SECRET", "not-used")
    with pytest.raises(ConfigurationError) as refused:
        load_settings(("slack",), _env_file=None)
    assert "SLACK_CLIENT_ID" in refused.value.message
    assert "not-used" not in refused.value.message


def test_building_the_app_leaves_the_environment_alone(
    monkeypatch: pytest.MonkeyPatch, standin: SlackStandIn
) -> None:
    import os

    from bot.slack.app import build_app

    monkeypatch.setenv("SLACK_BOT_TOKEN", standin.bot_token)
    before = dict(os.environ)
    client = WebClient(token=standin.bot_token, base_url=standin.api_url)
    app = build_app(settings(slack_signing_secret="s"), client, intake=None)  # type: ignore[arg-type]
    assert dict(os.environ) == before
    assert app.oauth_flow is None


def test_a_ttl_close_card_shows_no_time_left() -> None:
    """`close` has no countdown: the card says "⌛ close", never "close (until close left)"."""
    where = cards.Where(repository="apache/superset", default_ttl="48h", now=NOW)
    running = ["🎪 abc1234 🚦 running", "🎪 🎯 abc1234", "🎪 abc1234 📅 2026-03-02T08-00"]
    closing = cards.labels_card(where, _job(), [*running, "🎪 ⌛ close"], logs_url=None)
    assert closing.ttl == "close" and closing.time_left is None
    assert "left" not in json.dumps(views.card_blocks(closing), ensure_ascii=False)
    timed = cards.labels_card(where, _job(), [*running, "🎪 ⌛ 48h"], logs_url=None)
    assert timed.time_left == "1d 23h"


def _job() -> Job:
    return a_job(lock_key=None, created_at=NOW, updated_at=NOW)


def test_a_short_change_keeps_showing_the_environment_while_it_runs() -> None:
    """Extend, Freeze, Unfreeze: the environment runs on, so its message keeps its URL and
    says in words what is changing, never a job kind ("ttl in progress")."""
    from bot.orchestrator.jobs import JobKind, JobState, PrRecord, TtlParams

    where = cards.Where(repository="apache/superset", default_ttl="48h", now=NOW)
    labels = (
        "🎪 abc1234 🚦 running",
        "🎪 🎯 abc1234",
        "🎪 abc1234 📅 2026-03-02T08-00",
        "🎪 abc1234 🌐 203.0.113.10:8080",
    )
    record = PrRecord(labels=labels, title="feat: x", checked="✓ login")
    running = JobState.RUNNING
    extend = a_job(kind=JobKind.TTL, params=TtlParams(extend=True), record=record, state=running)
    card = cards.progress_card(where, extend)
    assert (card.state, card.headline) == ("running", "Running abc1234 · extending the TTL")
    assert card.url == "http://203.0.113.10:8080" and card.checked == "✓ login"
    freeze = cards.progress_card(where, a_job(kind=JobKind.FREEZE, record=record, state=running))
    assert freeze.headline == "Running abc1234 · freezing"
    # Before the PR was read (no labels yet): the change alone, in words.
    early = cards.progress_card(
        where, a_job(kind=JobKind.TTL, params=TtlParams(ttl="72h"), record=None, state=running)
    )
    assert (early.state, early.headline) == ("deploying", "Changing the TTL")


def test_a_cancel_says_who_and_where_they_acted() -> None:
    """A Slack user is mentioned; a GitHub login cancelled by acting on GitHub (a close)."""
    from bot.domain import events as ev
    from bot.slack.progress import cancelled_line

    in_slack = ev.Cancelled(by="slack:U0MAINTAINER", after_seconds=70, text="")
    on_github = ev.Cancelled(by="github:octocat", after_seconds=1, text="")
    assert (
        cancelled_line(_job(), in_slack) == "#36121 start cancelled by <@U0MAINTAINER> after 1m10s"
    )
    assert (
        cancelled_line(_job(), on_github) == "#36121 start cancelled by octocat on GitHub after 1s"
    )
