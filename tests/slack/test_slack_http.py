"""Signed HTTP requests to the real Bolt app; Slack, GitHub and ECS stand-ins behind it."""

from __future__ import annotations

import dataclasses
import json
import re
import time

import pytest
from slack_support import OUTSIDER, RUNNING_BUTTONS, SlackWorld
from support import SLACK_USER

from bot.sandbox.slack import block_kit_problems
from bot.slack import views

PR = 36121
ACK = {"type": "command"}


def nothing_changed(sw: SlackWorld, pr: int = PR) -> None:
    assert sw.world.showtime_labels(pr) == []
    assert sw.world.services(status=None) == []


def test_start_posts_status_message_thread_and_final_update(slack_world: SlackWorld) -> None:
    outcome = slack_world.command("start 36121")
    assert outcome.response.status_code == 200
    assert [j.state.value for j in outcome.jobs] == ["succeeded"]
    message = slack_world.status_message()
    sha = slack_world.world.github_standin.head_sha(PR)[:7]
    assert "🟢" in message["text"] and sha in message["text"]
    replies = slack_world.thread_texts(message)
    assert replies[0].startswith("✅ PR #36121 claimed")
    assert any("is free" in r for r in replies)
    assert replies[-1].startswith(
        f"🎉 <@{SLACK_USER}> #36121 runs {sha} at http://203.0.113.10:8080"
    )
    assert message["edit_count"] >= 1
    assert slack_world.buttons(message) == RUNNING_BUTTONS
    blocks_text = str(slack_world.slack.message(message["channel"], message["ts"]))
    assert "http://203.0.113.10:8080" in blocks_text


def test_stop_then_start_shows_draining_in_thread(slack_world: SlackWorld) -> None:
    slack_world.command("start 36121")
    slack_world.command("stop 36121")
    slack_world.command("start 36121")
    message = slack_world.status_message()
    replies = slack_world.thread_texts(message)
    assert any("DRAINING" in r for r in replies), replies
    assert len(slack_world.world.services()) == 1


def test_each_button(slack_world: SlackWorld) -> None:
    sw = slack_world
    sw.command("start 36121")
    message = sw.status_message()
    sw.click(message, views.ACTION_EXTEND)
    assert "🎪 ⌛ 72h" in sw.world.labels()
    sw.click(message, views.ACTION_FREEZE)
    assert "🎪 🧊 showtime-freeze" in sw.world.labels()
    assert views.ACTION_UNFREEZE in sw.buttons(message)
    sw.click(message, views.ACTION_UNFREEZE)
    assert "🎪 🧊 showtime-freeze" not in sw.world.labels()
    redeploy = sw.click(message, views.ACTION_REDEPLOY)
    assert redeploy.jobs[0].record.mode == "redeploy"
    assert redeploy.jobs[0].state.value == "succeeded"
    opened = sw.requester.click(
        sw.slack.message(message["channel"], message["ts"]), views.ACTION_OPEN
    )
    assert opened.status_code == 200  # a link: Slack opens it; the bot only acks
    running_version = sw.slack.message(message["channel"], message["ts"])
    assert running_version is not None and views.ACTION_EXTEND in sw.buttons(running_version)
    stop = sw.click(message, views.ACTION_STOP)
    assert stop.jobs[0].state.value == "succeeded"
    assert sw.world.showtime_labels() == []
    # Buttons post in the thread of the message they were pressed on; no new status message.
    assert len([m for m in sw.slack.channel_messages("C0SHOWTIME") if "#36121" in m["text"]]) == 1
    # Extend pressed on the message as it was while running (a client that had not refreshed):
    # the environment is gone, so the press says so and changes nothing.
    stale = sw.send(sw.requester.click(running_version, views.ACTION_EXTEND))
    assert any("out of date" in r for r in stale.replies), stale.replies
    assert sw.world.showtime_labels() == []


def test_retry_after_missing_image(slack_world: SlackWorld) -> None:
    sw = slack_world
    sha = sw.world.github_standin.head_sha(PR)[:7]
    image = f"apache/superset:pr-{PR}-{sha}-ci"
    sw.world.ecs_standin.mark_image_missing(image)
    outcome = sw.command("start 36121")
    assert outcome.jobs[0].state.value == "failed"
    message = sw.status_message()
    assert "🔴" in message["text"]
    assert views.ACTION_RETRY in sw.buttons(message)
    thread = sw.thread_texts(message)
    assert any("image not built yet" in t and image in t for t in thread)
    assert any(t.startswith(f"❌ <@{SLACK_USER}> failed") for t in thread)
    sw.world.ecs_standin.mark_image_present(image)
    retry = sw.click(message, views.ACTION_RETRY)
    assert retry.jobs[0].state.value == "succeeded"
    assert "🟢" in (sw.slack.message(message["channel"], message["ts"]) or {})["text"]


