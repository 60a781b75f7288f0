"""GitHub's side of webhooks: signed deliveries of what a person does on a PR (SPEC §11).

Each method first changes the GitHub stand-in the way the person's action would (a label
added, a commit pushed, the PR closed), then delivers the ``pull_request`` event GitHub
would send for it to the bot's ``/github/webhook`` — signed with the shared secret, with a
fresh ``X-GitHub-Delivery`` GUID (``redeliver`` sends the same delivery again).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.error import HTTPError
from urllib.request import Request, urlopen

from bot.sandbox.github import GitHubStandIn
from bot.sandbox.slack_client import SignedRequest


@dataclass(frozen=True)
class Delivery:
    """One delivery and the bot's answer."""

    guid: str
    event: str
    body: bytes
    status: int
    answer: dict[str, Any]


class WebhookSender:
    def __init__(self, url: str, secret: str, github: GitHubStandIn) -> None:
        self.url = url
        self._secret = secret.encode()
        self._github = github
        self.accepted: list[Delivery] = []  # what the bot took to act on (202)

    # ----- what people do --------------------------------------------------------------

    def label(self, pr: int, label: str, sender: str) -> Delivery:
        """``sender`` adds ``label`` to the PR."""
        self._github.set_labels(pr, [*self._github.labels(pr), label])
        payload = self._github.pull_request_payload(pr, "labeled", sender, label=label)
        return self.send("pull_request", payload)

    def push(self, pr: int, sender: str) -> Delivery:
        """``sender`` pushes a commit to the PR (a new head)."""
        self._github.push_commit(pr)
        return self.send(
            "pull_request", self._github.pull_request_payload(pr, "synchronize", sender)
        )

    def close(self, pr: int, sender: str, *, merged: bool = False) -> Delivery:
        self._github.close_pr(pr, merged=merged)
        return self.send("pull_request", self._github.pull_request_payload(pr, "closed", sender))

    def ping(self) -> Delivery:
        return self.send("ping", {"zen": "Design for failure.", "hook_id": 1})

    # ----- the wire ---------------------------------------------------------------------

    def send(
        self,
        event: str,
        payload: dict[str, Any],
        *,
        guid: str | None = None,
        signature: str | None = None,
    ) -> Delivery:
        body = json.dumps(payload).encode()
        return self.post(event, body, guid=guid or str(uuid.uuid4()), signature=signature)

    def redeliver(self, delivery: Delivery) -> Delivery:
        """The same delivery again, as GitHub's "Redeliver" button sends it."""
        return self.post(delivery.event, delivery.body, guid=delivery.guid)

    def build(self, event: str, payload: dict[str, Any]) -> SignedRequest:
        """A signed delivery ready to send later (the benchmarks' load client sends these)."""
        body = json.dumps(payload).encode()
        headers = self._headers(event, body, str(uuid.uuid4()))
        return SignedRequest(url=self.url, body=body.decode(), headers=headers)

    def post(self, event: str, body: bytes, *, guid: str, signature: str | None = None) -> Delivery:
        headers = self._headers(event, body, guid, signature)
        request = Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urlopen(request, timeout=10) as response:
                status, raw = int(response.status), response.read()
        except HTTPError as error:
            status, raw = error.code, error.read()
        answer = json.loads(raw) if raw else {}
        delivery = Delivery(guid, event, body, status, answer)
        if status == 202:
            self.accepted.append(delivery)
        return delivery

    def _headers(
        self, event: str, body: bytes, guid: str, signature: str | None = None
    ) -> dict[str, str]:
        if signature is None:
            signature = "sha256=" + hmac.new(self._secret, body, hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "GitHub-Hookshot/sandbox",
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": guid,
            "X-GitHub-Hook-ID": "1",
        }
        if signature:
            headers["X-Hub-Signature-256"] = signature
        return headers
