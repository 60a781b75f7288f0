"""The real bot in HTTP mode under waitress, on loopback, with the stand-ins behind it."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from slack_support import SlackWorld, bot_on, serving
from support import World

from bot.sandbox.slack import SlackStandIn


@pytest.fixture
def http_bot(world: World, caplog: pytest.LogCaptureFixture) -> Iterator[SlackWorld]:
    # Production logs at INFO, and Bolt copies the root logger's level onto its own loggers
    # when the App is built: set it first, so these tests see what production would log.
    caplog.set_level(logging.INFO)
    slack = SlackStandIn().start()
    with serving(world, slack, bot_on(world, slack)) as served:
        # Building the bot called auth.test; count from here.
        slack.reset_calls()
        world.github_standin.reset_counts()
        yield served
