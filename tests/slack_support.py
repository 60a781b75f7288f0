"""Slack test support: the real Bolt app under waitress, stand-ins behind it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from pydantic import SecretStr
from support import SLACK_USER, World

from bot.adapters.health import HttpHealthProbe
from bot.clock import Clock
from bot.config import Settings
from bot.metrics import Metrics
from bot.orchestrator.context import Ports
from bot.sandbox.harness import Outcome, home_marks, settle, settle_home
from bot.sandbox.slack import SlackStandIn
from bot.sandbox.slack_client import Response, SlackRequester
from bot.server import HttpServer
from bot.slack import views
from bot.wiring import Bot, build_bot, real_ports

SIGNING_SECRET = "test-signing-secret"
OUTSIDER = "U0OUTSIDER"
# What a running environment's status message offers, in order.
RUNNING_BUTTONS = [
    views.ACTION_OPEN,
    views.ACTION_LOGS,
    views.ACTION_CREDENTIALS,
    views.ACTION_STOP,
    views.ACTION_REDEPLOY,
    views.ACTION_EXTEND,
    views.ACTION_FREEZE,
]


def bot_on(
    world: World,
    slack: SlackStandIn,
    *,
    http_get: Callable[[str, float], int] = lambda url, timeout: 200,
    **settings: Any,
) -> Bot:
    """The real bot (Bolt app, orchestrator, adapters) on the world's stand-ins and clock,
    talking to ``slack``; environments answer their health check with ``http_get`` (at
    once, by default)."""
    configured = world.settings.model_copy(
        update={
            "slack_bot_token": SecretStr(slack.bot_token),
            "slack_signing_secret": SecretStr(SIGNING_SECRET),
            "slack_api_url": slack.api_url,
            "showtime_allowed_users": [SLACK_USER],
            **settings,
        }
    )

    def make_ports(settings: Settings, clock: Clock, metrics: Metrics) -> Ports:
        probe = HttpHealthProbe(settings, clock, http_get=http_get)
        return replace(real_ports(settings, clock, metrics), health=probe)

    return build_bot(configured, clock=world.clock, make_ports=make_ports)


@contextmanager
def serving(world: World, slack: SlackStandIn, bot: Bot) -> Iterator[SlackWorld]:
    """``bot`` under waitress on loopback, a signed requester in front of it; everything
    (the bot's jobs included) stopped afterwards, ``slack`` too."""
    server = HttpServer(bot, "127.0.0.1", 0)
    server.start()
    requester = SlackRequester(
        f"http://127.0.0.1:{server.port}/slack/events", SIGNING_SECRET, slack
    )
    try:
        yield SlackWorld(world, slack, bot, server, requester)
    finally:
        requester.close()
        if bot.webhook is not None:
            bot.webhook.close()
        bot.orchestrator.shutdown(5)
        server.close()
        bot.store.close()
        slack.stop()


@dataclass
class SlackWorld:
    world: World
    slack: SlackStandIn
    bot: Bot
    server: HttpServer
    requester: SlackRequester

    def command(self, text: str, **kwargs: Any) -> Outcome:
        return settle(self.bot.store, self.slack, self.requester.slash_command(text, **kwargs))

    def send(self, response: Response) -> Outcome:
        return settle(self.bot.store, self.slack, response)

    def click(self, message: dict[str, Any], action_id: str, **kwargs: Any) -> Outcome:
        fresh = self.slack.message(message["channel"], message["ts"]) or message
        return settle(self.bot.store, self.slack, self.requester.click(fresh, action_id, **kwargs))

    def open_home(self, user: str = SLACK_USER) -> dict[str, Any]:
        """``user`` opens the Home tab: the view the bot publishes for them."""
        published = len(self.slack.home_views(user))
        response = self.requester.app_home_opened(user)
        assert response.status_code == 200, response.text
        self.slack.wait_for(
            lambda: len(self.slack.home_views(user)) > published, 30, "the Home tab"
        )
        view = self.slack.home_view(user)
        assert view is not None
        return view

    def click_home(
        self, action_id: str, value: str, user: str = SLACK_USER, view: dict[str, Any] | None = None
    ) -> Outcome:
        """Press ``action_id`` (the button with ``value``) on ``user``'s Home tab."""
        shown = view or self.slack.home_view(user)
        assert shown is not None, "open the Home tab first"
        before = home_marks(self.bot.store, self.slack, user)
        response = self.requester.click_home(shown, action_id, user, value=value)
        return settle_home(self.bot.store, self.slack, response, user, before)

    def status_message(self, pr: int = 36121) -> dict[str, Any]:
        for message in reversed(self.slack.channel_messages("C0SHOWTIME")):
            if f"#{pr}" in str(message.get("text", "")):
                return message
        raise AssertionError(f"no status message for #{pr}")

    def thread_texts(self, message: dict[str, Any]) -> list[str]:
        return [
            str(m.get("text", "")) for m in self.slack.thread(message["channel"], message["ts"])
        ]

    def buttons(self, message: dict[str, Any]) -> list[str]:
        fresh = self.slack.message(message["channel"], message["ts"]) or message
        return [
            element["action_id"]
            for block in fresh.get("blocks", [])
            if block.get("type") == "actions"
            for element in block["elements"]
        ]


def image(sw: SlackWorld, pr: int = 36121) -> str:
    """The CI image of the PR's head, as the task definition names it."""
    return f"apache/superset:pr-{pr}-{sw.world.github_standin.head_sha(pr)[:7]}-ci"
