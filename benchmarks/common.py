"""What the benchmarks share: sandbox settings, waiting for deploys, reading the bot's log."""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence

from bot.sandbox.harness import Sandbox, response_url_of

# The bot's settings every benchmark sandbox gets (on top of the harness's own).
BOT_ENV = {
    # Benchmarks run up to 100 environments at once; the default limit is 30.
    "SHOWTIME_MAX_ENVIRONMENTS": "1000",
    # No TTL sweep may run in the middle of a measurement.
    "SHOWTIME_SWEEP_SECONDS": "3600",
    # Deploys held in flight on purpose must not time out while they are measured.
    "SHOWTIME_STABLE_TIMEOUT_SECONDS": "3600",
    "SHOWTIME_HEALTH_TIMEOUT_SECONDS": "600",
    "SHOWTIME_DRAIN_TIMEOUT_SECONDS": "600",
}

# A start job whose last finished step is this one is polling ECS for stability.
WAITING_STEP = "create_service"
STORE_SCAN = 1000  # jobs read from the store when counting; more than any benchmark makes


def add_prs(sandbox: Sandbox, numbers: Iterable[int]) -> None:
    for number in numbers:
        sandbox.github.add_pr(number, f"benchmark PR {number}", "FEATURE_ALERT_REPORTS=true\n")


def send_starts(sandbox: Sandbox, numbers: Iterable[int]) -> None:
    """Type ``start <pr>`` for each PR without waiting for the deploys, but until each
    request has made its job (or was answered without one): the ack comes before the job is
    recorded, so a wait for "no live job" straight after the acks could end at once."""
    urls: list[str] = []
    for number in numbers:
        outcome = sandbox.command(f"start {number}", wait=False)
        url = response_url_of(outcome.response)
        if not outcome.response.ok or url is None:
            raise RuntimeError(f"start {number} was answered {outcome.response.status_code}")
        urls.append(url)
    wait_until(lambda: _handled(sandbox, urls), 120, f"{len(urls)} starts to make their jobs")


def _handled(sandbox: Sandbox, response_urls: list[str]) -> bool:
    made = {job.params.response_url for job in sandbox.store.recent(limit=STORE_SCAN)}
    return all(url in made or sandbox.slack.responses(url) for url in response_urls)


def live_jobs(sandbox: Sandbox) -> int:
    return sum(1 for job in sandbox.store.recent(limit=STORE_SCAN) if job.live)


def waiting_deploys(sandbox: Sandbox, *, exclude_owners: frozenset[str] = frozenset()) -> int:
    """Start jobs that are live and polling ECS until their service is stable.

    ``exclude_owners``: bot processes that were stopped; their jobs count again only
    once the running bot has adopted them.
    """
    return sum(
        1
        for job in sandbox.store.recent(limit=STORE_SCAN)
        if job.live
        and job.kind == "start"
        and job.step == WAITING_STEP
        and job.owner not in exclude_owners
    )


def wait_for_waiting(
    sandbox: Sandbox,
    count: int,
    *,
    exclude_owners: frozenset[str] = frozenset(),
    timeout: float = 120.0,
) -> None:
    """Until ``count`` deploys poll ECS for stability (see ``waiting_deploys``)."""
    wait_until(
        lambda: waiting_deploys(sandbox, exclude_owners=exclude_owners) >= count,
        timeout,
        f"{count} deploys to poll ECS",
    )


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise TimeoutError(f"gave up after {timeout:g}s waiting for {what}")


def wait_idle(sandbox: Sandbox, timeout: float) -> None:
    """Until no job is live (the harness's own wait looks at the newest 100 jobs only)."""
    wait_until(lambda: live_jobs(sandbox) == 0, timeout, "every job to finish")


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of already sorted values (p in 0..100)."""
    if not sorted_values:
        return math.nan
    rank = max(math.ceil(p / 100 * len(sorted_values)), 1)
    return sorted_values[rank - 1]


_LEVEL = re.compile(r"^\S+ \S+ (WARNING|ERROR|CRITICAL) (\S+): (.*)$")
_VARYING = re.compile(r"[0-9a-f]{6,}|\d+")


def log_problems(sandbox: Sandbox) -> list[str]:
    """One line per distinct WARNING/ERROR message in the bot's log, with its count."""
    seen: Counter[str] = Counter()
    tracebacks = 0
    for line in sandbox.bot_log().splitlines():
        if line.startswith("Traceback"):
            tracebacks += 1
        match = _LEVEL.match(line)
        if match:
            level, logger, message = match.groups()
            # Numbers (ports, ids, counts) vary; group the messages without them.
            shape = _VARYING.sub("#", message)[:90]
            seen[f"{level} {logger}: {shape}"] += 1
    lines = [f"bot log: {count} x {message}" for message, count in seen.most_common()]
    if tracebacks:
        lines.append(f"bot log: {tracebacks} traceback(s)")
    return lines or ["bot log: no warnings or errors"]


def new_sandbox(
    *, drain_seconds: float, stable_seconds: float, poll_seconds: float, env: dict[str, str]
) -> Sandbox:
    """A sandbox with ``BOT_ENV``; use it as a context manager (that starts it)."""
    return Sandbox(
        drain_seconds=drain_seconds,
        stable_seconds=stable_seconds,
        poll_seconds=poll_seconds,
        env={**BOT_ENV, **env},
    )
