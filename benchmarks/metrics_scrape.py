"""(g) ``GET /metrics`` scrape time with 0 and 50 deploys in flight (SPEC §16: a scrape is
cheap — no remote call, at most one job-store query).

One sandbox, as in ``ack_latency``: its ECS stand-in never lets a task start, so each
``start`` stays in its stability wait, polling ``DescribeServices`` — the GitHub and AWS
counters keep moving while the scrapes run. Per level, ``SCRAPES`` GETs of ``/metrics`` from
a process of its own (``load_client``), one at a time at a fixed rate, as a Prometheus
server with a short interval would; the latency is the HTTP round trip, body included. One
more scrape, read here, gives the exposition's size, its series and what the job gauges say.
"""

from __future__ import annotations

import logging
import time
from urllib.request import urlopen

from prometheus_client.parser import text_string_to_metric_families

from benchmarks import common
from benchmarks.load_client import send_all
from benchmarks.table import Table
from bot.sandbox.harness import Sandbox
from bot.sandbox.slack_client import SignedRequest

log = logging.getLogger(__name__)

LEVELS = (0, 50)
SCRAPES = 200
SCRAPES_PER_SECOND = 20.0
FIRST_PR = 43001


def run() -> list[Table]:
    table = Table(
        "Scrapes of GET /metrics, and /healthz beside them (HTTP round trip)",
        [
            "in flight",
            "route",
            "requests",
            "200",
            "p50 ms",
            "p99 ms",
            "max ms",
            "mean ms",
            "bytes",
            "series",
            "running / queued",
        ],
    )
    sandbox = common.new_sandbox(drain_seconds=1.0, stable_seconds=3600.0, poll_seconds=5.0, env={})
    with sandbox:
        in_flight: list[int] = []
        for level in LEVELS:
            new = list(range(FIRST_PR + len(in_flight), FIRST_PR + level))
            if new:
                log.info("metrics: starting %d deploys", len(new))
                common.add_prs(sandbox, new)
                common.send_starts(sandbox, new)
                in_flight += new
            _wait_for_starts(sandbox, len(in_flight))
            _measure(sandbox, table, common.waiting_deploys(sandbox))
        table.notes += [
            f"{SCRAPES} requests per row, one at a time at {SCRAPES_PER_SECOND:g}/s from a "
            "process of their own; p99 of 200 is the 2nd slowest.",
            "in flight: start jobs polling ECS for stability (every 5 s, the production "
            "default), their GitHub and AWS calls counted meanwhile.",
            "bytes, series: one scrape's body and its samples (buckets, sums and counts "
            "included); running / queued: the job gauges it read.",
            *common.log_problems(sandbox),
        ]
    return [table]


def _wait_for_starts(sandbox: Sandbox, count: int, quiet: float = 3.0) -> None:
    """Until ``count`` starts poll ECS, or none has moved for ``quiet`` seconds with every
    live one polling (on a loaded machine SQLite may refuse a start: the row then says how
    many were in flight)."""
    last: tuple[int, int] = (-1, -1)
    since = time.monotonic()

    def settled() -> bool:
        nonlocal last, since
        live = [
            j for j in sandbox.store.recent(limit=common.STORE_SCAN) if j.kind == "start" and j.live
        ]
        waiting = sum(1 for j in live if j.step == common.WAITING_STEP)
        if waiting >= count:
            return True
        if (len(live), waiting) != last:
            last, since = (len(live), waiting), time.monotonic()
        return waiting == len(live) and time.monotonic() - since >= quiet

    common.wait_until(settled, 600.0, f"{count} deploys to poll ECS")


def _measure(sandbox: Sandbox, table: Table, level: int) -> None:
    """The scrapes, and as many ``/healthz`` probes for comparison: what any request costs
    the bot with this many deploys in flight (threads, the GIL), without the metrics."""
    base = f"http://127.0.0.1:{sandbox.port}"
    for route in ("/healthz", "/metrics"):
        log.info("metrics: %d x GET %s with %d deploys in flight", SCRAPES, route, level)
        request = SignedRequest(url=base + route, body="", headers={})
        results = send_all(
            [request] * SCRAPES, threads=1, interval=1 / SCRAPES_PER_SECOND, method="GET"
        )
        times = sorted(seconds * 1000 for _, seconds in results)
        size: int | str = "-"
        series: int | str = "-"
        gauges = "-"
        if route == "/metrics":
            with urlopen(base + route, timeout=10) as answer:
                body = answer.read()
            families = list(text_string_to_metric_families(body.decode()))
            plain = {s.name: s.value for f in families for s in f.samples if not s.labels}
            size, series = len(body), sum(len(f.samples) for f in families)
            gauges = f"{plain['showtime_jobs_running']:g} / {plain['showtime_jobs_queued']:g}"
        table.add(
            level,
            f"GET {route}",
            len(results),
            sum(1 for status, _ in results if status == 200),
            common.percentile(times, 50),
            common.percentile(times, 99),
            times[-1],
            sum(times) / len(times),
            size,
            series,
            gauges,
        )
