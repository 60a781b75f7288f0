"""The Slack stand-in's direct messages and modals, and the requester's modal submissions,
checked against what Slack does (SPEC §16: DMs, "Start an environment" from the Home tab)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import pytest
from slack_bolt import Ack, App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.clock import FakeClock
from bot.errors import UserInputError
from bot.sandbox.serving import LoopbackServer
from bot.sandbox.slack import DEFAULT_CHANNEL, MAINTAINER_USER_ID, SlackStandIn
from bot.sandbox.slack_client import SlackRequester

SECRET = "modal-test-signing-secret"
OTHER = "U0OTHER"

HOME = {
    "type": "home",
    "blocks": [
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Start an environment"},
                    "action_id": "start_env",
                }
            ],
        }
    ],
}


def start_modal(**changes: Any) -> dict[str, Any]:
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": "start_modal",
        "title": {"type": "plain_text", "text": "Start an environment"},
        "submit": {"type": "plain_text", "text": "Start"},
        "blocks": [
            {
                "type": "input",
                "block_id": "pr",
                "label": {"type": "plain_text", "text": "PR number or URL"},
                "element": {"type": "plain_text_input", "action_id": "pr_value"},
            },
            {
                "type": "input",
                "block_id": "ttl",
                "optional": True,
                "label": {"type": "plain_text", "text": "TTL"},
                "element": {
                    "type": "static_select",
                    "action_id": "ttl_value",
                    "options": [
                        {"text": {"type": "plain_text", "text": t}, "value": t}
                        for t in ("24h", "48h", "1w")
                    ],
                },
            },
        ],
    }
    view.update(changes)
    return view


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def standin(clock: FakeClock) -> Iterator[SlackStandIn]:
    with SlackStandIn(clock=clock) as running:
        running.add_user(OTHER, "other")
        yield running


@pytest.fixture
def client(standin: SlackStandIn) -> WebClient:
    return WebClient(token=standin.bot_token, base_url=standin.api_url)


def error_of(call: Any) -> str:
    with pytest.raises(SlackApiError) as caught:
        call()
    return str(caught.value.response["error"])


def home_trigger(standin: SlackStandIn, client: WebClient, user: str = MAINTAINER_USER_ID) -> str:
    """The trigger_id Slack sends with a press on the Home tab (nothing is sent here)."""
    view = client.views_publish(user_id=user, view=HOME)["view"]
    requester = SlackRequester("http://127.0.0.1:9/slack/events", SECRET, standin)
    request = requester.build_home_click(view, "start_env", user)
    return str(json.loads(parse_qs(request.body)["payload"][0])["trigger_id"])


# -- tokens --------------------------------------------------------------------------------------


def test_auth_test_refuses_a_token_that_is_not_the_bots(standin: SlackStandIn) -> None:
    wrong = WebClient(token="xoxb-not-the-one", base_url=standin.api_url)
    assert error_of(wrong.auth_test) == "invalid_auth"
    app_token = WebClient(token=standin.app_token, base_url=standin.api_url)
    assert error_of(app_token.auth_test) == "not_allowed_token_type"


# -- direct messages ----------------------------------------------------------------------------


def test_conversations_open_gives_one_dm_per_person(
    standin: SlackStandIn, client: WebClient
) -> None:
    first = client.conversations_open(users=MAINTAINER_USER_ID)
    again = client.conversations_open(users=MAINTAINER_USER_ID)
    other = client.conversations_open(users=OTHER, return_im=True)

    dm = first["channel"]["id"]
    assert dm.startswith("D") and again["channel"]["id"] == dm and again["already_open"]
    assert other["channel"]["id"] != dm and other["channel"]["is_im"]
    assert other["channel"]["user"] == OTHER
    assert error_of(lambda: client.conversations_open(users="U0NOBODY")) == "user_not_found"
    assert error_of(lambda: client.conversations_open(users="")) == "users_list_not_supplied"


def test_posting_to_a_user_id_lands_in_their_dm(standin: SlackStandIn, client: WebClient) -> None:
    by_user = client.chat_postMessage(channel=MAINTAINER_USER_ID, text="#36121 is ready")
    dm = client.conversations_open(users=MAINTAINER_USER_ID)["channel"]["id"]
    by_dm = client.chat_postMessage(channel=dm, text="#36121 expires in an hour")

    assert by_user["channel"] == dm == by_dm["channel"]
    assert [m["text"] for m in standin.direct_messages(MAINTAINER_USER_ID)] == [
        "#36121 is ready",
        "#36121 expires in an hour",
    ]
    assert standin.direct_messages(OTHER) == []
    assert standin.channel_messages(DEFAULT_CHANNEL) == []  # nothing in the channel
    thread = client.chat_postMessage(channel=dm, thread_ts=by_dm["ts"], text="details")
    assert standin.thread(dm, by_dm["ts"])[0]["ts"] == thread["ts"]


def test_posting_to_an_unknown_user_is_channel_not_found(client: WebClient) -> None:
    assert error_of(lambda: client.chat_postMessage(channel="U0NOBODY", text="hi")) == (
        "channel_not_found"
    )


# -- modals ------------------------------------------------------------------------------------


def test_a_home_tab_trigger_opens_a_modal_for_the_presser(
    standin: SlackStandIn, client: WebClient
) -> None:
    trigger = home_trigger(standin, client, OTHER)
    opened = client.views_open(trigger_id=trigger, view=start_modal())["view"]

    assert opened["id"].startswith("V") and opened["type"] == "modal"
    assert opened["title"]["text"] == "Start an environment"
    assert [b["block_id"] for b in opened["blocks"]] == ["pr", "ttl"]
    assert standin.modal(OTHER) == opened
    assert standin.modal(MAINTAINER_USER_ID) is None


def test_a_trigger_is_good_once_and_for_three_seconds(
    standin: SlackStandIn, client: WebClient, clock: FakeClock
) -> None:
    used = home_trigger(standin, client)
    client.views_open(trigger_id=used, view=start_modal())
    assert error_of(lambda: client.views_open(trigger_id=used, view=start_modal())) == (
        "exchanged_trigger_id"
    )

    late = home_trigger(standin, client)
    clock.advance(3.1)
    assert error_of(lambda: client.views_open(trigger_id=late, view=start_modal())) == (
        "expired_trigger_id"
    )
    made_up = "12345.98765.abcd2358fdea"
    assert error_of(lambda: client.views_open(trigger_id=made_up, view=start_modal())) == (
        "invalid_trigger_id"
    )


@pytest.mark.parametrize(
    ("view", "pointer"),
    [
        (start_modal(title={"type": "plain_text", "text": "x" * 25}), "/view/title/text"),
        (start_modal(title={"type": "mrkdwn", "text": "Start"}), "/view/title"),
        ({k: v for k, v in start_modal().items() if k != "submit"}, "/view/submit"),
        (start_modal(type="home"), "/view/type"),
        (
            start_modal(blocks=[{"type": "divider"}] * 101, submit=None),
            "/view/blocks",
        ),
        (start_modal(callback_id="c" * 256), "/view/callback_id"),
    ],
    ids=["long-title", "mrkdwn-title", "inputs-without-submit", "not-a-modal", "101-blocks", "id"],
)
def test_views_open_refuses_what_slack_refuses(
    standin: SlackStandIn, client: WebClient, view: dict[str, Any], pointer: str
) -> None:
    view = {k: v for k, v in view.items() if v is not None}
    trigger = home_trigger(standin, client)
    with pytest.raises(SlackApiError) as caught:
        client.views_open(trigger_id=trigger, view=view)
    assert caught.value.response["error"] == "invalid_arguments"
    messages = caught.value.response["response_metadata"]["messages"]
    assert any(f"[json-pointer:{pointer}]" in m for m in messages), messages
    assert standin.modal(MAINTAINER_USER_ID) is None
    # A refused view does not spend the trigger.
    assert client.views_open(trigger_id=trigger, view=start_modal())["ok"]


def test_views_update_replaces_the_open_modal(standin: SlackStandIn, client: WebClient) -> None:
    opened = client.views_open(trigger_id=home_trigger(standin, client), view=start_modal())["view"]
    changed = start_modal(title={"type": "plain_text", "text": "Starting…"})
    updated = client.views_update(view_id=opened["id"], hash=opened["hash"], view=changed)["view"]

    assert updated["id"] == opened["id"] and updated["hash"] != opened["hash"]
    assert standin.modal(MAINTAINER_USER_ID) == updated
    stale = lambda: client.views_update(view_id=opened["id"], hash=opened["hash"], view=changed)  # noqa: E731
    assert error_of(stale) == "hash_conflict"
    assert error_of(lambda: client.views_update(view_id="V0NOPE", view=changed)) == "not_found"


# -- submissions, against a real Bolt app ---------------------------------------------------------


@pytest.fixture
def bolt(standin: SlackStandIn) -> Iterator[SlackRequester]:
    """A minimal Bolt app: the Home tab's button opens the modal; its submission is checked
    field by field, then confirmed in a DM."""
    app = App(
        signing_secret=SECRET,
        client=WebClient(token=standin.bot_token, base_url=standin.api_url),
    )

    @app.action("start_env")
    def open_modal(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        client.views_open(trigger_id=body["trigger_id"], view=start_modal())

    @app.view("start_modal")
    def submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        values = view["state"]["values"]
        pr = values["pr"]["pr_value"]["value"]
        if not pr.isdigit():
            ack(response_action="errors", errors={"pr": f"{pr!r} is not a PR number"})
            return
        ack()
        ttl = (values["ttl"]["ttl_value"]["selected_option"] or {}).get("value", "48h")
        client.chat_postMessage(channel=body["user"]["id"], text=f"starting #{pr} for {ttl}")

    server = LoopbackServer(SlackRequestHandler(app), "Bolt app")
    url = server.start()
    with SlackRequester(f"{url}/slack/events", SECRET, standin) as requester:
        yield requester
    server.stop()


def test_a_submission_with_errors_keeps_the_modal_and_a_good_one_closes_it(
    bolt: SlackRequester, standin: SlackStandIn, client: WebClient
) -> None:
    home = client.views_publish(user_id=OTHER, view=HOME)["view"]
    assert bolt.click_home(home, "start_env", OTHER).ok
    modal = standin.wait_for(lambda: standin.modal(OTHER), description="the modal to open")
    assert modal is not None

    refused = bolt.submit_view(OTHER, modal, {"pr": "next week"})
    assert refused.action == "errors" and not refused.closed
    assert refused.errors == {"pr": "'next week' is not a PR number"}
    assert standin.modal(OTHER) == modal

    accepted = bolt.submit_view(OTHER, modal, {"pr_value": "36121", "ttl": "1w"})
    assert accepted.closed and accepted.response.text == ""
    assert standin.modal(OTHER) is None
    dms = standin.wait_for(lambda: standin.direct_messages(OTHER), description="the DM")
    assert dms[0]["text"] == "starting #36121 for 1w"


def test_a_submission_carries_slacks_state_values(standin: SlackStandIn, client: WebClient) -> None:
    opened = client.views_open(trigger_id=home_trigger(standin, client), view=start_modal())["view"]
    requester = SlackRequester("http://127.0.0.1:9/slack/events", SECRET, standin)
    request = requester.build_view_submission(MAINTAINER_USER_ID, opened, {"pr": "36121"})
    sent = json.loads(parse_qs(request.body)["payload"][0])

    assert sent["type"] == "view_submission" and sent["user"]["id"] == MAINTAINER_USER_ID
    assert sent["view"]["id"] == opened["id"] and sent["view"]["callback_id"] == "start_modal"
    assert sent["view"]["state"]["values"] == {
        "pr": {"pr_value": {"type": "plain_text_input", "value": "36121"}},
        "ttl": {"ttl_value": {"type": "static_select", "selected_option": None}},
    }
    with pytest.raises(UserInputError, match="PR number or URL is required"):
        requester.build_view_submission(MAINTAINER_USER_ID, opened, {"ttl": "24h"})
    with pytest.raises(UserInputError, match="has no option '2h'"):
        requester.build_view_submission(MAINTAINER_USER_ID, opened, {"pr": "1", "ttl": "2h"})
    with pytest.raises(UserInputError, match="no input sha"):
        requester.build_view_submission(MAINTAINER_USER_ID, opened, {"pr": "1", "sha": "abc"})
