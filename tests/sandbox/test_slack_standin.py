"""The Slack stand-in, driven by the real ``slack_sdk.WebClient`` the bot uses."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import builtin_handlers
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.webhook import WebhookClient

from bot.clock import FakeClock
from bot.errors import WaitTimeoutError
from bot.sandbox.slack import (
    BOT_USER_ID,
    DEFAULT_CHANNEL,
    MAINTAINER_USER_ID,
    PRIVATE_CHANNEL,
    SlackChange,
    SlackStandIn,
    block_kit_problems,
)


@pytest.fixture
def standin() -> Iterator[SlackStandIn]:
    with SlackStandIn() as running:
        yield running


@pytest.fixture
def client(standin: SlackStandIn) -> WebClient:
    return WebClient(token=standin.bot_token, base_url=standin.api_url)


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def button(label: str, action_id: str, value: str = "36121") -> dict[str, Any]:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": label},
        "action_id": action_id,
        "value": value,
    }


def slack_error(call: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(SlackApiError) as raised:
        call(*args, **kwargs)
    return str(raised.value.response["error"])


# -- auth ------------------------------------------------------------------------------------


def test_auth_test_names_the_bot_and_the_workspace(client: WebClient) -> None:
    answer = client.auth_test()
    assert answer["user_id"] == BOT_USER_ID
    assert answer["user"] == "showtime"
    assert answer["team_id"] == "T0SANDBOX"
    assert answer["bot_id"]


def test_a_wrong_or_missing_token_is_refused(standin: SlackStandIn) -> None:
    wrong = WebClient(token="xoxb-wrong", base_url=standin.api_url)
    assert slack_error(wrong.chat_postMessage, channel=DEFAULT_CHANNEL, text="x") == "invalid_auth"
    missing = WebClient(base_url=standin.api_url)
    assert slack_error(missing.auth_test) == "not_authed"
    assert standin.channel_messages() == []


def test_the_valid_token_is_configurable() -> None:
    with SlackStandIn(bot_token="xoxb-custom") as custom:
        assert WebClient(token="xoxb-custom", base_url=custom.api_url).auth_test()["ok"]
        default = WebClient(token="xoxb-sandbox-showtime", base_url=custom.api_url)
        assert slack_error(default.auth_test) == "invalid_auth"


# -- posting, threads, edits -------------------------------------------------------------------


def test_posted_message_appears_in_the_channel_with_its_blocks(
    standin: SlackStandIn, client: WebClient
) -> None:
    blocks = [
        section("*PR 36121* deploying"),
        {"type": "actions", "elements": [button("Stop", "stop")]},
    ]
    posted = client.chat_postMessage(
        channel=DEFAULT_CHANNEL, text="PR 36121 deploying", blocks=blocks
    )

    [message] = standin.channel_messages(DEFAULT_CHANNEL)
    assert message["ts"] == posted["ts"]
    assert message["text"] == "PR 36121 deploying"
    assert message["blocks"][0]["text"]["text"] == "*PR 36121* deploying"
    assert message["blocks"][1]["elements"][0]["action_id"] == "stop"
    assert all(block["block_id"] for block in message["blocks"])
    assert posted["message"]["blocks"] == message["blocks"]


def test_form_encoded_blocks_are_read_like_json_ones(
    standin: SlackStandIn, client: WebClient
) -> None:
    # WebClient sends chat.* as JSON; other callers send forms with blocks JSON-encoded.
    client.api_call(
        "chat.postMessage",
        params={"channel": DEFAULT_CHANNEL, "text": "form", "blocks": json.dumps([section("hi")])},
    )
    [message] = standin.channel_messages()
    assert message["blocks"][0]["text"]["text"] == "hi"


def test_multipart_bodies_are_accepted(standin: SlackStandIn, client: WebClient) -> None:
    client.api_call("chat.postMessage", data={"channel": DEFAULT_CHANNEL, "text": "multipart"})
    assert [m["text"] for m in standin.channel_messages()] == ["multipart"]


def test_channel_may_be_named_instead_of_identified(
    standin: SlackStandIn, client: WebClient
) -> None:
    assert client.chat_postMessage(channel="#showtime", text="hi")["channel"] == DEFAULT_CHANNEL
    assert len(standin.channel_messages(DEFAULT_CHANNEL)) == 1


def test_timestamps_are_unique_and_increasing_even_under_concurrency(
    standin: SlackStandIn,
) -> None:
    frozen = FakeClock()  # a clock that never moves must still give distinct ts
    with SlackStandIn(clock=frozen) as still:
        client = WebClient(token=still.bot_token, base_url=still.api_url)
        results: list[str] = []
        lock = threading.Lock()

        def post(n: int) -> None:
            ts = client.chat_postMessage(channel=DEFAULT_CHANNEL, text=f"m{n}")["ts"]
            with lock:
                results.append(ts)

        threads = [threading.Thread(target=post, args=(n,)) for n in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        stored = [m["ts"] for m in still.channel_messages()]
    assert len(set(results)) == 20
    assert sorted(results, key=lambda ts: tuple(map(int, ts.split(".")))) == stored
    assert all(len(ts.split(".")[1]) == 6 for ts in stored)
    assert str(int(frozen.now().timestamp())) == stored[0].split(".")[0]


def test_thread_replies_stay_out_of_the_channel_and_keep_their_order(
    standin: SlackStandIn, client: WebClient
) -> None:
    parent = client.chat_postMessage(channel=DEFAULT_CHANNEL, text="status")["ts"]
    for step in ("claim", "register", "create"):
        client.chat_postMessage(channel=DEFAULT_CHANNEL, thread_ts=parent, text=step)

    assert [m["text"] for m in standin.channel_messages()] == ["status"]
    assert standin.channel_messages()[0]["reply_count"] == 3
    replies = standin.thread(DEFAULT_CHANNEL, parent)
    assert [r["text"] for r in replies] == ["claim", "register", "create"]
    assert all(r["thread_ts"] == parent for r in replies)


def test_a_reply_to_an_unknown_thread_lands_in_the_channel(
    standin: SlackStandIn, client: WebClient
) -> None:
    client.chat_postMessage(channel=DEFAULT_CHANNEL, thread_ts="1.000001", text="lost reply")
    assert [m["text"] for m in standin.channel_messages()] == ["lost reply"]


def test_update_replaces_the_message_in_place_and_counts_edits(
    standin: SlackStandIn, client: WebClient
) -> None:
    ts = client.chat_postMessage(channel=DEFAULT_CHANNEL, text="deploying", blocks=[section("a")])[
        "ts"
    ]
    client.chat_update(channel=DEFAULT_CHANNEL, ts=ts, text="still deploying")
    updated = client.chat_update(
        channel=DEFAULT_CHANNEL, ts=ts, text="running", blocks=[section("b")]
    )

    [message] = standin.channel_messages()
    assert updated["ts"] == ts
    assert message["text"] == "running"
    assert message["blocks"][0]["text"]["text"] == "b"
    assert message["edit_count"] == 2
    assert message["edited"]["user"] == BOT_USER_ID


def test_update_without_blocks_keeps_the_previous_blocks(
    standin: SlackStandIn, client: WebClient
) -> None:
    ts = client.chat_postMessage(channel=DEFAULT_CHANNEL, text="x", blocks=[section("kept")])["ts"]
    client.chat_update(channel=DEFAULT_CHANNEL, ts=ts, text="new text")
    assert standin.channel_messages()[0]["blocks"][0]["text"]["text"] == "kept"
    client.chat_update(channel=DEFAULT_CHANNEL, ts=ts, text="no blocks", blocks=[])
    assert standin.channel_messages()[0]["blocks"] == []


def test_update_of_an_unknown_message_is_message_not_found(client: WebClient) -> None:
    error = slack_error(client.chat_update, channel=DEFAULT_CHANNEL, ts="1.000001", text="x")
    assert error == "message_not_found"


def test_delete_removes_the_message(standin: SlackStandIn, client: WebClient) -> None:
    ts = client.chat_postMessage(channel=DEFAULT_CHANNEL, text="bye")["ts"]
    client.chat_delete(channel=DEFAULT_CHANNEL, ts=ts)
    assert standin.channel_messages() == []
    assert slack_error(client.chat_delete, channel=DEFAULT_CHANNEL, ts=ts) == "message_not_found"


def test_find_message_returns_the_latest_match_in_text_or_blocks(
    standin: SlackStandIn, client: WebClient
) -> None:
    client.chat_postMessage(channel=DEFAULT_CHANNEL, text="PR 1 running")
    client.chat_postMessage(
        channel=DEFAULT_CHANNEL, text="fallback", blocks=[section("PR 2 running")]
    )
    found = standin.find_message("running")
    assert found is not None
    assert found["text"] == "fallback"
    assert standin.find_message("nothing like this") is None


def test_permalink_points_at_the_message_and_its_thread(client: WebClient) -> None:
    parent = client.chat_postMessage(channel=DEFAULT_CHANNEL, text="status")["ts"]
    reply = client.chat_postMessage(channel=DEFAULT_CHANNEL, text="step", thread_ts=parent)["ts"]

    top = client.chat_getPermalink(channel=DEFAULT_CHANNEL, message_ts=parent)["permalink"]
    nested = client.chat_getPermalink(channel=DEFAULT_CHANNEL, message_ts=reply)["permalink"]
    assert top.endswith(f"/archives/{DEFAULT_CHANNEL}/p{parent.replace('.', '')}")
    assert f"thread_ts={parent}" in nested
    error = slack_error(client.chat_getPermalink, channel=DEFAULT_CHANNEL, message_ts="1.000001")
    assert error == "message_not_found"


# -- where the bot may post --------------------------------------------------------------------


def test_unknown_channel_is_channel_not_found(client: WebClient) -> None:
    assert slack_error(client.chat_postMessage, channel="C0NOPE", text="x") == "channel_not_found"


def test_public_channel_without_the_bot_is_not_in_channel_until_invited(
    standin: SlackStandIn, client: WebClient
) -> None:
    standin.add_channel("C0OTHER", "other", member=False)
    assert slack_error(client.chat_postMessage, channel="C0OTHER", text="x") == "not_in_channel"
    assert standin.channel_messages("C0OTHER") == []

    standin.add_member("C0OTHER", BOT_USER_ID)  # /invite @showtime
    client.chat_postMessage(channel="C0OTHER", text="x")
    assert len(standin.channel_messages("C0OTHER")) == 1


def test_private_channel_without_the_bot_does_not_exist_for_it(client: WebClient) -> None:
    # Slack hides private channels from non-members: channel_not_found, not not_in_channel.
    assert slack_error(client.chat_postMessage, channel=PRIVATE_CHANNEL, text="x") == (
        "channel_not_found"
    )
    assert slack_error(client.conversations_info, channel=PRIVATE_CHANNEL) == "channel_not_found"


def test_conversations_info_reports_membership_and_privacy(
    standin: SlackStandIn, client: WebClient
) -> None:
    standin.add_channel("C0OTHER", "other", member=False)
    showtime = client.conversations_info(channel=DEFAULT_CHANNEL)["channel"]
    other = client.conversations_info(channel="C0OTHER")["channel"]
    assert (showtime["name"], showtime["is_member"], showtime["is_private"]) == (
        "showtime",
        True,
        False,
    )
    assert other["is_member"] is False


# -- ephemerals ------------------------------------------------------------------------------


def test_ephemeral_is_kept_per_channel_and_user(standin: SlackStandIn, client: WebClient) -> None:
    standin.add_user("U0OTHER", "other")
    client.chat_postEphemeral(channel=DEFAULT_CHANNEL, user=MAINTAINER_USER_ID, text="only you")
    client.chat_postEphemeral(channel=DEFAULT_CHANNEL, user="U0OTHER", text="only other")

    [mine] = standin.ephemerals(DEFAULT_CHANNEL, MAINTAINER_USER_ID)
    assert mine["text"] == "only you"
    assert [e["text"] for e in standin.ephemerals(user="U0OTHER")] == ["only other"]
    assert standin.channel_messages() == []


def test_ephemeral_to_someone_outside_the_channel_is_refused(
    standin: SlackStandIn, client: WebClient
) -> None:
    standin.add_user("U0AWAY", "away", channels=())
    error = slack_error(client.chat_postEphemeral, channel=DEFAULT_CHANNEL, user="U0AWAY", text="x")
    assert error == "user_not_in_channel"


def test_ephemeral_where_the_bot_is_not_is_refused(
    standin: SlackStandIn, client: WebClient
) -> None:
    standin.add_channel("C0OTHER", "other", member=False, users=[MAINTAINER_USER_ID])
    error = slack_error(
        client.chat_postEphemeral, channel="C0OTHER", user=MAINTAINER_USER_ID, text="x"
    )
    assert error == "not_in_channel"
    assert standin.ephemerals() == []


# -- users and groups --------------------------------------------------------------------------


def test_users_info_and_usergroup_members(standin: SlackStandIn, client: WebClient) -> None:
    standin.add_user("U0ALICE", "alice", "Alice Liddell")
    standin.add_usergroup("S0DEPLOYERS", ["U0ALICE", MAINTAINER_USER_ID])

    alice = client.users_info(user="U0ALICE")["user"]
    assert (alice["name"], alice["real_name"]) == ("alice", "Alice Liddell")
    assert client.usergroups_users_list(usergroup="S0DEPLOYERS")["users"] == [
        "U0ALICE",
        MAINTAINER_USER_ID,
    ]
    assert slack_error(client.users_info, user="U0NOBODY") == "user_not_found"
    assert slack_error(client.usergroups_users_list, usergroup="S0NONE") == "no_such_subteam"


# -- what Slack rejects ------------------------------------------------------------------------


def test_fifty_blocks_pass_and_fifty_one_fail(standin: SlackStandIn, client: WebClient) -> None:
    client.chat_postMessage(channel=DEFAULT_CHANNEL, text="50", blocks=[section("x")] * 50)
    error = slack_error(
        client.chat_postMessage, channel=DEFAULT_CHANNEL, text="51", blocks=[section("x")] * 51
    )
    assert error == "invalid_blocks"
    assert [m["text"] for m in standin.channel_messages()] == ["50"]


@pytest.mark.parametrize(
    ("blocks", "valid"),
    [
        ([section("x" * 3000)], True),
        ([section("x" * 3001)], False),
        ([{"type": "context", "elements": [{"type": "mrkdwn", "text": "x" * 3000}]}], True),
        ([{"type": "context", "elements": [{"type": "mrkdwn", "text": "x" * 3001}]}], False),
        ([{"type": "actions", "elements": [button("x" * 75, "a")]}], True),
        ([{"type": "actions", "elements": [button("x" * 76, "a")]}], False),
        ([{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}], False),
        ([section("")], False),
        ([{"type": "actions", "elements": [button("a", "same"), button("b", "same")]}], False),
        ([{"type": "no_such_block"}], False),
    ],
)
def test_block_kit_limits(client: WebClient, blocks: list[dict[str, Any]], valid: bool) -> None:
    assert (block_kit_problems(blocks) == []) is valid
    if valid:
        assert client.chat_postMessage(channel=DEFAULT_CHANNEL, text="t", blocks=blocks)["ok"]
    else:
        error = slack_error(
            client.chat_postMessage, channel=DEFAULT_CHANNEL, text="t", blocks=blocks
        )
        assert error == "invalid_blocks"


def test_invalid_blocks_say_where_the_problem_is(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel=DEFAULT_CHANNEL, text="t", blocks=[section("x" * 3001)])
    [message] = raised.value.response["response_metadata"]["messages"]
    assert "/blocks/0/text/text" in message


def test_blocks_that_are_not_json_are_refused(client: WebClient) -> None:
    error = slack_error(
        client.api_call,
        "chat.postMessage",
        params={"channel": DEFAULT_CHANNEL, "text": "t", "blocks": "[not json"},
    )
    assert error == "invalid_blocks_format"


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
def test_every_method_with_content_validates_it(client: WebClient) -> None:
    ts = client.chat_postMessage(channel=DEFAULT_CHANNEL, text="ok")["ts"]
    too_many = [section("x")] * 51
    assert slack_error(client.chat_update, channel=DEFAULT_CHANNEL, ts=ts, blocks=too_many) == (
        "invalid_blocks"
    )
    error = slack_error(
        client.chat_postEphemeral, channel=DEFAULT_CHANNEL, user=MAINTAINER_USER_ID, text=""
    )
    assert error == "no_text"


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
def test_a_message_needs_text_or_blocks(client: WebClient) -> None:
    assert slack_error(client.chat_postMessage, channel=DEFAULT_CHANNEL) == "no_text"
    assert slack_error(client.chat_postMessage, channel=DEFAULT_CHANNEL, text="") == "no_text"


def test_top_level_text_is_limited_to_40000_characters(client: WebClient) -> None:
    assert client.chat_postMessage(channel=DEFAULT_CHANNEL, text="x" * 40000)["ok"]
    error = slack_error(client.chat_postMessage, channel=DEFAULT_CHANNEL, text="x" * 40001)
    assert error == "msg_too_long"


def test_unknown_method_is_reported(client: WebClient) -> None:
    assert slack_error(client.api_call, "chat.noSuchThing") == "unknown_method"


# -- rate limits, call counts, injected failures -------------------------------------------------


def test_rate_limited_calls_are_retried_after_retry_after(
    standin: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    slept: list[float] = []

    class NoWait:
        @staticmethod
        def sleep(seconds: float) -> None:
            slept.append(seconds)

    # The handler sleeps Retry-After (+ jitter) on the real clock; record instead of waiting.
    monkeypatch.setattr(builtin_handlers, "time", NoWait)
    standin.rate_limit("chat.postMessage", times=2, retry_after=3)
    client = WebClient(
        token=standin.bot_token,
        base_url=standin.api_url,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)],
    )

    assert client.chat_postMessage(channel=DEFAULT_CHANNEL, text="eventually")["ok"]
    assert standin.calls["chat.postMessage"] == 3
    assert len(slept) == 2
    assert all(3 <= s < 4 for s in slept)
    assert [m["text"] for m in standin.channel_messages()] == ["eventually"]


def test_rate_limit_without_a_retry_handler_surfaces_429(
    standin: SlackStandIn, client: WebClient
) -> None:
    standin.rate_limit("chat.update", times=1, retry_after=7)
    with pytest.raises(SlackApiError) as raised:
        client.chat_update(channel=DEFAULT_CHANNEL, ts="1.000001", text="x")
    assert raised.value.response.status_code == 429
    assert raised.value.response.headers["Retry-After"] == "7"
    assert raised.value.response["error"] == "ratelimited"
    # Only the next call was limited; this one reaches the method.
    error = slack_error(client.chat_update, channel=DEFAULT_CHANNEL, ts="1.000001", text="x")
    assert error == "message_not_found"


def test_calls_are_counted_per_method_and_can_be_reset(
    standin: SlackStandIn, client: WebClient
) -> None:
    client.auth_test()
    client.chat_postMessage(channel=DEFAULT_CHANNEL, text="a")
    client.chat_postMessage(channel=DEFAULT_CHANNEL, text="b")
    assert standin.calls["chat.postMessage"] == 2
    assert standin.calls["auth.test"] == 1
    standin.reset_calls()
    assert sum(standin.calls.values()) == 0


def test_injected_failure_answers_the_next_calls(standin: SlackStandIn, client: WebClient) -> None:
    standin.fail("chat.postMessage", "fatal_error", times=1)
    assert slack_error(client.chat_postMessage, channel=DEFAULT_CHANNEL, text="x") == "fatal_error"
    assert client.chat_postMessage(channel=DEFAULT_CHANNEL, text="x")["ok"]


# -- response URLs -----------------------------------------------------------------------------


def test_ephemeral_response_is_recorded_for_the_command_user(standin: SlackStandIn) -> None:
    url = standin.new_response_url(DEFAULT_CHANNEL, MAINTAINER_USER_ID)
    answer = WebhookClient(url).send(text="usage: /showtime help", response_type="ephemeral")

    assert (answer.status_code, answer.body) == (200, "ok")
    [response] = standin.responses(url)
    assert response["text"] == "usage: /showtime help"
    assert (response["channel"], response["user"]) == (DEFAULT_CHANNEL, MAINTAINER_USER_ID)
    assert response["is_ephemeral"] is True
    assert standin.channel_messages() == []


def test_in_channel_response_is_seen_by_everyone(standin: SlackStandIn) -> None:
    url = standin.new_response_url()
    WebhookClient(url).send(text="deploying 36121", response_type="in_channel")
    assert [m["text"] for m in standin.channel_messages()] == ["deploying 36121"]


def test_response_url_works_where_the_bot_is_not_a_member(standin: SlackStandIn) -> None:
    url = standin.new_response_url(PRIVATE_CHANNEL, MAINTAINER_USER_ID)
    assert WebhookClient(url).send(text="invite the bot: /invite @showtime").status_code == 200
    assert standin.responses(url)[0]["channel"] == PRIVATE_CHANNEL


def test_replace_original_edits_the_message_the_button_was_on(
    standin: SlackStandIn, client: WebClient
) -> None:
    ts = client.chat_postMessage(channel=DEFAULT_CHANNEL, text="running", blocks=[section("a")])[
        "ts"
    ]
    url = standin.new_response_url(DEFAULT_CHANNEL, MAINTAINER_USER_ID, message_ts=ts)
    WebhookClient(url).send(text="stopping", replace_original=True)

    [message] = standin.channel_messages()
    assert (message["ts"], message["text"], message["blocks"]) == (ts, "stopping", [])
    assert message["edit_count"] == 1


def test_delete_original_removes_the_message(standin: SlackStandIn, client: WebClient) -> None:
    ts = client.chat_postMessage(channel=DEFAULT_CHANNEL, text="bye")["ts"]
    url = standin.new_response_url(DEFAULT_CHANNEL, MAINTAINER_USER_ID, message_ts=ts)
    assert WebhookClient(url).send_dict({"delete_original": True}).status_code == 200
    assert standin.channel_messages() == []


def test_response_url_rejects_what_slack_rejects(standin: SlackStandIn) -> None:
    url = standin.new_response_url()
    empty = WebhookClient(url).send(text="")
    too_many = WebhookClient(url).send(text="t", blocks=[section("x")] * 51)
    unknown = WebhookClient(standin.url + "/response/999999").send(text="x")

    assert (empty.status_code, empty.body) == (400, "no_text")
    assert (too_many.status_code, too_many.body) == (400, "invalid_blocks")
    assert unknown.status_code == 404
    assert standin.responses() == []


def test_response_url_takes_five_posts_within_thirty_minutes() -> None:
    clock = FakeClock()
    with SlackStandIn(clock=clock) as standin:
        url = standin.new_response_url()
        statuses = [WebhookClient(url).send(text=f"{n}").status_code for n in range(6)]
        assert statuses == [200] * 5 + [404]

        fresh = standin.new_response_url()
        clock.advance(31 * 60)
        expired = WebhookClient(fresh).send(text="late")
        assert (expired.status_code, expired.body) == (404, "expired_url")


# -- waiting and watching ----------------------------------------------------------------------


def test_wait_for_returns_as_soon_as_another_thread_posts(
    standin: SlackStandIn, client: WebClient
) -> None:
    poster = threading.Timer(
        0.05, lambda: client.chat_postMessage(channel=DEFAULT_CHANNEL, text="PR 36121 running")
    )
    poster.start()
    try:
        found = standin.wait_for(lambda: standin.find_message("running"), timeout=10)
    finally:
        poster.join()
    assert found["text"] == "PR 36121 running"


def test_wait_for_gives_up_after_the_timeout(standin: SlackStandIn) -> None:
    with pytest.raises(WaitTimeoutError, match="status message"):
        standin.wait_for(lambda: standin.channel_messages(), 0.05, "status message")


def test_subscribers_see_posts_replies_and_edits(standin: SlackStandIn, client: WebClient) -> None:
    seen: list[SlackChange] = []
    unsubscribe = standin.on_change(seen.append)

    ts = client.chat_postMessage(channel=DEFAULT_CHANNEL, text="status")["ts"]
    client.chat_postMessage(channel=DEFAULT_CHANNEL, text="step", thread_ts=ts)
    client.chat_update(channel=DEFAULT_CHANNEL, ts=ts, text="running")
    unsubscribe()
    client.chat_postMessage(channel=DEFAULT_CHANNEL, text="unseen")

    assert [(c.kind, c.message["text"]) for c in seen] == [
        ("message", "status"),
        ("reply", "step"),
        ("edit", "running"),
    ]


def test_a_failing_subscriber_does_not_break_posting(
    standin: SlackStandIn, client: WebClient
) -> None:
    def broken(change: SlackChange) -> None:
        raise RuntimeError("console crashed")

    standin.on_change(broken)
    assert client.chat_postMessage(channel=DEFAULT_CHANNEL, text="still works")["ok"]
    assert len(standin.channel_messages()) == 1


# -- views.publish (the App Home tab) ---------------------------------------------------------


def home(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {"type": "home", "blocks": list(blocks)}


def test_views_publish_keeps_each_users_home_tab(client: WebClient, standin: SlackStandIn) -> None:
    changes: list[SlackChange] = []
    standin.on_change(changes.append)
    answer = client.views_publish(user_id=MAINTAINER_USER_ID, view=home(section("hello")))
    view = answer["view"]
    assert view["type"] == "home" and view["id"].startswith("V") and view["hash"]
    assert view["blocks"][0]["block_id"]  # Slack gives every block an id
    assert standin.home_view(MAINTAINER_USER_ID) == view
    assert [c.kind for c in changes] == ["home"] and changes[0].channel == MAINTAINER_USER_ID
    # Published again with the hash it has: accepted, same view id, a new hash.
    again = client.views_publish(
        user_id=MAINTAINER_USER_ID, view=home(section("again")), hash=view["hash"]
    )["view"]
    assert again["id"] == view["id"] and again["hash"] != view["hash"]
    assert [v["blocks"][0]["text"]["text"] for v in standin.home_views(MAINTAINER_USER_ID)] == [
        "hello",
        "again",
    ]
    # A stale hash loses the race, as in Slack.
    assert (
        slack_error(
            client.views_publish,
            user_id=MAINTAINER_USER_ID,
            view=home(section("late")),
            hash=view["hash"],
        )
        == "hash_conflict"
    )
    assert standin.home_view("U0NOBODY") is None


def test_views_publish_refuses_what_slack_refuses(client: WebClient, standin: SlackStandIn) -> None:
    def problems(**kwargs: Any) -> tuple[str, list[str]]:
        with pytest.raises(SlackApiError) as raised:
            client.views_publish(**kwargs)
        response = raised.value.response
        return str(response["error"]), list(
            (response.get("response_metadata") or {}).get("messages") or []
        )

    many = home(*(section(f"line {n}") for n in range(101)))
    error, messages = problems(user_id=MAINTAINER_USER_ID, view=many)
    assert error == "invalid_arguments"
    assert messages == ["[ERROR] no more than 100 items allowed [json-pointer:/view/blocks]"]
    # A hundred is fine: a Home tab takes twice a message's blocks.
    client.views_publish(user_id=MAINTAINER_USER_ID, view=home(*many["blocks"][:100]))

    error, messages = problems(user_id=MAINTAINER_USER_ID, view=home(section("x" * 3001)))
    assert error == "invalid_arguments"
    assert messages == [
        "[ERROR] must be less than 3001 characters [json-pointer:/view/blocks/0/text/text]"
    ]
    error, messages = problems(
        user_id=MAINTAINER_USER_ID, view={"type": "modal", "blocks": [section("x")]}
    )
    assert (error, messages) == (
        "invalid_arguments",
        ["[ERROR] must be one of: home [json-pointer:/view/type]"],
    )
    assert problems(user_id="U0NOBODY", view=home(section("x")))[0] == "user_not_found"
    assert problems(user_id="", view=home(section("x")))[0] == "invalid_arguments"
    huge = home(*(section("y" * 2900) for _ in range(99)))
    assert problems(user_id=MAINTAINER_USER_ID, view=huge)[0] == "view_too_large"
    standin.home_tab_enabled = False
    assert problems(user_id=MAINTAINER_USER_ID, view=home(section("x")))[0] == "not_enabled"
