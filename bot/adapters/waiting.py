"""One long wait: its deadline, and what it tells people while it lasts (SPEC §7).

Every wait the bot does for a person — a DRAINING name, a service becoming stable,
Superset answering its health check — keeps the same promise: an event at each
state change and, while nothing changes, a heartbeat at most once a minute; never
a sleep past the deadline, so the last look happens at the deadline itself. The
ECS engine and the HTTP health probe share this; the polling and the texts are
theirs. Time comes from an injected ``Clock``, so tests wait minutes in milliseconds.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal

from bot.clock import Clock
from bot.domain.events import WAIT_REPORT_SECONDS, Progress, Waiting, format_elapsed

Reason = Literal["first", "changed", "heartbeat"]

# (state, detail, elapsed seconds, why the event is sent) → the event's text
WaitText = Callable[[str, str, float, Reason], str]

_FIELD = re.compile(r"\{(state|detail|elapsed)\}")


def phrased(first: str, changed: str, heartbeat: str) -> WaitText:
    """A wait's texts from three sentences — when it begins, when its state changes, and
    the heartbeat — in which ``{state}``, ``{detail}`` and ``{elapsed}`` stand for the wait's
    state, its detail and how long it has lasted (``2m10s``)."""
    sentences: dict[Reason, str] = {"first": first, "changed": changed, "heartbeat": heartbeat}

    def text(state: str, detail: str, elapsed: float, reason: Reason) -> str:
        fields = {"state": state, "detail": detail, "elapsed": format_elapsed(elapsed)}
        return _FIELD.sub(lambda match: fields[match.group(1)], sentences[reason])

    return text


class Wait:
    """Deadline and reporting of one wait: an event per state change, a heartbeat a minute."""

    def __init__(
        self, clock: Clock, timeout: float, step: str, progress: Progress, text: WaitText
    ) -> None:
        self._clock = clock
        self._timeout = timeout
        self._step = step
        self._progress = progress
        self._text = text
        self._started = clock.monotonic()
        self._state: str | None = None
        self._last_report = self._started

    @property
    def elapsed(self) -> float:
        return self._clock.monotonic() - self._started

    @property
    def remaining(self) -> float:
        return max(self._timeout - self.elapsed, 0.0)

    @property
    def expired(self) -> bool:
        return self.elapsed >= self._timeout

    @property
    def state(self) -> str | None:
        return self._state

    def observe(self, state: str, detail: str = "") -> None:
        """Report ``state`` if it changed or a minute passed; ``detail`` only goes in the text."""
        now = self._clock.monotonic()
        if state != self._state:
            reason: Reason = "first" if self._state is None else "changed"
        elif now - self._last_report >= WAIT_REPORT_SECONDS:
            reason = "heartbeat"
        else:
            return
        self._state = state
        self._last_report = now
        elapsed = now - self._started
        self._progress(
            Waiting(self._step, state, elapsed, self._text(state, detail, elapsed, reason))
        )

    def pause(self, seconds: float) -> None:
        """Sleep, but never past the deadline: the last check happens at the deadline."""
        self._clock.sleep(max(min(seconds, self.remaining), 0.0))


def duration(seconds: float) -> str:
    """``600`` → ``"10m"``, ``90`` → ``"1m30s"``: timeouts read as people say them."""
    text = format_elapsed(seconds)
    if text != "0s" and text.endswith("m0s"):
        text = text[:-2]
    if text.endswith("h0m"):
        text = text[:-2]
    return text
