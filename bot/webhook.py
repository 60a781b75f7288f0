"""``POST /github/webhook``: GitHub deliveries in, the same jobs as Slack out (SPEC §11).

An entry point like the Bolt listeners: it checks the signature, answers at once and
queues the work; deciding what a delivery means is the orchestrator's (``GitHubEvents``).

- ``X-Hub-Signature-256`` is ``sha256=`` + the hex HMAC-SHA256 of the raw body with
  GITHUB_WEBHOOK_SECRET, compared in constant time; missing or wrong → 401, nothing else.
- Answered before any remote call or database write (p99 < 100 ms): ``ping`` → 200,
  ``pull_request`` → 202 with the work queued, anything else → 200, ignored.
- ``X-GitHub-Delivery`` (required: 400 without) and the SHA-256 of the body are recorded
  in the job store once the work acted on them: a redelivery or a replay under a new GUID
  finds them there and does nothing (SPEC §11).
- A signed payload of the wrong shape is a 400 naming the field; nothing answers a traceback.

The body limit (5 MiB, refused before it is read whole) is the HTTP server's
(``bot.server.BODY_LIMITS``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from bot.config import Settings
from bot.orchestrator.github_events import GitHubEvents, PullRequestEvent, body_sha

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
        """(HTTP status, JSON answer) for one delivery; the work, if any, is queued.

        Never a traceback: what cannot be read is a 400 naming the field, anything
        unexpected a 500 with a reference the log has the details under."""
        try:
            return self._receive(headers, raw)
        except Exception:
            ref = uuid.uuid4().hex[:8]
            log.exception("a GitHub delivery failed (ref %s)", ref, extra={"ref": ref})
            return 500, {"ok": False, "error": "internal_error", "ref": ref}

    def _receive(self, headers: Mapping[str, str], raw: bytes) -> tuple[int, dict[str, Any]]:
        if not self._signed(headers.get("x-hub-signature-256", ""), raw):
            log.warning(
                "refused a GitHub delivery: bad or missing signature (%d-byte body)", len(raw)
            )
            return 401, {"ok": False, "error": "invalid_signature"}
        kind = headers.get("x-github-event", "")
        delivery = headers.get("x-github-delivery", "").strip()
        if not delivery or len(delivery) > 100:
            return 400, {"ok": False, "error": "missing or malformed X-GitHub-Delivery header"}
        if kind == "ping":
            return 200, {"ok": True, "pong": True}
        if kind != "pull_request":
            return 200, {"ok": True, "ignored": kind or "no event"}
        try:
            event = parse(delivery, raw)
        except PayloadError as exc:
            log.warning("pull_request delivery %s refused: %s", delivery, exc)
            return 400, {"ok": False, "error": str(exc)}
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


class PayloadError(ValueError):
    """A signed payload of the wrong shape: says which field."""


def parse(delivery: str, raw: bytes) -> PullRequestEvent | None:
    """A ``pull_request`` delivery as the claim showtime acts on (None: an action it
    ignores); ``PayloadError`` naming the field when the payload is not what GitHub sends."""
    try:
        payload = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise PayloadError(f"the body is not JSON ({type(exc).__name__})") from None
    if not isinstance(payload, dict):
        raise PayloadError("the body is not a JSON object")
    action = _field(payload, "action", str)
    if action not in ACTIONS:
        return None
    pull = _field(payload, "pull_request", dict)
    head = _field(pull, "head", dict, "pull_request.")
    sha = _field(head, "sha", str, "pull_request.head.")
    if not _SHA.fullmatch(sha):
        raise PayloadError("field `pull_request.head.sha` is not a 40-hex commit SHA")
    number = _field(pull, "number", int, "pull_request.")
    if isinstance(number, bool) or not 0 < number < 2**31:
        raise PayloadError("field `pull_request.number` is not a pull request number")
    sender = _field(_field(payload, "sender", dict), "login", str, "sender.")
    label = None
    if action == "labeled":
        label = _field(_field(payload, "label", dict), "name", str, "label.")
    return PullRequestEvent(
        delivery=delivery,
        body_sha=body_sha(raw),
        action=action,
        sender=sender,
        number=number,
        head_sha=sha.lower(),
        label=label,
    )


_SHA = re.compile(r"[0-9a-fA-F]{40}")
T = TypeVar("T")


def _field(data: dict[str, Any], name: str, kind: type[T], where: str = "") -> T:
    value = data.get(name)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        found = "missing" if value is None else f"a {type(value).__name__}"
        raise PayloadError(f"field `{where}{name}` is {found}, not a {kind.__name__}")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON GitHub sends")
