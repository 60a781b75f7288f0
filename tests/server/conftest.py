"""The real bot in HTTP mode under waitress, on loopback, with the stand-ins behind it."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from pydantic import SecretStr
from slack_support import SIGNING_SECRET, SlackWorld
from support import SLACK_USER, World

from bot.adapters.ecs import EcsEngine
from bot.adapters.github import GitHubAdapter
from bot.sandbox.slack import SlackStandIn
from bot.sandbox.slack_client import SlackRequester
from bot.server import HttpServer
from bot.wiring import build_bot


@pytest.fixture
def http_bot(world: World, caplog: pytest.LogCaptureFixture) -> Iterator[SlackWorld]:
    # Production logs at INFO, and Bolt copies the root logger's level onto its own loggers
    # when the App is built: set it first, so these tests see what production would log.
    caplog.set_level(logging.INFO)
    slack = SlackStandIn().start()
    settings = world.settings.model_copy(
        update={
            "slack_bot_token": SecretStr(slack.bot_token),
            "slack_signing_secret": SecretStr(SIGNING_SECRET),
            "slack_api_url": slack.api_url,
            "showtime_allowed_users": [SLACK_USER],
        }
    )
    github = GitHubAdapter(settings, clock=world.clock)
    ecs = EcsEngine(settings, clock=world.clock, http_get=lambda url, timeout: 200)
    bot = build_bot(settings, clock=world.clock, github=github, ecs=ecs)
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
