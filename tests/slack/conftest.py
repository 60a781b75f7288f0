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
