"""GitHub requests and AWS calls per Home-tab open (SPEC §13): one person, and 20 at once.

A person opening the bot's Home tab makes Slack send ``app_home_opened``; the bot publishes
their tab from one shared look at every environment (``Orchestrator.overview``: one GitHub
search per 100 labelled PRs, ListServices pages and DescribeServices in batches of 10,
cached ``LIST_FRESH_SECONDS`` with one look in flight at a time). Per size ``n``, one fresh
sandbox with ``n`` environments the bot started plus one the superset-showtime CLI made
(a service with a task definition the bot never registered, so its size is unknown to the
bot's record); then the bot is restarted, so every cache is cold, and:

1. one person opens the tab (cold caches);
2. once the look has gone stale, 20 people open it within a second;
3. at once, the same 20 open it again (inside the cache window);
4. a stale look again, one person: what an open costs once the process is warm.

Counted by the stand-ins, reset before each row and read once every tab is published and
the counters have stopped moving.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import Counter
from dataclasses import dataclass
from functools import partial

from benchmarks import common
from benchmarks.table import Table
from bot.orchestrator.queries import LIST_FRESH_SECONDS
from bot.sandbox.aws import cli_environment, inspection_client
from bot.sandbox.harness import Sandbox
from bot.sandbox.slack import MAINTAINER_USER_ID

log = logging.getLogger(__name__)

SIZES = (3, 30)
CROWD = 20
START_BATCH = 25
SETTLE_QUIET_SECONDS = 0.5
CLI_SHA = "c11c11c"


@dataclass
class Row:
    what: str
    environments: int
    opens: int
    github: Counter[tuple[str, str]]
    aws: Counter[str]
    publishes: int
    seconds: float  # from the first event sent to the last tab published

    @property
    def github_total(self) -> int:
        return sum(self.github.values())

    @property
    def searches(self) -> int:
        return sum(n for (method, route), n in self.github.items() if route == "/search/issues")


def run() -> list[Table]:
    rows: list[Row] = []
    problems: list[str] = []
    for size in SIZES:
        rows += _scenario(size, problems)
    return [_table(rows, problems)]


def _scenario(n: int, problems: list[str]) -> list[Row]:
    base = 60000 + n * 1000
    prs = list(range(base, base + n))
    sandbox = common.new_sandbox(drain_seconds=0.3, stable_seconds=0.05, poll_seconds=0.05, env={})
    users = [MAINTAINER_USER_ID, *(f"U0VIEWER{i:02d}" for i in range(1, CROWD))]
    rows: list[Row] = []
    with sandbox:
        for user in users[1:]:
            sandbox.slack.add_user(user, user.lower())
        common.add_prs(sandbox, prs)
        log.info("home: starting %d environments", n)
        for at in range(0, n, START_BATCH):
            common.send_starts(sandbox, prs[at : at + START_BATCH])
            wanted = min(at + START_BATCH, n)
            common.wait_until(partial(_ready, sandbox, wanted), 180, "the environments to run")
        _cli_environment(sandbox, base + 900)
        log.info("home: restarting the bot (cold caches)")
        sandbox.stop_bot()
        sandbox.start_bot()
        total = n + 1
        rows.append(_measure(sandbox, "1 person, cold process", total, users[:1]))
        time.sleep(LIST_FRESH_SECONDS + 0.5)
        rows.append(_measure(sandbox, f"{CROWD} people within 1 s", total, users))
        rows.append(
            _measure(
                sandbox, f"{CROWD} more, inside the {LIST_FRESH_SECONDS:g} s window", total, users
            )
        )
        time.sleep(LIST_FRESH_SECONDS + 0.5)
        rows.append(_measure(sandbox, "1 person, warm process", total, users[:1]))
        problems += [f"n={n}: {line}" for line in common.log_problems(sandbox)]
    return rows


def _ready(sandbox: Sandbox, wanted: int) -> bool:
    """``wanted`` environments run and no job is live (starts are sent without waiting)."""
    return _running(sandbox) >= wanted and common.live_jobs(sandbox) == 0


def _running(sandbox: Sandbox) -> int:
    return sum(1 for service in sandbox.services() if service.get("status") == "ACTIVE")


def _cli_environment(sandbox: Sandbox, pr: int) -> None:
    """A service as the superset-showtime CLI makes it: its own task definition, tags, no
    record in the bot's job store (its size is read from ECS once per process)."""
    assert sandbox.network is not None
    network = sandbox.network
    ecs = inspection_client("ecs", network.region, sandbox.aws_url)
    cli_environment(ecs, network, pr, CLI_SHA, cpu="1024", memory="4096")


