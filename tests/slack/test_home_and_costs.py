"""SPEC §13 in Slack: the Home tab (published on ``app_home_opened``, buttons authorised like
the status message's) and the cost estimate where people look — through the real Bolt app
under waitress, signed requests, and the stand-ins' validation of what Slack accepts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from slack_support import OUTSIDER, SlackWorld
from support import SLACK_USER

from bot.domain.cost import Estimate
from bot.domain.requester import Requester
from bot.orchestrator.inventory import EnvView
from bot.orchestrator.models import Overview, Spend
from bot.orchestrator.ports import ServiceState
from bot.sandbox.slack import MAX_VIEW_BLOCKS, home_view_problems
from bot.slack import home, views

PR = 36121
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def texts(view: dict) -> str:
    return json.dumps(view["blocks"], ensure_ascii=False)


def sections(view: dict) -> list[str]:
    return [b["text"]["text"] for b in view["blocks"] if b["type"] in ("section", "header")] + [
        e["text"] for b in view["blocks"] if b["type"] == "context" for e in b["elements"]
    ]


def buttons(view: dict) -> list[tuple[str, str]]:
    return [
        (e["action_id"], e.get("value", ""))
        for b in view["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
    ]


# ----- the Home tab, end to end -------------------------------------------------------------


def test_the_home_tab_is_published_when_opened_with_nothing_running(
    slack_world: SlackWorld,
) -> None:
    view = slack_world.open_home()
    assert view["type"] == "home" and home_view_problems(view) == []
    shown = sections(view)
    assert "Your environments (0)" in shown and "All environments (0)" in shown
    assert "No environments are running." in shown
    assert any("≈ $0.000/h (nothing running)" in s for s in shown)
    assert buttons(view) == []
    # Opening the Messages tab publishes nothing.
    published = len(slack_world.slack.home_views(SLACK_USER))
    assert slack_world.requester.app_home_opened(SLACK_USER, tab="messages").status_code == 200
    slack_world.open_home()  # the next real open is the next publish
    assert len(slack_world.slack.home_views(SLACK_USER)) == published + 1


def test_three_environments_their_buttons_and_totals(slack_world: SlackWorld) -> None:
    sw = slack_world
    for pr in (36121, 36122, 36123):
        assert sw.command(f"start {pr}").jobs[0].state.value == "succeeded"
    mine = sw.open_home()
    assert home_view_problems(mine) == []
    shown = "\n".join(sections(mine))
    assert "Your environments (3)" in shown and "All environments (3)" in shown
    assert "≈ $0.102/h (3 running)" in shown  # 3 × $0.03413
    assert shown.count("💵 ≈ $0.034/h · $0.00 so far · $1.64 more until it expires") == 3
    sha = sw.world.github_standin.head_sha(PR)[:7]
    assert (views.ACTION_STOP, f"{PR}:{sha}") in buttons(mine)
    assert (views.ACTION_EXTEND, f"{PR}:{sha}") in buttons(mine)
    assert (views.ACTION_OPEN, f"{PR}:{sha}") in buttons(mine)
    # Someone else sees every environment, none as theirs, and no buttons.
    theirs = sw.open_home(OUTSIDER)
    assert "Your environments (0)" in sections(theirs) and buttons(theirs) == []
    assert "All environments (3)" in sections(theirs)


def test_home_buttons_are_authorised_like_the_status_messages(slack_world: SlackWorld) -> None:
    sw = slack_world
    sw.command("start 36121")
    sha = sw.world.github_standin.head_sha(PR)[:7]
    mine = sw.open_home()
    sw.open_home(OUTSIDER)
    # An outsider pressing Stop (a forged press of the maintainer's button) is refused, on
    # their own Home tab, and nothing changes.
    refused = sw.click_home(views.ACTION_STOP, f"{PR}:{sha}", user=OUTSIDER, view=mine)
    assert refused.jobs == [] and refused.failed
    assert refused.replies[-1].startswith("🚫 You (<@U0OUTSIDER>")
    assert f"🎪 {sha} 🚦 running" in sw.world.labels()
    # The maintainer's Extend and Stop act as on the status message.
    extended = sw.click_home(views.ACTION_EXTEND, f"{PR}:{sha}")
    assert [j.kind for j in extended.jobs] == ["ttl"] and not extended.failed, extended.replies
    assert "🎪 ⌛ 72h" in sw.world.labels()
    assert any("adds ≈ $0.82 ($0.034/h)" in r for r in extended.replies), extended.replies
    stopped = sw.click_home(views.ACTION_STOP, f"{PR}:{sha}")
    assert [j.state.value for j in stopped.jobs] == ["succeeded"]
    assert stopped.replies[0].startswith("⏳ `stop` #36121: on it")
    assert stopped.replies[-1].startswith("✅ `stop` #36121: #36121 stopped")
    assert sw.world.showtime_labels() == [] and sw.world.services() == []
    # The stop reported in the PR's thread, as a press on its status message would.
    thread = sw.thread_texts(sw.status_message())
    assert any("stopped" in t for t in thread)
    # The tab it left behind shows nothing of it any more.
    final = sw.slack.home_view(SLACK_USER)
    assert final is not None and "All environments (0)" in sections(final)


def test_url_verification_is_answered(slack_world: SlackWorld) -> None:
    answer = slack_world.requester.url_verification(
        "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    )
    assert answer.status_code == 200
    assert "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" in answer.text
    forged = slack_world.requester.url_verification("x", signing_secret="wrong")
    assert forged.status_code == 401


# ----- the cost where people look ------------------------------------------------------------


def test_cost_on_the_status_message_in_status_in_list_and_in_the_expiry_warning(
    slack_world: SlackWorld,
) -> None:
    sw = slack_world
    sw.command("start 36121")
    message = sw.slack.message("C0SHOWTIME", sw.status_message()["ts"]) or {}
    assert "💵 ≈ $0.034/h · $0.00 so far · $1.64 more until it expires" in texts(message)

    sw.world.clock.advance(timedelta(hours=12).total_seconds())
    sw.command("status 36121")
    answer = json.dumps(sw.slack.responses()[-1]["blocks"], ensure_ascii=False)
    assert "💵 ≈ $0.034/h · $0.41 so far · $1.23 more until it expires" in answer
    sw.command("list")
    listed = sw.slack.responses()[-1]
    shown = json.dumps(listed["blocks"], ensure_ascii=False)
    assert "≈ $0.034/h" in shown
    assert "this month (UTC) ≈ $0.41 so far" in shown

    sw.world.clock.advance(timedelta(hours=35, minutes=30).total_seconds())
    sw.bot.orchestrator.sweep()
    thread = sw.thread_texts(sw.status_message())
    warning = next(t for t in thread if "expires in" in t)
    assert "≈ $0.034/h · $1.62 so far · $0.02 more until it expires" in warning
    assert "Extend to 72h: adds ≈ $0.82" in warning


# ----- the Home tab as a pure builder: limits and outsiders' text -----------------------------


SOMEONE = Requester.slack("U0SOMEONE")


def env(
    pr: int,
    *,
    requester_id: Requester | None = SOMEONE,
    requester: str = "someone",
    **kw: object,
) -> EnvView:
    created = NOW - timedelta(hours=3)
    values: dict[str, object] = {
        "pr": pr,
        "sha": f"{pr:07d}"[-7:],
        "status": "running",
        "active": True,
        "url": "http://203.0.113.10:8080",
        "requester": requester,
        "created": created,
        "ttl": "48h",
        "expires": created + timedelta(hours=48),
        "service": f"pr-{pr}-x-service",
        "ecs_status": ServiceState.ACTIVE,
        "mismatch": None,
        "pr_url": f"https://github.com/apache/superset/pull/{pr}",
        "requester_id": requester_id,
        "title": f"PR {pr}",
        "estimate": Estimate(Decimal("0.03413"), Decimal("0.10239"), Decimal("1.53585")),
        **kw,
    }
    return EnvView(**values)  # type: ignore[arg-type]


def overview(environments: list[EnvView], budget: str | None = None) -> Overview:
    spend = Spend(
        month=datetime(2026, 3, 1, tzinfo=UTC),
        spent=Decimal("12.3"),
        committed=Decimal("40"),
        hourly=Decimal("0.03413") * len(environments),
        running=len(environments),
        budget=Decimal(budget) if budget else None,
    )
    return Overview(environments, spend, NOW)


@pytest.mark.parametrize("count", [0, 3, 150])
def test_the_home_tab_stays_within_slacks_limits(count: int) -> None:
    environments = [
        env(40000 + n, requester_id=Requester.slack(SLACK_USER if n % 2 else "U0OTHER"))
        for n in range(count)
    ]
    view = home.home_view(
        overview(environments, budget="100"),
        SLACK_USER,
        repository="apache/superset",
        now=NOW,
        notice="⏳ `stop` #1: on it",
    )
    assert home_view_problems(view) == []
    assert len(view["blocks"]) <= MAX_VIEW_BLOCKS
    shown = "\n".join(sections(view))
    mine = count // 2
    assert f"Your environments ({mine})" in shown and f"All environments ({count})" in shown
    assert "budget $100.00 (52% spent or committed)" in shown
    # Every environment is on a line, or counted in "… N more".
    lines = shown.count("≈ $0.034/h · by")
    more = [
        s
        for s in sections(view)
        if s.startswith("… ") and "more: `/showtime list`" in s and "yours" not in s
    ]
    hidden = int(more[0].split()[1]) if more else 0
    assert lines + hidden == count
    if count == 150:
        assert len(buttons(view)) == 3 * home.OWN_SHOWN  # Open, Stop, Extend for ten of them
        assert f"… {mine - home.OWN_SHOWN} more of yours: `/showtime list`" in shown


def test_outsiders_words_on_the_home_tab_are_inert() -> None:
    hostile = env(
        36121,
        requester_id=Requester.slack(SLACK_USER),
        requester="<!channel>",
        title="Fix <https://evil.example/login|Open the environment> <!here>",
        mismatch="labels say <!everyone>",
        url="http://e.example|<!channel>:80",
    )
    view = home.home_view(overview([hostile]), SLACK_USER, repository="apache/superset", now=NOW)
    shown = texts(view)
    for live in ("<!channel>", "<!here>", "<!everyone>", "<https://evil.example"):
        assert live not in shown
    assert (
        "&lt;!channel&gt;" in shown
        and "&lt;https://evil.example/login|Open the environment&gt;" in shown
    )
    assert views.ACTION_OPEN not in [a for a, _ in buttons(view)]  # not a URL Slack could open


def test_yours_means_a_slack_user_never_a_login_shaped_like_one() -> None:
    """SPEC §11: "Your environments" matches Slack users only — a GitHub login may look
    exactly like a Slack id, and an older bot's untagged value counts only as that exact id."""
    by_tag = env(1, requester_id=Requester.slack(SLACK_USER), requester="maintainer")
    lookalike = env(2, requester_id=Requester.github(SLACK_USER), requester=SLACK_USER)
    by_cli_tag = env(3, requester_id=Requester.github("octocat"), requester="octocat")
    untagged = env(4, requester_id=Requester.parse(SLACK_USER), requester="maintainer")
    someone = env(5, requester_id=Requester.slack("U0OTHER"), requester="other")
    no_tag = env(6, requester_id=None, requester=SLACK_USER)  # a 🤡 label says nothing of Slack
    shown = (by_tag, lookalike, by_cli_tag, untagged, someone, no_tag)
    assert [v.pr for v in shown if home.is_mine(v, SLACK_USER)] == [1, 4]


def test_list_ends_with_this_months_totals_within_slacks_limits() -> None:
    from bot.sandbox.slack import block_kit_problems

    many = [
        env(50000 + n, mismatch="labels say running, but ECS has no such service")
        for n in range(900)
    ]
    for environments in ([], many[:3], many):
        data = overview(environments, budget="100")
        blocks = views.list_blocks(environments, NOW, spend=data.spend)
        assert block_kit_problems(blocks) == [] and len(blocks) <= views.MAX_BLOCKS
        last = blocks[-1]["elements"][0]["text"]
        assert last.startswith(f"💵 ≈ ${Decimal('0.03413') * len(environments):.3f}/h")
        assert (
            "this month (UTC) ≈ $12.30 so far, ≈ $40.00 more until the running ones expire" in last
        )
        assert "budget $100.00 (52% spent or committed)" in last
    shown = json.dumps(views.list_blocks(many, NOW, spend=overview(many).spend), ensure_ascii=False)
    assert "more not shown (Slack's message limit)" in shown
