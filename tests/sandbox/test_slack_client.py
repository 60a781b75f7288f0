"""SlackRequester: requests signed and shaped as Slack sends them to ``POST /slack/events``."""

from __future__ import annotations

import dataclasses
import json
import logging
import socketserver
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from slack_bolt import Ack, App, Respond
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient

from bot.errors import UserInputError
from bot.sandbox.slack import DEFAULT_CHANNEL, MAINTAINER_USER_ID, SlackStandIn
from bot.sandbox.slack_client import SignedRequest, SlackRequester, buttons, slack_signature

SECRET = "sandbox-signing-secret"

STATUS_BLOCKS = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "PR 36121 running"}},
    {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "text": {"type": "plain_text", "text": "Stop"},
                "action_id": "stop",
                "value": "36121",
                "style": "danger",
            },
            {
                "type": "button",
                "text": {"type": "plain_text", "text": "Open"},
                "action_id": "open",
                "url": "http://10.0.0.1:8080",
            },
        ],
    },
]


@dataclasses.dataclass
class Captured:
    headers: dict[str, str]
    body: str


class _CaptureHandler(BaseHTTPRequestHandler):
    server: _CaptureServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        self.server.captured.append(Captured(dict(self.headers.items()), body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        logging.getLogger(__name__).debug(format, *args)


class _CaptureServer(ThreadingHTTPServer):
    daemon_threads = True
    captured: list[Captured]


@pytest.fixture
def standin() -> Iterator[SlackStandIn]:
    with SlackStandIn() as running:
        yield running


@pytest.fixture
def capture() -> Iterator[_CaptureServer]:
    """A bare endpoint that records what Slack (the requester) sent."""
    server = _CaptureServer(("127.0.0.1", 0), _CaptureHandler)
    server.captured = []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01})
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def to_capture(capture: _CaptureServer, standin: SlackStandIn) -> Iterator[SlackRequester]:
    with SlackRequester(
        f"http://127.0.0.1:{capture.server_port}/slack/events", SECRET, standin
    ) as requester:
        yield requester


def fields(captured: Captured) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(captured.body, keep_blank_values=True).items()}


def payload(captured: Captured) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(fields(captured)["payload"])
    return parsed


def post_status(standin: SlackStandIn) -> dict[str, Any]:
    client = WebClient(token=standin.bot_token, base_url=standin.api_url)
    ts = client.chat_postMessage(channel=DEFAULT_CHANNEL, text="running", blocks=STATUS_BLOCKS)[
        "ts"
    ]
    message = standin.message(DEFAULT_CHANNEL, ts)
    assert message is not None
    return message


# -- signatures --------------------------------------------------------------------------------


def test_slash_command_signature_verifies(
    to_capture: SlackRequester, capture: _CaptureServer
) -> None:
    response = to_capture.slash_command("start 36121")

    [sent] = capture.captured
    assert response.status_code == 200
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert SignatureVerifier(SECRET).is_valid_request(sent.body, sent.headers)


def test_tampered_body_old_timestamp_or_wrong_secret_do_not_verify(
    to_capture: SlackRequester,
) -> None:
    verifier = SignatureVerifier(SECRET)
    good = to_capture.build_slash_command("status 36121")
    tampered = dataclasses.replace(good, body=good.body.replace("status", "stop"))
    old = to_capture.build_slash_command("status 36121", timestamp=int(time.time()) - 600)
    wrong = to_capture.build_slash_command("status 36121", signing_secret="not-the-secret")

    assert verifier.is_valid_request(good.body, good.headers)
    assert not verifier.is_valid_request(tampered.body, tampered.headers)
    assert not verifier.is_valid_request(old.body, old.headers)
    assert not verifier.is_valid_request(wrong.body, wrong.headers)


