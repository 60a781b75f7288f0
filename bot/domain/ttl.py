"""PR-level TTLs (the ⌛ label) and expiry arithmetic.

The CLI's rule: an environment expires at its 📅 created time plus the PR's ⌛ TTL.
``close`` never expires by time; it is stopped when the PR closes.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

TTL_VALUES: tuple[str, ...] = ("24h", "48h", "72h", "1w", "close")
CLOSE = "close"
# What Extend steps through: every TTL with an expiry, shortest first (SPEC §17).
EXTEND_STEPS: tuple[str, ...] = ("24h", "48h", "72h", "1w")
LONGEST = EXTEND_STEPS[-1]

_DURATION = re.compile(r"(\d{1,4})([hdw])", re.ASCII)
_UNIT_HOURS = {"h": 1, "d": 24, "w": 24 * 7}


def is_ttl(value: str) -> bool:
    """Any TTL the labels may carry: the command values plus the CLI's ``<n>h|d|w``."""
    return value == CLOSE or _DURATION.fullmatch(value) is not None


def ttl_duration(ttl: str) -> timedelta | None:
    """``"48h"`` → 48 hours; ``"close"`` (or anything unknown) → ``None`` (no time limit)."""
    match = _DURATION.fullmatch(ttl)
    if not match:
        return None
    return timedelta(hours=int(match.group(1)) * _UNIT_HOURS[match.group(2)])


def expires_at(created: datetime, ttl: str) -> datetime | None:
    duration = ttl_duration(ttl)
    return None if duration is None else created + duration


def time_left(created: datetime, ttl: str, now: datetime) -> timedelta | None:
    """Time until expiry (negative once expired); ``None`` when it never expires by time."""
    expiry = expires_at(created, ttl)
    return None if expiry is None else expiry - now


def is_expired(created: datetime, ttl: str, now: datetime) -> bool:
    left = time_left(created, ttl, now)
    return left is not None and left <= timedelta(0)


def expires_within_hour(created: datetime, ttl: str, now: datetime) -> bool:
    left = time_left(created, ttl, now)
    return left is not None and timedelta(0) < left <= timedelta(hours=1)


def next_ttl(ttl: str | None) -> str | None:
    """One Extend press: 24h → 48h → 72h → 1w, and no further (None).

    Extend never takes the expiry away by itself: ``close`` (no expiry until the PR closes)
    is set only by asking for it (``/showtime ttl <pr> close``), so at 1w — or at anything
    as long, ``close`` included — there is no next step. A TTL outside the ladder (a CLI
    ``12h``) moves to the first step longer than it; no TTL at all to the first step.
    """
    if ttl is None:
        return EXTEND_STEPS[0]
    current = ttl_duration(ttl)
    if current is None:  # close (or a value nobody can read): nothing longer to offer
        return None
    for step in EXTEND_STEPS:
        step_duration = ttl_duration(step)
        if step_duration is not None and step_duration > current:
            return step
    return None


def format_duration(delta: timedelta | None) -> str:
    """Short human form: ``1d 3h``, ``5h 12m``, ``12m``, ``expired``, ``until close``."""
    if delta is None:
        return "until close"
    seconds = int(delta.total_seconds())
    if seconds <= 0:
        return "expired"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{max(minutes, 1)}m"
