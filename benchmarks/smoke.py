"""The smoke check when everything passes (SPEC §15, §10): requests to Superset, and time
beyond the health check.

One sandbox; the bot deploys a PR the usual way (its own process), so the environment is
what the sandbox makes it: a task with its own loopback address and its own stand-in
Superset, logging in with that task definition's ``ADMIN_PASSWORD``. Then, in this process,
what the deploy's smoke-check step will do once it is wired into ``orchestrator/start.py``:

1. ``EcsEngine.admin_login`` of the environment's task definition (a process that did not
   register it: one DescribeTaskDefinition, then none);
2. the health check (``HttpHealthProbe``, the deploy's existing step), timed;
3. ``HttpSmokeCheck.wait_usable`` with every check (``login,examples,sqllab,chart``), timed:
   its time is the time beyond the health check, its requests are counted by the
   environment's Superset.

Each row repeats that ``RUNS`` times. The stand-in answers in microseconds, so the rows with
a per-request ``latency`` show what Superset's own work costs: the checks run one after
another, so the time grows with requests × latency (a real Superset answers these in
tens to a few hundred milliseconds; SQL Lab's ``SELECT 1`` and a chart's data are the slow
ones). The last row's newest chart has no saved query context, so a second chart is asked.
"""

from __future__ import annotations

import logging
import statistics
import time
from dataclasses import dataclass

from benchmarks import common
from benchmarks.table import Table
from bot.adapters.ecs import EcsEngine, new_session
from bot.adapters.health import HttpHealthProbe
from bot.adapters.smoke import HttpSmokeCheck
from bot.clock import SYSTEM_CLOCK
from bot.config import Settings
from bot.domain.smoke import parse_checks
from bot.orchestrator.ports import AdminLogin
from bot.sandbox.aws import FAKE_KEY
from bot.sandbox.harness import Sandbox
from bot.sandbox.superset import Chart, SupersetStandIn

log = logging.getLogger(__name__)

PR = 36121
RUNS = 20  # per row; 5 for the rows with 200 ms or more per answer
LATENCIES = (0.0, 0.05, 0.2, 0.5)  # seconds per API answer, on top of the stand-in's own
BUDGET_REQUESTS = 8
BUDGET_SECONDS = 5.0


@dataclass
class Row:
    what: str
    requests: list[int]
    health_ms: list[float]
    smoke_ms: list[float]
    ready: int


def run() -> list[Table]:
    sandbox = common.new_sandbox(drain_seconds=0.3, stable_seconds=0.2, poll_seconds=0.1, env={})
    with sandbox:
        log.info("smoke: deploying #%d", PR)
        outcome = sandbox.command(f"start {PR}")
        if outcome.failed:
            raise RuntimeError(f"start {PR} failed: {outcome.jobs}")
        url, arn, address = _environment(sandbox)
        engine = _engine(sandbox)
        superset = sandbox.superset.at(address)
        assert superset is not None, f"no Superset serves {address}"
        sandbox.ecs.reset()
        login = engine.admin_login(arn)
        cold = sandbox.ecs.calls["DescribeTaskDefinition"]
        engine.admin_login(arn)
        warm = sandbox.ecs.calls["DescribeTaskDefinition"] - cold
        rows = [
            _measure(f"latency {latency * 1000:g} ms", superset, url, login, latency)
            for latency in LATENCIES
        ]
        superset.charts = [
            Chart(1, "saved before query contexts", query_context=False),
            *superset.charts,
        ]
        rows.append(
            _measure("newest chart without a saved query context", superset, url, login, 0.0)
        )
        problems = common.log_problems(sandbox)
    return [_table(rows, cold, warm, problems)]


