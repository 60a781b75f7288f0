"""Who may change things: SHOWTIME_ALLOWED_USERS, or members of SHOWTIME_ALLOWED_USERGROUPS.

Group membership comes from ``usergroups.users.list``, cached for a few minutes
so a burst of button presses costs one Slack call per group, not one per press.
Read-only commands never get here.
"""

from __future__ import annotations

import logging
import threading

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.clock import SYSTEM_CLOCK, Clock
from bot.config import Settings

log = logging.getLogger(__name__)

GROUP_CACHE_SECONDS = 300.0


class Authorizer:
    def __init__(self, settings: Settings, client: WebClient, clock: Clock = SYSTEM_CLOCK) -> None:
        self._users = set(settings.showtime_allowed_users)
        self._groups = list(settings.showtime_allowed_usergroups)
        self._client = client
        self._clock = clock
        self._lock = threading.Lock()
        self._members: dict[str, tuple[float, frozenset[str]]] = {}

    def refusal(self, user_id: str) -> str | None:
        """``None`` when ``user_id`` may change state, else a message saying how to get access."""
        if not self._users and not self._groups:
            return (
                "Nobody may change environments yet: an admin must set SHOWTIME_ALLOWED_USERS "
                "(Slack user IDs) or SHOWTIME_ALLOWED_USERGROUPS (user group IDs) for the bot."
            )
        if user_id in self._users or any(user_id in self._group(g) for g in self._groups):
            return None
        return (
            f"You (<@{user_id}>, `{user_id}`) may not change environments. An admin can add your "
            "user ID to SHOWTIME_ALLOWED_USERS, or you to a group in SHOWTIME_ALLOWED_USERGROUPS. "
            "`status`, `list` and `help` are open to everyone."
        )

    def _group(self, group_id: str) -> frozenset[str]:
        now = self._clock.monotonic()
        with self._lock:
            cached = self._members.get(group_id)
            if cached and now - cached[0] < GROUP_CACHE_SECONDS:
                return cached[1]
        try:
            response = self._client.usergroups_users_list(usergroup=group_id)
            members = frozenset(response.get("users") or [])
        except SlackApiError as exc:
            log.warning(
                "usergroups.users.list failed for %s: %s", group_id, exc.response.get("error")
            )
            members = cached[1] if cached else frozenset()
        with self._lock:
            self._members[group_id] = (now, members)
        return members
