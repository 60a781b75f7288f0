"""Webhook test support: the real bot in HTTP mode with the webhook on, GitHub's deliveries
signed and sent over HTTP (the fixture is ``hook_world``, in tests/webhook/conftest.py)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr
from slack_support import SlackWorld, bot_on, serving
from support import World, wait_until

from bot.orchestrator.github_events import delivery_keys
from bot.orchestrator.jobs import Job
from bot.sandbox.slack import DEFAULT_CHANNEL, SlackStandIn
from bot.sandbox.webhooks import WebhookSender

WEBHOOK_SECRET = "test-webhook-secret"
WRITER = "maintainer-login"  # write access on the repository
COMMITTER = "committer-login"  # write access too (a permission not looked up yet)
READER = "drive-by-contributor"  # read access only


@dataclass
class HookWorld(SlackWorld):
    hooks: WebhookSender = field(default=None)  # type: ignore[assignment]
    gate: threading.Event = field(default_factory=threading.Event)

    def wait_until(self, predicate: Callable[[], Any], what: str, timeout: float = 60) -> Any:
        return wait_until(predicate, what, timeout)

    def jobs(self, pr: int) -> list[Job]:
        return list(reversed(self.bot.store.recent(limit=50, pr=pr)))

    def idle(self, pr: int) -> list[Job]:
        """Once every accepted delivery was handled and nothing is queued or running for the
        PR (a delivery's work runs after its answer: its record says when it is done)."""
        store = self.bot.store
        self.wait_until(
            lambda: (
                all(store.remembered(delivery_keys(d.guid)) for d in self.hooks.accepted)
                and not [j for j in store.recent(limit=50, pr=pr) if j.live]
                and not store.queued_prs()
            ),
            f"#{pr} to be idle",
        )
        return self.jobs(pr)

    def thread_texts(self, pr: int) -> list[str]:  # type: ignore[override]
        message = self.status_message(pr)
        return [
            str(m.get("text", "")) for m in self.slack.thread(message["channel"], message["ts"])
        ]


def serving_hooks(world: World) -> Iterator[HookWorld]:
    world.github_standin.set_permission(WRITER, "write")
    world.github_standin.set_permission(COMMITTER, "maintain")
    world.github_standin.set_permission(READER, "read")
    slack = SlackStandIn().start()
    gate = threading.Event()
    gate.set()  # health checks answer at once unless a test holds them

    def health(url: str, timeout: float) -> int:
        gate.wait(60)
        return 200

    bot = bot_on(
        world,
        slack,
        http_get=health,
        github_webhook_secret=SecretStr(WEBHOOK_SECRET),
        showtime_notify_channel=DEFAULT_CHANNEL,
    )
    with serving(world, slack, bot) as served:
        url = f"http://127.0.0.1:{served.server.port}/github/webhook"
        hooks = WebhookSender(url, WEBHOOK_SECRET, world.github_standin)
        try:
            yield HookWorld(
                served.world,
                served.slack,
                served.bot,
                served.server,
                served.requester,
                hooks=hooks,
                gate=gate,
            )
        finally:
            gate.set()  # a held health check must not outlive the test