def test_signature_is_slacks_v0_scheme() -> None:
    # The example from Slack's "Verifying requests from Slack" guide.
    body = (
        "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
        "&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
        "&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmi"
        "bIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    assert slack_signature("8f742231b10e8888abcd99yyyzzz85a5", 1531420618, body) == (
        "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    )


# -- slash commands ----------------------------------------------------------------------------


def test_slash_command_carries_the_fields_slack_sends(
    to_capture: SlackRequester, capture: _CaptureServer, standin: SlackStandIn
) -> None:
    to_capture.slash_command("start 36121 ttl=24h")

    sent = fields(capture.captured[0])
    assert sent["command"] == "/showtime"
    assert sent["text"] == "start 36121 ttl=24h"
    assert (sent["user_id"], sent["user_name"]) == (MAINTAINER_USER_ID, "maintainer")
    assert (sent["channel_id"], sent["channel_name"]) == (DEFAULT_CHANNEL, "showtime")
    assert (sent["team_id"], sent["api_app_id"]) == ("T0SANDBOX", "A0SHOWTIME")
    assert sent["is_enterprise_install"] == "false"
    assert sent["trigger_id"]
    assert sent["token"]
    assert sent["response_url"].startswith(standin.url + "/response/")


def test_each_command_gets_its_own_working_response_url(
    to_capture: SlackRequester, capture: _CaptureServer, standin: SlackStandIn
) -> None:
    to_capture.slash_command("list")
    to_capture.slash_command("list", user_id="U0OTHER", user_name="other")
    first, second = (fields(c)["response_url"] for c in capture.captured)

    assert first != second
    assert WebhookClient(second).send(text="3 environments").status_code == 200
    [response] = standin.responses(second)
    assert (response["user"], response["text"]) == ("U0OTHER", "3 environments")


def test_retry_headers_only_when_asked(to_capture: SlackRequester, capture: _CaptureServer) -> None:
    to_capture.slash_command("list")
    to_capture.slash_command("list", retry_num=1)
    first, retried = capture.captured

    assert "X-Slack-Retry-Num" not in first.headers
    assert retried.headers["X-Slack-Retry-Num"] == "1"
    assert retried.headers["X-Slack-Retry-Reason"] == "http_timeout"
    assert SignatureVerifier(SECRET).is_valid_request(retried.body, retried.headers)


def test_requests_from_several_threads_all_arrive(
    to_capture: SlackRequester, capture: _CaptureServer
) -> None:
    statuses: list[int] = []
    threads = [
        threading.Thread(
            target=lambda n=n: statuses.append(to_capture.slash_command(f"status {n}").status_code)
        )
        for n in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 8
    assert sorted(fields(c)["text"] for c in capture.captured) == [f"status {n}" for n in range(8)]


# -- button clicks -----------------------------------------------------------------------------


def test_click_sends_a_block_actions_payload_for_that_button(
    to_capture: SlackRequester, capture: _CaptureServer, standin: SlackStandIn
) -> None:
    message = post_status(standin)
    to_capture.click(message, "stop")

    [sent] = capture.captured
    assert SignatureVerifier(SECRET).is_valid_request(sent.body, sent.headers)
    body = payload(sent)
    [action] = body["actions"]
    assert body["type"] == "block_actions"
    assert (action["type"], action["action_id"], action["value"]) == ("button", "stop", "36121")
    assert action["block_id"] == message["blocks"][1]["block_id"]
    assert action["action_ts"]
    assert body["container"] == {
        "type": "message",
        "message_ts": message["ts"],
        "channel_id": DEFAULT_CHANNEL,
        "is_ephemeral": False,
    }
    assert body["message"]["ts"] == message["ts"]
    assert body["message"]["blocks"] == message["blocks"]
    assert "edit_count" not in body["message"]
    assert body["channel"] == {"id": DEFAULT_CHANNEL, "name": "showtime"}
    assert (body["user"]["id"], body["user"]["username"]) == (MAINTAINER_USER_ID, "maintainer")
    assert body["trigger_id"]
    assert body["response_url"].startswith(standin.url + "/response/")


def test_click_response_url_can_replace_the_message(
    to_capture: SlackRequester, capture: _CaptureServer, standin: SlackStandIn
) -> None:
    message = post_status(standin)
    to_capture.click(message, "stop")

    WebhookClient(payload(capture.captured[0])["response_url"]).send(
        text="stopping", replace_original=True
    )
    [updated] = standin.channel_messages()
    assert (updated["ts"], updated["text"]) == (message["ts"], "stopping")


def test_click_on_an_ephemeral_message_sends_only_its_container(
    to_capture: SlackRequester, capture: _CaptureServer, standin: SlackStandIn
) -> None:
    url = standin.new_response_url()
    WebhookClient(url).send(text="status", blocks=STATUS_BLOCKS)
    [ephemeral] = standin.responses(url)

    to_capture.click(ephemeral, "stop")
    body = payload(capture.captured[0])
    assert body["container"]["is_ephemeral"] is True
    assert body["container"]["message_ts"] == ephemeral["ts"]
    assert "message" not in body


def test_click_on_a_missing_button_names_the_buttons_there(
    to_capture: SlackRequester, standin: SlackStandIn
) -> None:
    message = post_status(standin)
    with pytest.raises(UserInputError, match=r"stop \(Stop\), open \(Open\)"):
        to_capture.click(message, "freeze")


def test_buttons_lists_action_and_accessory_buttons() -> None:
    message = {
        "blocks": [
            {
                "type": "section",
                "block_id": "s",
                "text": {"type": "mrkdwn", "text": "x"},
                "accessory": {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Retry"},
                    "action_id": "retry",
                },
            },
            {**STATUS_BLOCKS[1], "block_id": "a"},
        ]
    }
    assert [(b["action_id"], b["block_id"]) for b in buttons(message)] == [
        ("retry", "s"),
        ("stop", "a"),
        ("open", "a"),
    ]


# -- against a real Bolt app -------------------------------------------------------------------


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        logging.getLogger(__name__).debug(format, *args)


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


@pytest.fixture
def bolt(standin: SlackStandIn) -> Iterator[SlackRequester]:
    """A minimal Bolt app in HTTP mode, on the stand-in, reached through the requester."""
    app = App(
        signing_secret=SECRET,
        client=WebClient(token=standin.bot_token, base_url=standin.api_url),
    )

    @app.command("/showtime")
    def command(ack: Ack, command: dict[str, Any], respond: Respond, client: WebClient) -> None:
        ack(f"on it: {command['text']}")
        client.chat_postMessage(channel=command["channel_id"], text="running", blocks=STATUS_BLOCKS)
        respond(f"started by {command['user_name']}")

    @app.action("stop")
    def stop(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        action = body["actions"][0]
        client.chat_update(
            channel=body["container"]["channel_id"],
            ts=body["message"]["ts"],
            text=f"{action['value']} stopped by <@{body['user']['id']}>",
            blocks=[],
        )

    server = make_server(
        "127.0.0.1",
        0,
        SlackRequestHandler(app),
        server_class=_ThreadingWSGIServer,
        handler_class=_QuietHandler,
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01})
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/slack/events"
    with SlackRequester(url, SECRET, standin) as requester:
        yield requester
    server.shutdown()
    server.server_close()
    thread.join()


def test_bolt_acks_a_command_and_its_answers_land_in_the_standin(
    bolt: SlackRequester, standin: SlackStandIn
) -> None:
    response = bolt.slash_command("start 36121")

    assert response.status_code == 200
    assert response.text == "on it: start 36121"  # Bolt acks a plain string as a text body
    assert response.elapsed > 0
    status = standin.wait_for(lambda: standin.find_message("running"), timeout=10)
    assert status["blocks"][1]["elements"][0]["action_id"] == "stop"
    responses = standin.wait_for(lambda: standin.responses(), timeout=10)
    assert responses[0]["text"] == "started by maintainer"


def test_bolt_handles_a_click_on_the_status_message(
    bolt: SlackRequester, standin: SlackStandIn
) -> None:
    message = post_status(standin)
    response = bolt.click(message, "stop")

    assert response.status_code == 200
    updated = standin.wait_for(lambda: standin.find_message("stopped by"), timeout=10)
    assert updated["ts"] == message["ts"]
    assert updated["text"] == f"36121 stopped by <@{MAINTAINER_USER_ID}>"
    assert updated["edit_count"] == 1


@pytest.mark.parametrize(
    "spoil",
    [
        lambda r: r.build_slash_command("stop 36121", signing_secret="forged"),
        lambda r: r.build_slash_command("stop 36121", timestamp=int(time.time()) - 600),
        lambda r: dataclasses.replace(
            r.build_slash_command("status 36121"),
            body=r.build_slash_command("stop 36121").body,
        ),
    ],
    ids=["wrong-secret", "old-timestamp", "tampered-body"],
)
def test_bolt_refuses_requests_that_do_not_verify(
    bolt: SlackRequester, standin: SlackStandIn, spoil: Any
) -> None:
    request: SignedRequest = spoil(bolt)
    response = bolt.send(request)

    assert response.status_code == 401
    assert standin.channel_messages() == []
    assert standin.responses() == []


# -- the Events API and the Home tab ----------------------------------------------------------


def test_events_are_signed_json_event_callbacks(
    to_capture: SlackRequester, capture: _CaptureServer, standin: SlackStandIn
) -> None:
    to_capture.app_home_opened(MAINTAINER_USER_ID)
    WebClient(token=standin.bot_token, base_url=standin.api_url).views_publish(
        user_id=MAINTAINER_USER_ID, view={"type": "home", "blocks": STATUS_BLOCKS}
    )
    to_capture.app_home_opened(MAINTAINER_USER_ID)
    to_capture.url_verification("challenge-123")

    first, second, challenge = capture.captured
    for sent in capture.captured:
        assert sent.headers["Content-Type"] == "application/json"
        assert SignatureVerifier(SECRET).is_valid_request(sent.body, sent.headers)
    envelope = json.loads(first.body)
    assert envelope["type"] == "event_callback" and envelope["event_id"].startswith("Ev")
    assert envelope["team_id"] == standin.team_id and envelope["api_app_id"] == standin.app_id
    event = envelope["event"]
    assert (event["type"], event["user"], event["tab"]) == (
        "app_home_opened",
        MAINTAINER_USER_ID,
        "home",
    )
    assert "view" not in event  # nothing published yet
    # Once a view is published, Slack sends it (with its hash) when the tab opens.
    view = json.loads(second.body)["event"]["view"]
    assert view == standin.home_view(MAINTAINER_USER_ID)
    assert json.loads(challenge.body) == {
        "token": "sandbox-verification-token",
        "challenge": "challenge-123",
        "type": "url_verification",
    }


def test_a_home_tab_press_carries_the_view_and_no_response_url(
    to_capture: SlackRequester, capture: _CaptureServer, standin: SlackStandIn
) -> None:
    client = WebClient(token=standin.bot_token, base_url=standin.api_url)
    view = client.views_publish(
        user_id=MAINTAINER_USER_ID, view={"type": "home", "blocks": STATUS_BLOCKS}
    )["view"]
    to_capture.click_home(view, "stop", value="36121")
    sent = payload(capture.captured[0])
    assert sent["type"] == "block_actions"
    assert sent["container"] == {"type": "view", "view_id": view["id"]}
    assert sent["view"]["hash"] == view["hash"]
    assert sent["actions"][0]["value"] == "36121" and sent["actions"][0]["block_id"]
    for absent in ("response_url", "channel", "message"):
        assert absent not in sent
    with pytest.raises(UserInputError, match="No button 'stop'"):
        to_capture.click_home(view, "stop", value="99999")
