"""``POST /github/webhook``: GitHub deliveries in, the same jobs as Slack out (SPEC §11).

An entry point like the Bolt listeners: it checks the signature, answers at once and
queues the work; deciding what a delivery means is the orchestrator's (``GitHubEvents``).

- ``X-Hub-Signature-256`` is ``sha256=`` + the hex HMAC-SHA256 of the raw body with
  GITHUB_WEBHOOK_SECRET, compared in constant time; missing or wrong → 401, nothing else.
- Answered before any remote call or database write (p99 < 100 ms): ``ping`` → 200,
  ``pull_request`` → 202 with the work queued, anything else → 200, ignored.
- ``X-GitHub-Delivery`` is recorded in the job store by the work itself: a redelivery
  (GitHub's retry, a replay) finds it there and does nothing.

The body limit (5 MiB, refused before it is read whole) is the HTTP server's
(``bot.server.BODY_LIMITS``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bot.config import Settings
from bot.orchestrator.github_events import GitHubEvents, PullRequestEvent
from bot.orchestrator.ports import PrState, PullRequest

log = logging.getLogger(__name__)

WORKERS = 8  # deliveries acted on at once; each does a few GitHub reads, then begins a job
ACTIONS = frozenset({"labeled", "synchronize", "closed"})


class WebhookIntake:
    def __init__(self, settings: Settings, events: GitHubEvents) -> None:
        assert settings.github_webhook_secret is not None
        self._secret = settings.github_webhook_secret.get_secret_value().encode()
        self._events = events
        self._work = ThreadPoolExecutor(WORKERS, thread_name_prefix="webhook")
        # Events the bot's own label writes cause are told apart by its login: known before
        # the first delivery needs it (in the background; start-up never waits on GitHub).
        self._work.submit(events.know_own_login)

    def receive(self, headers: Mapping[str, str], raw: bytes) -> tuple[int, dict[str, Any]]:
        """(HTTP status, JSON answer) for one delivery; the work, if any, is queued."""
        if not self._signed(headers.get("x-hub-signature-256", ""), raw):
            log.warning(
                "refused a GitHub delivery: bad or missing signature (%d-byte body)", len(raw)
            )
            return 401, {"ok": False, "error": "invalid_signature"}
        kind = headers.get("x-github-event", "")
        delivery = headers.get("x-github-delivery", "")
        if kind == "ping":
            return 200, {"ok": True, "pong": True}
        if kind != "pull_request":
            return 200, {"ok": True, "ignored": kind or "no event"}
        try:
            event = parse(delivery, json.loads(raw))
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("a pull_request delivery %s could not be read: %s", delivery, exc)
            return 400, {"ok": False, "error": "unreadable pull_request payload"}
        if event is None:
            return 200, {"ok": True, "ignored": "action"}
        self._work.submit(self._act, event)
        return 202, {"ok": True, "queued": delivery}

    def _signed(self, signature: str, raw: bytes) -> bool:
        expected = "sha256=" + hmac.new(self._secret, raw, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected.encode(), signature.strip().encode())

    def _act(self, event: PullRequestEvent) -> None:
        try:
            done = self._events.handle(event)
            log.info(
                "GitHub %s on #%s by %s: %s",
                event.action,
                event.pr,
                event.sender,
                done,
                extra={"delivery": event.delivery, "pr": event.pr},
            )
        except Exception:
            log.exception("GitHub delivery %s failed", event.delivery, extra={"pr": event.pr})

    def close(self) -> None:
        self._work.shutdown(wait=False, cancel_futures=True)


def parse(delivery: str, payload: dict[str, Any]) -> PullRequestEvent | None:
    """A ``pull_request`` payload as the event showtime acts on (None: an action it ignores)."""
    action = str(payload["action"])
    if action not in ACTIONS:
        return None
    pull = payload["pull_request"]
    label = payload.get("label") or {}
    return PullRequestEvent(
        delivery=delivery,
        action=action,
        sender=str(payload["sender"]["login"]),
        label=str(label["name"]) if label.get("name") else None,
        pull=PullRequest(
            number=int(pull["number"]),
            state=PrState(str(pull["state"])),
            merged=bool(pull.get("merged")),
            head_sha=str(pull["head"]["sha"]),
            title=str(pull.get("title") or ""),
            body=str(pull.get("body") or ""),
            author=str((pull.get("user") or {}).get("login") or "ghost"),
            html_url=str(pull.get("html_url") or ""),
            labels=tuple(str(item["name"]) for item in pull.get("labels") or []),
        ),
    )
