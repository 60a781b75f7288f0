"""One process that does it all (SPEC §3): Socket Mode for Slack, and with PORT set the same
process serves ``/healthz``, ``/metrics`` and ``/github/webhook`` over HTTP — but not
``/slack/events``, which only Socket Mode's socket may bring."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from slack_support import SIGNING_SECRET, bot_on
from support import World

from bot.config import Settings
from bot.sandbox.slack import DEFAULT_CHANNEL, SlackStandIn
from bot.sandbox.slack_client import SlackRequester
from bot.sandbox.socket_mode import SocketModeStandIn
from bot.sandbox.webhooks import WebhookSender
from bot.server import Serving, http_port, open_serving
from bot.wiring import Bot

PR = 36121
WEBHOOK_SECRET = "test-webhook-secret"
PING_SECONDS = 0.5


@dataclass
class OneProcess:
    world: World
    slack: SlackStandIn
    socket: SocketModeStandIn
    bot: Bot
    serving: Serving

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.serving.port}"


@pytest.fixture
def one_process(world: World) -> Iterator[OneProcess]:
    slack = SlackStandIn().start()
    socket = SocketModeStandIn(slack).start()
    bot = bot_on(
        world,
        slack,
        slack_app_token=SecretStr(slack.app_token),
        slack_signing_secret=None,
        github_webhook_secret=SecretStr(WEBHOOK_SECRET),
    )
    serving = open_serving(bot, host="127.0.0.1", port=0, ping_interval=PING_SECONDS)
    try:
        socket.wait_for_connections(1)
        yield OneProcess(world, slack, socket, bot, serving)
    finally:
        socket.stop()  # Slack's side first: the client's close() would wait out a recv()
        serving.close()
        if bot.webhook is not None:
            bot.webhook.close()
        bot.orchestrator.shutdown(5)
        bot.store.close()
        slack.stop()


def test_socket_mode_and_http_in_one_process(one_process: OneProcess) -> None:
    op = one_process
    assert op.serving.socket is not None and op.serving.port

    # A slash command over the socket; HTTP answers meanwhile.
    envelope = op.socket.slash_command(f"start {PR}")
    health = requests.get(f"{op.base}/healthz", timeout=10)
    assert health.status_code == 200
    assert health.json()["ok"] is True and health.json()["mode"] == "socket"
    hooks = WebhookSender(f"{op.base}/github/webhook", WEBHOOK_SECRET, op.world.github_standin)
    assert hooks.ping().status == 200
    assert hooks.send("ping", {"zen": "forged"}, signature="sha256=" + "0" * 64).status == 401
    ack = op.socket.wait_for_ack(envelope)
    assert ack.seconds < 3

    running = op.slack.wait_for(
        lambda: [
            m
            for m in op.slack.channel_messages(DEFAULT_CHANNEL)
            if f"#{PR}" in m["text"] and "🟢" in m["text"]
        ],
        30,
        "the environment to run",
    )
    assert running

    # Slack's HTTP route is not served: its requests come over the socket.
    requester = SlackRequester(f"{op.base}/slack/events", SIGNING_SECRET, op.slack)
    try:
        refused = requester.send(requester.build_slash_command(f"stop {PR}"))
    finally:
        requester.close()
    assert refused.status_code == 404
    assert json.loads(refused.text) == {"ok": False, "error": "not_found"}

    scraped = requests.get(f"{op.base}/metrics", timeout=10)
    assert scraped.status_code == 200
    found = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(scraped.text)
        for s in family.samples
    }
    assert found[("showtime_slack_acks_total", (("type", "command"),))] == 1.0
    assert found[("showtime_webhook_deliveries_total", (("event", "ping"), ("status", "200")))] == 1
    assert found[("showtime_webhook_deliveries_total", (("event", "ping"), ("status", "401")))] == 1


def _settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def test_http_beside_socket_mode_only_when_port_asks_for_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PORT", raising=False)
    socket_mode = {"slack_app_token": "xapp-1-A0-0-fake"}
    assert http_port(_settings(**socket_mode), None) is None
    assert http_port(_settings(**socket_mode), 8080) == 8080  # `serve --port 8080`
    assert http_port(_settings(), None) == 3000  # HTTP mode always listens
    assert http_port(_settings(), 9000) == 9000

    monkeypatch.setenv("PORT", "5123")  # as Heroku sets it for a web process
    assert http_port(_settings(**socket_mode), None) == 5123
    assert http_port(_settings(), None) == 5123
