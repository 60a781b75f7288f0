"""The real Bolt app under waitress, with the Slack, GitHub and ECS stand-ins behind it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_support import OUTSIDER, SIGNING_SECRET, SlackWorld, bot_on
from support import World

from bot.sandbox.slack import SlackStandIn
from bot.sandbox.slack_client import SlackRequester
from bot.server import HttpServer


@pytest.fixture
def slack_world(world: World) -> Iterator[SlackWorld]:
    slack = SlackStandIn()
    slack.start()
    slack.add_user(OUTSIDER, "outsider")
    bot = bot_on(world, slack)
    server = HttpServer(bot, "127.0.0.1", 0)
    server.start()
    requester = SlackRequester(
        f"http://127.0.0.1:{server.port}/slack/events", SIGNING_SECRET, slack
    )
    try:
        yield SlackWorld(world, slack, bot, server, requester)
    finally:
        requester.close()
        bot.orchestrator.shutdown(5)
        server.close()
        bot.store.close()
        slack.stop()
