"""What operators scrape at ``GET /metrics`` (SPEC §16), in Prometheus' text format.

One ``Metrics`` per bot, made at the composition root with a registry of its own (two bots
in one test process never share a counter), and handed to whoever records into it:

- jobs, from the orchestrator's progress events (``job_listener``, a ``Listener``): how many
  ended, by kind and outcome, and how long they took; how many run and wait, read when
  scraped (``watch_jobs``);
- GitHub requests and AWS calls, where the adapters make them (``github_request``,
  ``github_rate_limit``, ``aws_call``), and the rate limit GitHub's answers announce;
- webhook deliveries (``webhook_delivery``, by the HTTP server) and Slack acks with their
  latency (``slack_ack``, by the Bolt app).

Label values are bounded sets — job kinds, outcomes, route templates, AWS operations and
error codes, event names from a known list — never a PR number, a title, a login, a SHA or
a channel: each value is a time series Prometheus keeps, and a channel reads them all.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from bot.clock import SYSTEM_CLOCK, Clock
from bot.domain import events as ev

# No `*_created` timestamp series beside each counter and histogram: under the same HELP text
# they read as a second metric ("Jobs that ended…" = 1.79e9), and no dashboard uses them.
disable_created_metrics()

if TYPE_CHECKING:
    from bot.orchestrator.jobs import Job
    from bot.orchestrator.models import Notice

log = logging.getLogger(__name__)

CONTENT_TYPE = CONTENT_TYPE_LATEST

# A deploy takes minutes (DRAINING, stability, health and smoke checks: up to 15 min each);
# stops, TTL and freeze take seconds and land in the first bucket.
JOB_SECONDS_BUCKETS = (10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1200.0, 1800.0)
# Slack's limit is 3 s; SPEC §10 aims at p99 < 100 ms.
ACK_SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 3.0)

ACK_TYPES = frozenset({"command", "action", "view_submission", "event", "options"})
# What a repository or App webhook may send; anything else is counted as "other", so a
# forged X-GitHub-Event header cannot mint series.
WEBHOOK_EVENTS = frozenset(
    {
        "ping",
        "pull_request",
        "pull_request_review",
        "push",
        "issues",
        "issue_comment",
        "label",
        "check_run",
        "check_suite",
        "status",
        "deployment",
        "deployment_status",
        "workflow_run",
        "installation",
        "installation_repositories",
    }
)
# GitHub's separate rate-limit pools (X-RateLimit-Resource): search's is 30 a minute.
RATE_LIMIT_RESOURCES = frozenset(
    {"core", "search", "graphql", "code_search", "integration_manifest"}
)
OTHER = "other"


class Metrics:
    """The bot's counters, gauges and histograms, and their text exposition."""

    def __init__(self, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self._clock = clock
        self.registry = CollectorRegistry()
        self._jobs_series()
        self._remote_series()
        self._incoming_series()
        self.job_listener = JobMetrics(self)

    def _jobs_series(self) -> None:
        registry = self.registry
        self._jobs = Counter(
            "showtime_jobs",
            "Jobs that ended in this process, by kind and outcome.",
            ["kind", "outcome"],
            registry=registry,
        )
        self._job_seconds = Histogram(
            "showtime_job_duration_seconds",
            "From a job's request to its end (what the requester waits), by kind.",
            ["kind"],
            buckets=JOB_SECONDS_BUCKETS,
            registry=registry,
        )
        self._running = Gauge(
            "showtime_jobs_running", "Jobs this process is working on now.", registry=registry
        )
        self._queued = Gauge(
            "showtime_jobs_queued",
            "Jobs waiting: for a free worker here, or for their PR's running job.",
            registry=registry,
        )

    def _remote_series(self) -> None:
        """What the bot asks of GitHub and AWS."""
        registry = self.registry
        self._github = Counter(
            "showtime_github_requests",
            "GitHub REST requests by method, route template and outcome "
            "(ok, the 4xx status, 5xx, unreachable).",
            ["method", "route", "outcome"],
            registry=registry,
        )
        self._rate_remaining = Gauge(
            "showtime_github_rate_limit_remaining",
            "Requests left in GitHub's rate-limit window (X-RateLimit-Remaining of the "
            "latest answer), by pool.",
            ["resource"],
            registry=registry,
        )
        self._rate_limit = Gauge(
            "showtime_github_rate_limit",
            "GitHub's requests per window (X-RateLimit-Limit of the latest answer), by pool.",
            ["resource"],
            registry=registry,
        )
        self._aws = Counter(
            "showtime_aws_calls",
            "AWS API calls (after botocore's own retries) by service, operation and "
            "outcome (ok, the AWS error code, or why AWS could not be reached).",
            ["service", "operation", "outcome"],
            registry=registry,
        )

    def _incoming_series(self) -> None:
        """What Slack and GitHub send the bot."""
        registry = self.registry
        self._deliveries = Counter(
            "showtime_webhook_deliveries",
            "Requests to /github/webhook by X-GitHub-Event and the HTTP status answered.",
            ["event", "status"],
            registry=registry,
        )
        self._acks = Counter(
            "showtime_slack_acks",
            "Slack requests acknowledged, by payload type.",
            ["type"],
            registry=registry,
        )
        self._ack_seconds = Histogram(
            "showtime_slack_ack_seconds",
            "From a Slack request reaching Bolt to its ack, by payload type.",
            ["type"],
            buckets=ACK_SECONDS_BUCKETS,
            registry=registry,
        )

    # ----- reading ------------------------------------------------------------------------

    def exposition(self) -> bytes:
        """Everything, in the text format ``CONTENT_TYPE`` names."""
        return generate_latest(self.registry)

    # ----- recording ----------------------------------------------------------------------

    def watch_jobs(self, *, running: Callable[[], int], queued: Callable[[], int]) -> None:
        """Read these at every scrape. They must be cheap: no remote call, at most one
        query of the job store (a scrape comes every 15-60 s, and waits for them)."""
        self._running.set_function(_never_failing(running, "jobs running"))
        self._queued.set_function(_never_failing(queued, "jobs queued"))

    def job_ended(self, job: Job, outcome: str) -> None:
        kind = str(job.kind)
        self._jobs.labels(kind, outcome).inc()
        seconds = (self._clock.now() - job.created_at).total_seconds()
        self._job_seconds.labels(kind).observe(max(seconds, 0.0))

    def github_request(self, method: str, route: str, outcome: str) -> None:
        self._github.labels(method, route, outcome).inc()

    def github_rate_limit(self, resource: str, remaining: int, limit: int) -> None:
        pool = resource if resource in RATE_LIMIT_RESOURCES else OTHER
        self._rate_remaining.labels(pool).set(remaining)
        self._rate_limit.labels(pool).set(limit)

    def aws_call(self, service: str, operation: str, outcome: str) -> None:
        self._aws.labels(service, operation, outcome).inc()

    def webhook_delivery(self, event: str, status: int) -> None:
        known = event if event in WEBHOOK_EVENTS else OTHER
        self._deliveries.labels(known, str(status)).inc()

    def slack_ack(self, kind: str, seconds: float) -> None:
        known = kind if kind in ACK_TYPES else OTHER
        self._acks.labels(known).inc()
        self._ack_seconds.labels(known).observe(seconds)


class JobMetrics:
    """The orchestrator's ``Listener`` that counts jobs as they end."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def job_event(self, job: Job, event: ev.Event) -> None:
        if isinstance(event, ev.Ended):
            self._metrics.job_ended(job, outcome_name(event.outcome))

    def notice(self, notice: Notice) -> None:
        """Notices are not jobs: nothing to count."""


def outcome_name(outcome: object) -> str:
    """``Succeeded`` → "succeeded", ``Failed`` → "failed"; any later outcome (``Cancelled``)
    by its class name, lower-cased."""
    if isinstance(outcome, ev.Succeeded):
        return "succeeded"
    if isinstance(outcome, ev.Failed):
        return "failed"
    return type(outcome).__name__.lower()


def _never_failing(read: Callable[[], int], what: str) -> Callable[[], float]:
    """A gauge's reading that cannot fail the scrape: a store that is down makes the gauge
    NaN (and one log line), while every other metric is still served."""

    def reading() -> float:
        try:
            return float(read())
        except Exception:
            log.warning("could not read %s for /metrics", what, exc_info=True)
            return math.nan

    return reading