@pytest.mark.parametrize("tamper", ["signature", "timestamp"])
def test_bad_signature_or_old_timestamp_is_401_and_changes_nothing(
    slack_world: SlackWorld, tamper: str
) -> None:
    sw = slack_world
    if tamper == "signature":
        request = sw.requester.build_slash_command("start 36121", signing_secret="wrong")
    else:
        request = sw.requester.build_slash_command("start 36121", timestamp=int(time.time()) - 301)
    response = sw.requester.send(request)
    assert response.status_code == 401
    # Refused before Bolt: no listener acked it, so nothing can have been queued behind it.
    assert sw.bot.metrics is not None
    assert sw.bot.metrics.registry.get_sample_value("showtime_slack_acks_total", ACK) is None
    nothing_changed(sw)
    assert sw.slack.channel_messages("C0SHOWTIME") == []


def test_tampered_body_is_401(slack_world: SlackWorld) -> None:
    sw = slack_world
    request = sw.requester.build_slash_command("status 36121")
    tampered = dataclasses.replace(request, body=request.body.replace("status", "stop"))
    assert sw.requester.send(tampered).status_code == 401


def test_unauthorized_user_is_refused_and_nothing_changes(slack_world: SlackWorld) -> None:
    outcome = slack_world.command("start 36121", user_id=OUTSIDER, user_name="outsider")
    assert any("SHOWTIME_ALLOWED_USERS" in r for r in outcome.replies)
    nothing_changed(slack_world)
    # Read-only commands stay open to everyone.
    status = slack_world.command("status 36121", user_id=OUTSIDER, user_name="outsider")
    assert any("Status of #36121" in r for r in status.replies)


def test_unauthorized_button_is_refused(slack_world: SlackWorld) -> None:
    sw = slack_world
    sw.command("start 36121")
    outcome = sw.click(sw.status_message(), views.ACTION_STOP, user_id=OUTSIDER)
    assert any("may not change" in r for r in outcome.replies)
    assert len(sw.world.services()) == 1


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("launch 36121", "Unknown command"),
        ("start abc", "not a pull request number"),
        ("start 99999", "does not exist"),
        ("start 36000", "merged"),
        ("start 36121 zzzzzzz", "not a commit SHA"),
        ("start 36121 abcdef1", "not a commit of #36121"),
        ("ttl 36121 5d", "not a TTL"),
        ("stop 36121 please", "unexpected words"),
    ],
)
def test_bad_input_gets_ephemeral_message_and_changes_nothing(
    slack_world: SlackWorld, text: str, says: str
) -> None:
    outcome = slack_world.command(text)
    answers = [outcome.response.text, *outcome.replies]
    assert any(says in a for a in answers), answers
    assert any("Usage" in a for a in answers)
    nothing_changed(slack_world)
    nothing_changed(slack_world, 36000)
    assert slack_world.slack.channel_messages("C0SHOWTIME") == []


def test_help_is_ephemeral_in_the_ack(slack_world: SlackWorld) -> None:
    outcome = slack_world.command("")
    assert "Usage" in outcome.response.text and "/showtime start" in outcome.response.text


def test_repeated_delivery_and_double_click_make_one_job(slack_world: SlackWorld) -> None:
    sw = slack_world
    request = sw.requester.build_slash_command("start 36121")
    first = sw.requester.send(request)
    retried = sw.requester.send(
        dataclasses.replace(request, headers={**request.headers, "X-Slack-Retry-Num": "1"})
    )
    assert first.status_code == retried.status_code == 200
    sw.send(first)
    assert len(sw.bot.store.recent(limit=10)) == 1
    message = sw.status_message()
    # A double click: both presses come from the same version of the message.
    snapshot = sw.slack.message(message["channel"], message["ts"])
    first_click = sw.requester.click(snapshot, views.ACTION_STOP)
    second_click = sw.requester.click(snapshot, views.ACTION_STOP)
    sw.send(first_click)
    sw.send(second_click)
    stops = [j for j in sw.bot.store.recent(limit=10) if j.kind == "stop"]
    assert len(stops) == 1
    said = [r["text"] for r in sw.slack.responses()]
    assert any("already" in text for text in said), said


def test_channel_the_bot_is_not_in_gets_instructions(slack_world: SlackWorld) -> None:
    sw = slack_world
    outcome = sw.command("start 36121", channel_id="C0PRIVATE")
    assert any("/invite @showtime" in r for r in outcome.replies), outcome.replies
    nothing_changed(sw)


def test_status_and_list_are_ephemeral(slack_world: SlackWorld) -> None:
    sw = slack_world
    sw.command("start 36121")
    status = sw.command("status 36121")
    assert any("Status of #36121" in r for r in status.replies)
    listed = sw.command("list")
    assert listed.replies
    responses = sw.slack.responses()
    assert responses and all(r["response_type"] == "ephemeral" for r in responses)
    # Only the asker saw them: nothing of either answer reached the channel.
    channel = [str(m.get("text")) for m in sw.slack.channel_messages("C0SHOWTIME")]
    assert not [t for t in channel if "Status of" in t or "environment" in t]


