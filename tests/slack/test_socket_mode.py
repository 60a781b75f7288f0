"""Socket Mode against a websocket stand-in (SPEC §12): the real bot, built with an
app-level token as ``showtime-bot serve`` builds it, connects through
``apps.connections.open`` to the Socket Mode stand-in; slash commands and button presses
arrive as envelopes, are acked, and are acted on; the bot reconnects after the socket goes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from pydantic import SecretStr
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_support import bot_on
from support import World
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from bot.sandbox.slack import DEFAULT_CHANNEL, SlackStandIn
from bot.sandbox.socket_mode import Ack, SocketModeStandIn
from bot.server import socket_mode_handler
from bot.slack import views
from bot.wiring import Bot

T = TypeVar("T")
PR = 36121
# The client checks its socket on every ping; production pings every 5 s.
PING_SECONDS = 0.5


@dataclass
class SocketWorld:
    world: World
    slack: SlackStandIn
    socket: SocketModeStandIn
    bot: Bot

    def command(self, text: str) -> Ack:
        """Type ``/showtime {text}``; the bot's ack (within Slack's 3 s)."""
        ack = self.socket.wait_for_ack(self.socket.slash_command(text))
        assert ack.seconds < 3
        return ack

    def answers(self) -> list[str]:
        """What the bot told the user through response URLs, in order."""
        return [str(response["text"]) for response in self.slack.responses()]

    def wait_for(self, predicate: Callable[[], T], what: str) -> T:
        return self.slack.wait_for(predicate, timeout=10, description=what)


@pytest.fixture
def socket_world(world: World) -> Iterator[SocketWorld]:
    slack = SlackStandIn().start()
    socket = SocketModeStandIn(slack).start()
    bot = bot_on(
        world, slack, slack_app_token=SecretStr(slack.app_token), slack_signing_secret=None
    )
    assert bot.settings.socket_mode
    handler = socket_mode_handler(bot, ping_interval=PING_SECONDS)
    handler.connect()
    try:
        socket.wait_for_connections(1)
        yield SocketWorld(world, slack, socket, bot)
    finally:
        # Slack's side closes first: slack_sdk's close() otherwise waits out the socket's
        # 3-second receive timeout (it needs the lock the blocked recv() holds).
        socket.stop()
        handler.close()
        bot.orchestrator.shutdown(5)
        bot.store.close()
        slack.stop()


def status_message(sw: SocketWorld) -> dict[str, Any] | None:
    found = [m for m in sw.slack.channel_messages(DEFAULT_CHANNEL) if f"#{PR}" in m["text"]]
    return found[-1] if found else None


def test_slash_commands_and_a_button_arrive_and_are_acked_and_acted_on(
    socket_world: SocketWorld,
) -> None:
    sw = socket_world
    assert sw.slack.calls["apps.connections.open"] == 1

    help_ack = sw.command("help")
    assert help_ack.payload is not None
    assert help_ack.payload["response_type"] == "ephemeral"
    assert "/showtime start" in help_ack.payload["text"]

    assert sw.command(f"status {PR}").payload is None  # acked at once, answered later
    sw.wait_for(lambda: any(a.startswith(f"Status of #{PR}") for a in sw.answers()), "status")

    sw.command(f"start {PR}")
    running = sw.wait_for(
        lambda: (m := status_message(sw)) is not None and "🟢" in m["text"] and m, "running"
    )
    assert views.ACTION_FREEZE in str(running["blocks"])
    # The buttons appear as the job ends; a person's press comes later than the store write.
    sw.wait_for(lambda: sw.bot.store.live_job(f"pr:{PR}") is None, "the start to end")

    freeze = sw.socket.wait_for_ack(sw.socket.click(running, views.ACTION_FREEZE))
    assert freeze.payload is None and freeze.seconds < 3
    sw.wait_for(lambda: "🎪 🧊 showtime-freeze" in sw.world.labels(PR), "the freeze label")
    assert sw.socket.connections_opened == 1


def test_the_home_tab_event_arrives_over_the_socket_too(socket_world: SocketWorld) -> None:
    sw = socket_world
    ack = sw.socket.wait_for_ack(sw.socket.app_home_opened("U0MAINTAINER"))
    assert ack.seconds < 3 and ack.payload is None
    view = sw.wait_for(lambda: sw.slack.home_view("U0MAINTAINER"), "the Home tab")
    assert view["type"] == "home"
    assert any(b.get("text", {}).get("text") == "All environments (0)" for b in view["blocks"])


@pytest.mark.parametrize("goes", ["refresh", "drop"])
def test_bot_reconnects_after_the_socket_goes_and_keeps_answering(
    socket_world: SocketWorld, goes: str
) -> None:
    """``refresh``: Slack's ``disconnect`` message, then the socket closes; ``drop``: it
    closes with no warning (the client notices at its next ping)."""
    sw = socket_world
    assert sw.command("help").connection == 1
    if goes == "refresh":
        sw.socket.refresh()
    else:
        sw.socket.drop()
    sw.socket.wait_for_connections(2)
    assert sw.slack.calls["apps.connections.open"] == 2  # a new URL for the new socket

    help_ack = sw.command("help")
    assert help_ack.connection == 2
    assert help_ack.payload is not None and "/showtime start" in help_ack.payload["text"]
    sw.command(f"status {PR}")
    sw.wait_for(lambda: any(a.startswith(f"Status of #{PR}") for a in sw.answers()), "status")
    sw.wait_for(lambda: sw.socket.open_connections == 1, "the old socket to close")


def test_connection_urls_need_the_app_token_and_work_once() -> None:
    """What the stand-ins enforce, as Slack does: apps.connections.open takes only the
    app-level token, and each URL it hands out opens one socket."""
    with SlackStandIn() as slack, SocketModeStandIn(slack) as socket:
        web = WebClient(base_url=slack.api_url)
        with pytest.raises(SlackApiError) as refused:
            web.apps_connections_open(app_token=slack.bot_token)
        assert refused.value.response["error"] == "not_allowed_token_type"

        url = web.apps_connections_open(app_token=slack.app_token)["url"]
        assert url.startswith(f"{socket.url}/link/?ticket=")
        with connect(url) as first:
            assert json.loads(first.recv(timeout=5))["type"] == "hello"
        with pytest.raises(InvalidStatus) as reused:
            connect(url)
        assert reused.value.response.status_code == 401
        assert socket.connections_opened == 1
