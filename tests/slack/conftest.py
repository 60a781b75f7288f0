"""The real Bolt app under waitress, with the Slack, GitHub and ECS stand-ins behind it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr
from slack_support import OUTSIDER, SIGNING_SECRET, SlackWorld
from support import SLACK_USER, World

from bot.adapters.ecs import EcsEngine
from bot.adapters.github import GitHubAdapter
from bot.adapters.health import HttpHealthProbe
from bot.sandbox.slack import SlackStandIn
from bot.sandbox.slack_client import SlackRequester
from bot.server import HttpServer
from bot.wiring import build_bot


@pytest.fixture
def slack_world(world: World) -> Iterator[SlackWorld]:
    slack = SlackStandIn()
    slack.start()
    slack.add_user(OUTSIDER, "outsider")
    settings = world.settings.model_copy(
        update={
            "slack_bot_token": SecretStr(slack.bot_token),
            "slack_signing_secret": SecretStr(SIGNING_SECRET),
            "slack_api_url": slack.api_url,
            "showtime_allowed_users": [SLACK_USER],
        }
    )
    github = GitHubAdapter(settings, clock=world.clock)
    ecs = EcsEngine(settings, clock=world.clock)
    health = HttpHealthProbe(settings, world.clock, http_get=lambda url, timeout: 200)
    bot = build_bot(settings, clock=world.clock, github=github, ecs=ecs, health=health)
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
