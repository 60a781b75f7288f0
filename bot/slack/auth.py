"""Who may change things: SHOWTIME_ALLOWED_USERS, or members of SHOWTIME_ALLOWED_USERGROUPS.

Group membership comes from ``usergroups.users.list``, cached for a few minutes
so a burst of button presses costs one Slack call per group, not one per press.
Read-only commands never get here.
"""

from __future__ import annotations

import logging
import threading
from collections import deque

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.clock import SYSTEM_CLOCK, Clock
from bot.config import Settings

log = logging.getLogger(__name__)

GROUP_CACHE_SECONDS = 300.0
GROUP_STALE_SECONDS = 900.0  # the longest a cached membership serves while Slack fails


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
        except (SlackApiError, OSError) as exc:
            error = exc.response.get("error") if isinstance(exc, SlackApiError) else exc
            # While Slack fails, the last answer stands for a while — but it keeps the time it
            # was fetched: someone removed from the group loses access once it is too old,
            # however long the errors go on (fail closed).
            if cached and now - cached[0] < GROUP_STALE_SECONDS:
                log.warning(
                    "usergroups.users.list failed for %s (%s); using its last answer",
                    group_id,
                    error,
                )
                return cached[1]
            log.warning(
                "usergroups.users.list failed for %s (%s); nobody in it is allowed", group_id, error
            )
            return frozenset()
        with self._lock:
            self._members[group_id] = (now, members)
        return members


class PerUserLimit:
    """At most ``limit`` requests per user in any ``window`` seconds (SPEC §12).

    Read-only commands are open to the whole workspace and each costs GitHub and AWS calls
    (``list`` searches every labelled PR): one person repeating them must not use up the
    rate limits every deploy depends on. In memory, per process; checked in the ack path,
    so it must stay cheap: a deque per active user, users with no recent request dropped.
    """

    def __init__(self, limit: int, window: float, clock: Clock = SYSTEM_CLOCK) -> None:
        self._limit = limit
        self._window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: dict[str, deque[float]] = {}

    def allow(self, user_id: str) -> bool:
        now = self._clock.monotonic()
        with self._lock:
            if len(self._seen) > 1000:  # forget users who went quiet
                for user in [
                    u for u, times in self._seen.items() if now - times[-1] > self._window
                ]:
                    del self._seen[user]
            times = self._seen.setdefault(user_id, deque())
            while times and now - times[0] >= self._window:
                times.popleft()
            if len(times) >= self._limit:
                return False
            times.append(now)
            return True
