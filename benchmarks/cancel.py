"""Cancel pressed → job stopped (SPEC §10: ≤ 5 s, from inside any wait), at random points.

One sandbox, the bot in its own process. Each run deploys a fresh PR and presses Cancel
(`/showtime cancel <pr>`, signed like Slack's) after a random delay, so the press lands in
whatever the deploy is doing then: claiming, registering, waiting for a DRAINING name (half
the PRs were started and stopped first, and ECS holds their names DRAINING for a while),
waiting for stability, the health check or the smoke check. The time is from the press to
the job store saying the job is over (cancelled: undone and recorded). A press after the
point of no return is counted apart ("too late": the environment comes up, and the answer
says to press Stop).
"""

from __future__ import annotations

import logging
import random
import statistics
import time
from collections.abc import Callable

from benchmarks import common
from benchmarks.table import Table
from bot.orchestrator.jobs import Job, JobKind, JobState
from bot.sandbox.harness import Sandbox

log = logging.getLogger(__name__)

RUNS = 20
FIRST_PR = 41000
DRAIN_SECONDS = 6.0  # a stopped name stays DRAINING this long
STABLE_SECONDS = 3.0  # a new task runs after this long
BUDGET_SECONDS = 5.0


def run() -> list[Table]:
    rng = random.Random(20261206)
    table = Table(
        "Cancel: press → job stopped, at random points of a deploy (SPEC §10: ≤ 5 s)",
        ["runs", "cancelled", "too late", "p50 s", "p99 s", "max s", "budget s"],
        decimals=2,
    )
    steps = Table("Where the cancels landed", ["last finished step", "cancels"], decimals=0)
    with common.new_sandbox(
        drain_seconds=DRAIN_SECONDS, stable_seconds=STABLE_SECONDS, poll_seconds=0.5, env={}
    ) as sandbox:
        numbers = list(range(FIRST_PR, FIRST_PR + RUNS))
        common.add_prs(sandbox, numbers)
        took: list[float] = []
        too_late = 0
        where: dict[str, int] = {}
        for index, number in enumerate(numbers):
            lasts = STABLE_SECONDS + 1.0  # about how long the deploy takes in this sandbox
            if index % 2 == 0:  # half of them: a DRAINING name to wait out first
                sandbox.command(f"start {number}")
                sandbox.command(f"stop {number}")
                lasts += DRAIN_SECONDS
            sandbox.command(f"start {number}", wait=False)
            common.wait_until(_deploying(sandbox, number), 30, f"#{number}'s deploy")
            time.sleep(rng.uniform(0.0, lasts))
            job = _live_start(sandbox, number)
            step = (job.step if job else None) or "done"
            pressed = time.monotonic()
            sandbox.command(f"cancel {number}", wait=False)
            common.wait_until(_ended(sandbox, number), 60, f"#{number} to end")
            ended = time.monotonic() - pressed
            final = next(j for j in sandbox.store.recent(pr=number) if j.kind is JobKind.START)
            if final.state is JobState.CANCELLED:
                took.append(ended)
                where[step] = where.get(step, 0) + 1
            else:
                too_late += 1
        took.sort()
        table.add(
            RUNS,
            len(took),
            too_late,
            statistics.median(took) if took else 0.0,
            common.percentile(took, 99) if took else 0.0,
            max(took) if took else 0.0,
            BUDGET_SECONDS,
        )
        for step, count in sorted(where.items(), key=lambda item: -item[1]):
            steps.add(step, count)
        table.notes.extend(common.log_problems(sandbox))
    return [table, steps]


def _deploying(sandbox: Sandbox, number: int) -> Callable[[], bool]:
    return lambda: _live_start(sandbox, number) is not None


def _ended(sandbox: Sandbox, number: int) -> Callable[[], bool]:
    return lambda: _live_start(sandbox, number) is None


def _live_start(sandbox: Sandbox, number: int) -> Job | None:
    return next(
        (j for j in sandbox.store.recent(pr=number) if j.kind is JobKind.START and j.live), None
    )
