"""Slack test support: the real Bolt app under waitress, stand-ins behind it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from support import World

from bot.sandbox.harness import Outcome, settle
from bot.sandbox.slack import SlackStandIn
from bot.sandbox.slack_client import Response, SlackRequester
from bot.server import HttpServer
from bot.wiring import Bot

SIGNING_SECRET = "test-signing-secret"
OUTSIDER = "U0OUTSIDER"


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
