"""The health probe's wait: 200 ends it, anything else is reported and polled (SPEC §6, §7).

A fake ``http_get`` and a FakeClock: minutes of waiting cost nothing. Real HTTP,
and redirects, are in test_health_check_redirects.py.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.adapters.health import HealthTimeoutError, HttpHealthProbe
from bot.clock import FakeClock
from bot.config import Settings
from bot.domain.events import Event, Waiting

URL = "http://10.0.1.5:8080/health"


def probe(
    answers: Callable[[str, float], int], clock: FakeClock, **settings: float
) -> HttpHealthProbe:
    values: dict[str, object] = {
        "_env_file": None,
        "showtime_poll_seconds": 5.0,
        "showtime_health_timeout_seconds": 900.0,
        **settings,
    }
    return HttpHealthProbe(Settings(**values), clock, http_get=answers)  # type: ignore[arg-type]


def test_a_starting_superset_is_reported_once_then_the_wait_ends_at_200() -> None:
    clock = FakeClock()
    answers = [503, 503, 200]
    events: list[Event] = []

    probe(lambda url, timeout: answers.pop(0), clock).wait_healthy(URL, events.append)

    assert answers == []
    assert events == [
        Waiting("health_check", "HTTP 503", 0.0, f"waiting for {URL} to answer (HTTP 503)")
    ]
    assert clock.slept == [5.0, 5.0]


def test_no_answer_is_a_state_with_a_heartbeat_a_minute_and_a_change_reported() -> None:
    clock = FakeClock()
    started = clock.monotonic()

    def answer(url: str, timeout: float) -> int:
        if clock.monotonic() - started < 90:
            raise ConnectionRefusedError("connection refused")
        return 502 if clock.monotonic() - started < 120 else 200

    events: list[Event] = []
    probe(answer, clock).wait_healthy(URL, events.append)

    assert [e.text for e in events if isinstance(e, Waiting)] == [
        f"waiting for {URL} to answer (no answer yet)",
        f"still waiting for {URL} (no answer yet), 1m0s",
        f"{URL}: HTTP 502, 1m30s",
    ]


def test_a_health_check_that_never_answers_200_times_out_at_the_deadline() -> None:
    clock = FakeClock()
    started = clock.monotonic()
    timeouts: list[float] = []

    def answer(url: str, timeout: float) -> int:
        timeouts.append(timeout)
        return 502

    with pytest.raises(HealthTimeoutError) as caught:
        probe(answer, clock, showtime_health_timeout_seconds=22).wait_healthy(URL)

    assert str(caught.value).startswith(f"{URL} did not answer 200 within 22s (last: HTTP 502)")
    assert "Logs" in caught.value.next_action
    assert clock.monotonic() - started == 22  # the last look is at the deadline, not past it
    # Each GET may take up to 10 s, but never less than 1 s, nor (much) beyond the deadline.
    assert timeouts[0] == 10.0 and timeouts[-1] == 1.0
