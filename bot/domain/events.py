"""Typed progress events.

Jobs and adapters report what they do as events; whoever subscribes (the Slack
thread reporter, the log, the sandbox console) decides how to show them.
Adapters receive a plain ``Progress`` callable so they stay independent of jobs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.domain.cost import Estimate

# A long wait reports at most once a minute (SPEC §7): the ECS waits and the Slack thread.
WAIT_REPORT_SECONDS = 60.0


@dataclass(frozen=True)
class StepStarted:
    step: str  # machine name, e.g. "clear_name"
    text: str  # human sentence, e.g. "Checking that pr-36121-abc1234-service is free"


@dataclass(frozen=True)
class StepFinished:
    step: str
    text: str


@dataclass(frozen=True)
class LogTail:
    """The last lines of an environment's container log, or why there are none (SPEC §14).

    ``lines`` are the container's own output — PR code's, so untrusted — as written,
    oldest first; whoever shows them bounds and escapes them. With no lines, ``problem``
    says why in one sentence ("no log yet: …"); reading a log never fails otherwise.
    """

    lines: tuple[str, ...] = ()
    problem: str = ""
    truncated: bool = False  # the log has earlier lines than these
    stream: str = ""  # where they come from, e.g. "ecs/superset-ci/0f3c…" (no ARN)


@dataclass(frozen=True)
class Waiting:
    """A long wait is still going on: at each state change and at most once a minute."""

    step: str
    state: str  # e.g. "DRAINING", "PENDING", "unhealthy"
    elapsed_seconds: float
    text: str  # e.g. "still DRAINING, 1m30s"
    log_line: str = ""  # the environment's newest log line, while its health check waits


@dataclass(frozen=True)
class Warning:
    text: str


@dataclass(frozen=True)
class Note:
    """Why the job was asked, when nobody typed it: "PR merged", "new commit abc1234 by @x"."""

    text: str


@dataclass(frozen=True)
class Queued:
    text: str


@dataclass(frozen=True)
class Resumed:
    step: str
    text: str = "resumed after restart"


@dataclass(frozen=True)
class Succeeded:
    text: str
    url: str = ""
    estimate: Estimate | None = None  # what the PR's running environment costs, as it ends
    checked: str = ""  # what the smoke check saw pass: "✓ login · 12 dashboards · SQL Lab"
    degraded: str = ""  # up, but a check keeps failing: "SQL Lab failed: HTTP 500 from …"
    log: LogTail | None = None  # a degraded environment's last lines (SPEC §15)


@dataclass(frozen=True)
class Failed:
    reason: str
    next_action: str = ""
    correlation_id: str = ""
    log: LogTail | None = None  # the failing task's last lines (a deploy whose task ran)


@dataclass(frozen=True)
class Cancelled:
    """Somebody cancelled the job (SPEC §16); what it had made is undone. Not a failure."""

    by: str  # who, as the job store keeps a requester ("slack:U…")
    after_seconds: float  # how long the job had run
    text: str  # "deploy of abc1234 cancelled: its service and labels are gone"


Outcome = Succeeded | Failed | Cancelled


@dataclass(frozen=True)
class Ended:
    """After the outcome and the writes nobody waited for: the job is about to be recorded
    as done, so the status message may now offer its buttons (a press earlier would find
    the PR still busy)."""

    outcome: Outcome


Event = (
    StepStarted
    | StepFinished
    | Waiting
    | Warning
    | Note
    | Queued
    | Resumed
    | Succeeded
    | Failed
    | Cancelled
    | Ended
)

Progress = Callable[[Event], None]


def no_progress(event: Event) -> None:
    """A ``Progress`` that drops events (for callers that do not report)."""


def format_elapsed(seconds: float) -> str:
    """``90`` → ``"1m30s"``; ``3725`` → ``"1h2m5s"``; ``42`` → ``"42s"``."""
    total = max(int(seconds), 0)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"
