"""Who asked: a Slack user, a GitHub login, or the bot itself — said, never guessed.

A GitHub login can look exactly like a Slack user id (``UCEO12345`` is a valid login), so a
requester carries its kind from where it came in (SPEC §11): only a Slack user is ever
mentioned in Slack or counted as someone's own environment. Stored as ``slack:U123``,
``github:login`` or ``system:sweeper`` (the job store, the ECS ``requested_by`` tag); a value
without a prefix was written by an older bot or by the CLI and stays what it says, a name.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class RequesterKind(StrEnum):
    SLACK = "slack"  # a Slack user id (U…/W…)
    GITHUB = "github"  # a GitHub login (webhooks, the CLI's github_user tag)
    SYSTEM = "system"  # the bot itself: the sweeper, cleanup
    UNTAGGED = "untagged"  # written before requesters were typed: a name, nothing more


@dataclass(frozen=True)
class Requester:
    kind: RequesterKind
    id: str  # the Slack user id, the login, or the system part's name
    name: str = ""  # what the 🤡 label says (a GitHub login, else a Slack name); "" → id

    @classmethod
    def slack(cls, user_id: str, name: str = "") -> Requester:
        return cls(RequesterKind.SLACK, user_id, name)

    @classmethod
    def github(cls, login: str) -> Requester:
        return cls(RequesterKind.GITHUB, login, login)

    @classmethod
    def system(cls, part: str) -> Requester:
        return cls(RequesterKind.SYSTEM, part, part)

    @classmethod
    def parse(cls, stored: str, name: str = "") -> Requester:
        """A stored value back as a requester (an unprefixed one is untagged, not guessed)."""
        kind, sep, rest = stored.partition(":")
        if sep and kind in RequesterKind.__members__.values() and rest:
            typed = RequesterKind(kind)
            if typed is not RequesterKind.SLACK and not name:
                name = rest  # a login or a part of the bot is its own name
            return cls(typed, rest, name)
        return cls(RequesterKind.UNTAGGED, stored, name)

    @property
    def stored(self) -> str:
        """``slack:U123``: how the job store and the ECS tag keep it."""
        if self.kind is RequesterKind.UNTAGGED:
            return self.id
        return f"{self.kind}:{self.id}"

    @property
    def slack_user(self) -> str | None:
        """The Slack user id, when a Slack user asked (the only ones mentioned or DMed)."""
        return self.id if self.kind is RequesterKind.SLACK else None

    @property
    def label_name(self) -> str:
        """What the 🤡 label says."""
        return self.name or self.id

    @property
    def is_system(self) -> bool:
        return self.kind is RequesterKind.SYSTEM

    def is_person(self, slack_user: str) -> bool:
        """Is this ``slack_user``'s own request? Untagged values (an older bot's, which
        were Slack ids) count only when they are exactly that id."""
        if self.kind is RequesterKind.SLACK:
            return self.id == slack_user
        return self.kind is RequesterKind.UNTAGGED and self.id == slack_user

    def __str__(self) -> str:
        return self.label_name


SWEEPER = Requester.system("sweeper")
CLEANUP = Requester.system("cleanup")