def _measure(sandbox: Sandbox, what: str, environments: int, users: list[str]) -> Row:
    assert sandbox.requester is not None
    requester = sandbox.requester
    log.info("home: %s", what)
    sandbox.github.reset_counts()
    sandbox.ecs.reset()
    sandbox.slack.reset_calls()
    before = {user: len(sandbox.slack.home_views(user)) for user in users}
    began = time.perf_counter()
    barrier = threading.Barrier(len(users))

    def open_tab(user: str) -> None:
        barrier.wait()
        response = requester.app_home_opened(user)
        if not response.ok:
            raise RuntimeError(f"app_home_opened for {user} answered {response.status_code}")

    threads = [threading.Thread(target=open_tab, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    common.wait_until(
        lambda: all(len(sandbox.slack.home_views(u)) > before[u] for u in users),
        60,
        "every Home tab to be published",
    )
    seconds = time.perf_counter() - began
    _quiet(sandbox)
    for user in users:
        view = sandbox.slack.home_view(user) or {}
        if f"All environments ({environments})" not in str(view.get("blocks")):
            raise RuntimeError(f"{user}'s Home tab does not list {environments} environments")
    return Row(
        what=what,
        environments=environments,
        opens=len(users),
        github=Counter(sandbox.github.counts()),
        aws=Counter(sandbox.ecs.calls),
        publishes=sandbox.slack.calls["views.publish"],
        seconds=seconds,
    )


def _quiet(sandbox: Sandbox) -> None:
    def snapshot() -> tuple[int, int, int]:
        return (
            sandbox.github.total(),
            sum(sandbox.ecs.calls.values()),
            sum(sandbox.slack.calls.values()),
        )

    last, since = snapshot(), time.monotonic()
    while time.monotonic() - since < SETTLE_QUIET_SECONDS:
        time.sleep(0.05)
        now = snapshot()
        if now != last:
            last, since = now, time.monotonic()


def _table(rows: list[Row], problems: list[str]) -> Table:
    table = Table(
        "Home tab: GitHub requests and AWS calls per open (counted by the stand-ins)",
        [
            "opens",
            "environments",
            "GitHub",
            "search",
            "ListSvc",
            "DescSvc",
            "DescTaskDef",
            "AWS",
            "views.publish",
            "seconds",
        ],
    )
    for row in rows:
        table.add(
            row.what,
            row.environments,
            row.github_total,
            row.searches,
            row.aws["ListServices"],
            row.aws["DescribeServices"],
            row.aws["DescribeTaskDefinition"],
            sum(row.aws.values()),
            row.publishes,
            round(row.seconds, 2),
        )
    table.notes += [
        "environments: the bot's own plus one the superset-showtime CLI made (no record in "
        "the job store: its task definition is described once per process, ever).",
        "GitHub: every request (search = label search, one per 100 labelled PRs); AWS: ECS "
        "calls (ListServices pages of 100, DescribeServices batches of 10).",
        f"One look serves everyone for {LIST_FRESH_SECONDS:g} s; while it is in flight, "
        "others wait for it instead of looking themselves.",
        "seconds: wall time from the first app_home_opened sent to the last tab published.",
        f"Budget: per open at most 1 search and 1 ECS round (ListServices + "
        f"{math.ceil(SIZES[-1] / 10)} DescribeServices for {SIZES[-1]})",
        *problems,
    ]
    return table
