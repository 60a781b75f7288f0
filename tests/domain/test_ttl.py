from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain import ttl as T

CREATED = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def test_expiry_and_time_left() -> None:
    assert T.expires_at(CREATED, "48h") == CREATED + timedelta(hours=48)
    assert T.expires_at(CREATED, "1w") == CREATED + timedelta(days=7)
    assert T.expires_at(CREATED, "close") is None
    now = CREATED + timedelta(hours=47, minutes=30)
    assert T.time_left(CREATED, "48h", now) == timedelta(minutes=30)
    assert T.expires_within_hour(CREATED, "48h", now)
    assert not T.is_expired(CREATED, "48h", now)
    assert T.is_expired(CREATED, "48h", CREATED + timedelta(hours=48))
    assert not T.is_expired(CREATED, "close", CREATED + timedelta(days=999))
    assert not T.expires_within_hour(CREATED, "close", now)


@pytest.mark.parametrize(
    ("current", "following"),
    [
        ("24h", "48h"),
        ("48h", "72h"),
        ("72h", "1w"),
        ("1w", None),  # Extend never removes the expiry by itself (SPEC §17)
        ("close", None),
        (None, "24h"),
        ("12h", "24h"),
        ("2w", None),
    ],
)
def test_extend_ladder(current: str | None, following: str | None) -> None:
    assert T.next_ttl(current) == following


def test_format_duration() -> None:
    assert T.format_duration(timedelta(days=1, hours=3)) == "1d 3h"
    assert T.format_duration(timedelta(hours=5, minutes=12)) == "5h 12m"
    assert T.format_duration(timedelta(seconds=20)) == "1m"
    assert T.format_duration(timedelta(0)) == "expired"
    assert T.format_duration(None) == "until close"