def test_status_of_a_pr_without_environment_suggests_a_start_only_while_it_is_open(
    slack_world: SlackWorld,
) -> None:
    import json

    sw = slack_world
    sw.command("status 36121")
    assert "Start one with `/showtime start 36121`" in json.dumps(sw.slack.responses()[-1])
    sw.world.github_standin.close_pr(36121)
    sw.command("status 36121")
    closed = json.dumps(sw.slack.responses()[-1], ensure_ascii=False)
    assert "No environment." in closed and "closed" in closed
    assert "/showtime start" not in closed  # it would be refused: the PR is closed


@pytest.mark.parametrize("count", [200, 1500])
def test_a_long_list_fits_slack_limits_and_says_what_it_leaves_out(
    slack_world: SlackWorld, count: int
) -> None:
    from datetime import UTC, datetime, timedelta

    from bot.orchestrator.inventory import EnvView

    now = datetime(2026, 3, 2, tzinfo=UTC)
    views_ = [
        EnvView(
            pr=30000 + i,
            sha=f"{i:07x}",
            status="running",
            active=True,
            url=f"http://198.51.100.{i % 250}:8080",
            requester=f"user-{i}",
            created=now - timedelta(hours=i % 40),
            ttl="48h",
            expires=now + timedelta(hours=8),
            service=f"pr-{30000 + i}-{i:07x}-service",
            ecs_status="ACTIVE",
            mismatch=None,
            pr_url=f"https://github.com/apache/superset/pull/{30000 + i}",
        )
        for i in range(count)
    ]
    blocks = views.list_blocks(views_, now)
    assert block_kit_problems(blocks) == []
    # The stand-in (which rejects what Slack rejects) accepts it.
    posted = slack_world.bot.client.chat_postMessage(
        channel="C0SHOWTIME", text="list", blocks=blocks
    )
    assert posted["ok"]
    text = json.dumps(blocks, ensure_ascii=False)
    shown = sum(f"#{30000 + i}" in text for i in range(count))
    more = re.search(r"… and (\d+) more", text)
    if shown == count:
        assert more is None
    else:  # truncated: the count names exactly what is missing
        assert more is not None and int(more.group(1)) == count - shown
    assert shown >= min(count, 200)  # 200 environments all fit


def test_healthz(slack_world: SlackWorld) -> None:
    import json
    from urllib.request import urlopen

    with urlopen(f"http://127.0.0.1:{slack_world.server.port}/healthz") as answer:
        body = json.load(answer)
    assert body["ok"] is True and body["mode"] == "http"


def test_expiry_warning_in_thread_with_an_extend_button_that_works(slack_world: SlackWorld) -> None:
    from datetime import timedelta

    sw = slack_world
    sw.command("start 36121")
    message = sw.status_message()
    sw.world.clock.advance(timedelta(hours=47, minutes=30).total_seconds())
    sw.bot.orchestrator.sweep()
    thread = sw.slack.thread(message["channel"], message["ts"])
    warning = next(m for m in thread if "expires in" in m["text"])
    assert "Extend" in str(warning["blocks"])
    outcome = sw.click(warning, views.ACTION_EXTEND)
    assert outcome.jobs[0].state.value == "succeeded"
    assert "🎪 ⌛ 72h" in sw.world.labels()
    sw.bot.orchestrator.sweep()  # one warning per environment and expiry
    again = [
        m for m in sw.slack.thread(message["channel"], message["ts"]) if "expires in" in m["text"]
    ]
    assert len(again) == 1


def test_cleanup_from_slack(slack_world: SlackWorld) -> None:
    sw = slack_world
    sw.command("start 36121")
    sw.world.github_standin.close_pr(36121)
    dry = sw.command("cleanup --dry-run")
    assert any("#36121 is closed" in r for r in dry.replies)
    assert len(sw.world.services()) == 1
    done = sw.command("cleanup")
    assert done.jobs and all(j.state.value == "succeeded" for j in done.jobs if j.kind == "cleanup")
    assert sw.world.services() == [] and sw.world.showtime_labels() == []


def test_button_on_an_ephemeral_status_without_a_thread_posts_no_status_message(
    slack_world: SlackWorld,
) -> None:
    sw = slack_world
    sw.world.start()  # started elsewhere (the CLI, say): no Slack thread exists for the PR
    status = sw.command("status 36121")
    answer = next(r for r in sw.slack.responses() if "Status of #36121" in r["text"])
    assert answer["is_ephemeral"] and status.replies
    outcome = sw.click(answer, views.ACTION_FREEZE)
    assert outcome.jobs[0].state.value == "succeeded"
    assert "🎪 🧊 showtime-freeze" in sw.world.labels()
    assert sw.slack.channel_messages("C0SHOWTIME") == []  # only slash commands make those
    said = [r["text"] for r in sw.slack.responses(outcome.jobs[0].params.response_url)]
    assert any("frozen" in text for text in said)


def test_the_route_is_404_without_a_secret(slack_world: SlackWorld) -> None:
    from urllib.error import HTTPError
    from urllib.request import Request, urlopen

    port = slack_world.server.port
    request = Request(f"http://127.0.0.1:{port}/github/webhook", data=b"{}", method="POST")
    with pytest.raises(HTTPError) as refused:
        urlopen(request, timeout=5)
    assert refused.value.code == 404