def _environment(sandbox: Sandbox) -> tuple[str, str, str]:
    """(URL, task definition ARN, address) of the PR's environment, as the bot left them."""
    sha = sandbox.github.head_sha(PR)[:7]
    address = next(
        label.split("🌐 ", 1)[1]
        for label in sandbox.github.labels(PR)
        if label.startswith(f"🎪 {sha} 🌐 ")
    )
    service = next(s for s in sandbox.services() if s["serviceName"] == f"pr-{PR}-{sha}-service")
    return f"http://{address}", str(service["taskDefinition"]), address.rsplit(":", 1)[0]


def _engine(sandbox: Sandbox) -> EcsEngine:
    """An engine like the bot's, in this process: it has never seen the task definition."""
    assert sandbox.network is not None
    network = sandbox.network
    settings = Settings(
        _env_file=None,
        aws_endpoint_url=sandbox.aws_url,
        aws_region=network.region,
        ecs_cluster=network.cluster,
        ecs_subnets=[network.subnet_id],
        ecs_security_groups=[network.security_group_id],
    )
    session = new_session()
    region, url = settings.aws_region, sandbox.aws_url
    return EcsEngine(
        settings,
        ecs_client=session.client(
            "ecs",
            region_name=region,
            endpoint_url=url,
            aws_access_key_id=FAKE_KEY,
            aws_secret_access_key=FAKE_KEY,
        ),
        ec2_client=session.client(
            "ec2",
            region_name=region,
            endpoint_url=url,
            aws_access_key_id=FAKE_KEY,
            aws_secret_access_key=FAKE_KEY,
        ),
    )


def _measure(
    what: str, superset: SupersetStandIn, url: str, login: AdminLogin, latency: float
) -> Row:
    settings = Settings(_env_file=None)
    probe = HttpHealthProbe(settings, SYSTEM_CLOCK)
    checker = HttpSmokeCheck(settings, SYSTEM_CLOCK)
    checks = parse_checks("login,examples,sqllab,chart")
    superset.latency = latency
    row = Row(what, [], [], [], 0)
    log.info("smoke: %s", what)
    try:
        for _ in range(RUNS if latency < 0.1 else 5):
            began = time.perf_counter()
            probe.wait_healthy(f"{url}/health")
            healthy = time.perf_counter()
            before = superset.count()
            report = checker.wait_usable(url, login, checks, examples=login.examples)
            done = time.perf_counter()
            row.requests.append(superset.count() - before)
            row.health_ms.append((healthy - began) * 1000)
            row.smoke_ms.append((done - healthy) * 1000)
            row.ready += report.ready
    finally:
        superset.latency = 0.0
    return row


def _table(rows: list[Row], cold: int, warm: int, problems: list[str]) -> Table:
    table = Table(
        "Smoke check, everything passing: requests to Superset and time beyond the health check",
        [
            "case",
            "runs ready",
            "requests",
            "health ms p50",
            "smoke ms p50",
            "smoke ms max",
            "budget",
        ],
    )
    for row in rows:
        worst = max(row.smoke_ms)
        within = max(row.requests) <= BUDGET_REQUESTS and worst <= BUDGET_SECONDS * 1000
        table.add(
            row.what,
            f"{row.ready}/{len(row.requests)}",
            "/".join(str(n) for n in sorted(set(row.requests))),
            round(statistics.median(row.health_ms), 1),
            round(statistics.median(row.smoke_ms), 1),
            round(worst, 1),
            "within" if within else "OVER",
        )
    table.notes += [
        f"{RUNS} runs per row (5 from 200 ms of latency), one after another, against one environment of the sandbox "
        "(its own loopback address and stand-in Superset; the bot deployed it).",
        "requests: what the environment's Superset answered per run (login, databases, "
        "dashboards, CSRF token, SQL Lab, charts, chart data).",
        "latency: added to every API answer, for Superset's own work; the checks run in turn.",
        f"admin_login from a process that did not register the task definition: "
        f"{cold} DescribeTaskDefinition, then {warm} (a revision never changes).",
        f"Budget (SPEC §10): at most {BUDGET_REQUESTS} requests and "
        f"{BUDGET_SECONDS:g} s beyond the health check.",
        *problems,
    ]
    return table
