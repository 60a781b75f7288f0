"""Time, injectable.

Every wait in the bot (DRAINING, stability, health checks, heartbeats) takes a
``Clock`` so tests replace minutes of real waiting with a fake that advances
instantly when asked to sleep.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards (for timeouts)."""
        ...

    def sleep(self, seconds: float) -> None: ...

    def wait(self, event: threading.Event, seconds: float) -> bool:
        """Sleep ``seconds`` or until ``event`` is set, whichever comes first; is it set?"""
        ...

    def now(self) -> datetime:
        """Wall-clock time, timezone-aware UTC (for labels and TTLs)."""
        ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def wait(self, event: threading.Event, seconds: float) -> bool:
        return event.wait(max(seconds, 0.0))

    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock:
    """A clock for tests: ``sleep`` advances time at once instead of waiting.

    ``wait`` behaves as on the system clock, in fake time: an event already set ends it at
    once (no time passes); otherwise the whole interval passes, and whether the event is set
    then is the answer — so an interrupted wait ends the same way under both clocks.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._lock = threading.Lock()
        self._mono = 1000.0
        self._wall = start or datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
        self.slept: list[float] = []

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)
        with self._lock:
            self.slept.append(seconds)

    def wait(self, event: threading.Event, seconds: float) -> bool:
        if event.is_set():
            return True
        self.sleep(seconds)
        return event.is_set()

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._mono += max(seconds, 0.0)
            self._wall += timedelta(seconds=max(seconds, 0.0))

    def now(self) -> datetime:
        with self._lock:
            return self._wall

    def set_now(self, when: datetime) -> None:
        with self._lock:
            self._wall = when


SYSTEM_CLOCK = SystemClock()
