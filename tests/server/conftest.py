"""The real bot in HTTP mode under waitress, on loopback, with the stand-ins behind it."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from slack_support import SIGNING_SECRET, SlackWorld, bot_on
from support import World

from bot.sandbox.slack import SlackStandIn
from bot.sandbox.slack_client import SlackRequester
from bot.server import HttpServer


@pytest.fixture
def http_bot(world: World, caplog: pytest.LogCaptureFixture) -> Iterator[SlackWorld]:
    # Production logs at INFO, and Bolt copies the root logger's level onto its own loggers
    # when the App is built: set it first, so these tests see what production would log.
    caplog.set_level(logging.INFO)
    slack = SlackStandIn().start()
    bot = bot_on(world, slack)
    server = HttpServer(bot, "127.0.0.1", 0)
    server.start()
    requester = SlackRequester(
        f"http://127.0.0.1:{server.port}/slack/events", SIGNING_SECRET, slack
    )
    # Building the bot called auth.test; count from here.
    slack.reset_calls()
    world.github_standin.reset_counts()
    try:
        yield SlackWorld(world, slack, bot, server, requester)
    finally:
        requester.close()
        bot.orchestrator.shutdown(5)
        server.close()
        bot.store.close()
        slack.stop()
