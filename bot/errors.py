"""The bot's exception hierarchy.

Every error a person can see says what failed and what to do next. Adapters
subclass these; the orchestrator turns them into a failed job with a reason and
a next action, and the Slack layer shows both.
"""

from __future__ import annotations


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


class WaitTimeoutError(ShowtimeError):
    """A wait (DRAINING, stability, health) ran out of time."""
