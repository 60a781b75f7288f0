"""The real Bolt app under waitress, with the Slack, GitHub and ECS stand-ins behind it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_support import OUTSIDER, SlackWorld, bot_on, serving
from support import World

from bot.sandbox.slack import SlackStandIn


@pytest.fixture
def slack_world(world: World) -> Iterator[SlackWorld]:
    slack = SlackStandIn()
    slack.start()
    slack.add_user(OUTSIDER, "outsider")
    with serving(world, slack, bot_on(world, slack)) as served:
        yield served


@pytest.fixture
def health() -> dict[str, int]:
    """What every environment answers its health check (a test makes it 503)."""
    return {"status": 200}


@pytest.fixture
def sw(world: World, health: dict[str, int]) -> Iterator[SlackWorld]:
    """The Slack world, with environments whose health check answers ``health``."""
    slack = SlackStandIn()
    slack.start()
    slack.add_user(OUTSIDER, "outsider")
    bot = bot_on(world, slack, http_get=lambda url, timeout: health["status"])
    with serving(world, slack, bot) as served:
        yield served
