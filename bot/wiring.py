"""The composition root: settings in, a wired bot out. The only place parts meet."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)

from bot.adapters.store import SqlJobStore
from bot.clock import SYSTEM_CLOCK, Clock
from bot.config import Settings
from bot.metrics import Metrics
from bot.orchestrator.ports import EcsPort, GitHubPort, HealthProbe, LogsPort
from bot.orchestrator.runner import InterruptibleClock
from bot.orchestrator.service import Orchestrator
from bot.slack.app import build_app
from bot.slack.auth import Authorizer
from bot.slack.intake import Intake
from bot.slack.progress import ThreadReporter
from bot.webhook import WebhookIntake


@dataclass
class Bot:
    settings: Settings
    store: SqlJobStore
    github: GitHubPort
    ecs: EcsPort
    orchestrator: Orchestrator
    client: WebClient
    intake: Intake
    app: App
    stopping: threading.Event
    webhook: WebhookIntake | None = None  # POST /github/webhook, with GITHUB_WEBHOOK_SECRET
    metrics: Metrics | None = None  # GET /metrics


def slack_client(settings: Settings) -> WebClient:
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    return WebClient(
        token=token,
        base_url=settings.slack_api_url,
        timeout=10,
        retry_handlers=[
            RateLimitErrorRetryHandler(max_retry_count=3),
            ConnectionErrorRetryHandler(max_retry_count=2),
        ],
    )


def build_bot(
    settings: Settings,
    *,
    clock: Clock = SYSTEM_CLOCK,
    github: GitHubPort | None = None,
    ecs: EcsPort | None = None,
    health: HealthProbe | None = None,
    logs: LogsPort | None = None,
    verify_token: bool = True,
) -> Bot:
    """Wire the real adapters (or the given ones) behind one orchestrator and one Bolt app."""
    from bot.adapters.ecs import EcsEngine, EcsLogs, make_clients
    from bot.adapters.github import GitHubAdapter, GitHubDeployments
    from bot.adapters.health import HttpHealthProbe

    stopping = threading.Event()
    # Every wait of a job — ECS polls, health checks, GitHub rate limits — ends at once on
    # SIGTERM, and for a job another replica adopted.
    job_clock = InterruptibleClock(clock, stopping)
    metrics = Metrics(clock=clock)
    github = github or GitHubAdapter(settings, clock=job_clock, recorder=metrics)
    if ecs is None:
        ecs_client, ec2_client = make_clients(settings, recorder=metrics.aws_call)
        ecs = EcsEngine(settings, ecs_client=ecs_client, ec2_client=ec2_client, clock=job_clock)
    store = SqlJobStore(settings.showtime_db_url, clock=clock)
    orchestrator = Orchestrator(
        settings,
        github=github,
        ecs=ecs,
        health=health or HttpHealthProbe(settings, clock=job_clock),
        logs=logs or EcsLogs(settings, clock=job_clock, recorder=metrics.aws_call),
        store=store,
        # The Deployments mirror shares the adapter's calls (and so its write pacing).
        deployments=GitHubDeployments(github.calls) if isinstance(github, GitHubAdapter) else None,
        clock=job_clock,
        stopping=stopping,
    )
    client = slack_client(settings)
    reporter = ThreadReporter(client, settings, clock)
    orchestrator.add_listener(reporter)
    orchestrator.add_listener(metrics.job_listener)
    metrics.watch_jobs(
        # Jobs beyond the pool's workers wait for one; follow-ups wait for their PR's job.
        running=lambda: min(orchestrator.jobs_in_flight(), orchestrator.runner.workers),
        queued=lambda: (
            max(orchestrator.jobs_in_flight() - orchestrator.runner.workers, 0)
            + len(store.followup_prs())
        ),
    )
    orchestrator.open_threads_with(reporter)
    intake = Intake(settings, orchestrator, client, Authorizer(settings, client, clock), clock)
    app = build_app(settings, client, intake, verify_token=verify_token, acks=metrics.slack_ack)
    webhook = WebhookIntake(settings, orchestrator) if settings.github_webhook_secret else None
    return Bot(
        settings, store, github, ecs, orchestrator, client, intake, app, stopping, webhook, metrics
    )
