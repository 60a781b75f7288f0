"""The bot's exception hierarchy.

Every error a person can see says what failed and what to do next. Adapters
subclass these; the orchestrator turns them into a failed job with a reason and
a next action, and the Slack layer shows both.
"""

from __future__ import annotations

import re

from bot.domain.masking import mask_secrets


class ShowtimeError(Exception):
    """Base class: ``message`` says what went wrong, ``next_action`` what to do."""

    def __init__(self, message: str, next_action: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.next_action = next_action

    def __str__(self) -> str:
        if self.next_action:
            return f"{self.message} — {self.next_action}"
        return self.message


class UserInputError(ShowtimeError):
    """The request itself is wrong (bad PR, bad SHA, closed PR...). Nothing changed."""


class RefusedError(ShowtimeError):
    """The request is valid but not allowed now (blocked PR, limit, permissions)."""


class AlreadyRunningError(RefusedError):
    """Another job already runs for this PR."""


class NothingToDo(RefusedError):
    """The request would change nothing (no environment to stop, already frozen, already
    that TTL, Extend at the longest TTL): ``message`` says how things are. Only the person
    who asked is told — no status message, no thread, no write (SPEC §17)."""


class ConfigurationError(ShowtimeError):
    """A setting or credential is missing or wrong; an admin must fix it."""


class RemoteError(ShowtimeError):
    """A call to GitHub or AWS failed permanently.

    ``service`` is "AWS" or "GitHub", ``operation`` the API call, ``code`` the
    remote error code, ``resource`` what it was about.
    """

    def __init__(
        self,
        message: str,
        next_action: str = "",
        *,
        service: str,
        operation: str,
        code: str = "",
        resource: str = "",
    ) -> None:
        super().__init__(message, next_action)
        self.service = service
        self.operation = operation
        self.code = code
        self.resource = resource


class StoppedTaskError(RemoteError):
    """An environment's task stopped while it was being deployed.

    ``task`` names it (its ARN), so the failure can quote that task's own log (SPEC §14);
    ``started`` is False when its container never ran (the image could not be pulled):
    then it wrote no log at all. Adapters set both; the orchestrator only reads them.
    """

    task: str = ""
    started: bool = True


class SmokeCheckError(ShowtimeError):
    """Superset answers its health check, but nobody can log in to it (SPEC §15)."""


class WaitTimeoutError(ShowtimeError):
    """A wait (DRAINING, stability, health) ran out of time."""


# ----- what people may see ----------------------------------------------------------

# arn:partition:service:region:account:resource — the resource keeps its last segment only
# for what the bot itself names (services, task definitions, clusters, tasks); IAM users and
# roles, and everything else, are dropped.
_ARN = re.compile(r"arn:aws[a-z-]*:([a-z0-9-]+):[a-z0-9-]*:(\d{12})?:([^\s,;\"'<>()]+)")
_NAMED_BY_THE_BOT = ("service/", "task-definition/", "cluster/", "task/")
_ACCOUNT_ID = re.compile(r"(?<![0-9])\d{12}(?![0-9])")


def public_text(text: str) -> str:
    """``text`` without credentials (``mask_secrets``) or the bot's own infrastructure
    details: ARNs and account IDs.

    AWS and database messages quote them ("User: arn:aws:sts::123456789012:assumed-role/…
    is not authorized"); SPEC §12 keeps them out of Slack and PR comments (the logs,
    under the correlation id, have the original). Credentials go first: an account id's
    digits inside an access key id would otherwise break the key's shape.
    """

    def arn(match: re.Match[str]) -> str:
        resource = match.group(3)
        if resource.startswith(_NAMED_BY_THE_BOT):
            return resource.rsplit("/", 1)[-1]
        return f"[{match.group(1)} resource]"

    text = _ARN.sub(arn, mask_secrets(text))
    return _ACCOUNT_ID.sub("[account]", text)
