"""The composition root: settings in, a wired bot out. The only place parts meet.

``policy_of`` turns the operator's settings into the service layer's typed policy;
``service_layer`` builds the service layer's parts from ports (the real adapters here, a
test's fakes elsewhere) and hands each entry point the parts it needs.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

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
from bot.orchestrator.context import Background, Deps, Ports
from bot.orchestrator.facade import Orchestrator
from bot.orchestrator.github_events import GitHubEvents
from bot.orchestrator.jobs import JobKind, JobStore
from bot.orchestrator.lifecycle import Lifecycle
from bot.orchestrator.metering import Metering
from bot.orchestrator.mirror import DeploymentMirror
from bot.orchestrator.policy import Policy
from bot.orchestrator.ports import Threads
from bot.orchestrator.queries import Queries
from bot.orchestrator.runner import InterruptibleClock, JobRunner
from bot.orchestrator.service import Broadcast, Jobs
from bot.orchestrator.sweeper import Sweeper, validate_cleanup
from bot.slack.app import build_app
from bot.slack.auth import Authorizer
from bot.slack.dms import DirectMessages
from bot.slack.intake import Intake
from bot.slack.progress import ThreadReporter
from bot.webhook import WebhookIntake


@dataclass
class Bot:
    settings: Settings
    store: SqlJobStore
    ports: Ports
    orchestrator: Orchestrator
    client: WebClient
    intake: Intake
    app: App
    stopping: threading.Event
    webhook: WebhookIntake | None = None  # POST /github/webhook, with GITHUB_WEBHOOK_SECRET
    metrics: Metrics | None = None  # GET /metrics


def policy_of(settings: Settings) -> Policy:
    """What the service layer needs of the settings, typed (STYLE: policy, not settings)."""
    return Policy(
        repository=settings.github_repository,
        default_ttl=settings.showtime_default_ttl,
        max_environments=settings.showtime_max_environments,
        monthly_budget=settings.showtime_monthly_budget,
        rates=settings.cost_rates,
        public_ip=settings.ecs_assign_public_ip == "ENABLED",
        stale_claim_after=timedelta(minutes=settings.showtime_stale_lock_minutes),
        env_port=settings.showtime_env_port,
        health_path=settings.showtime_health_path,
        smoke_checks=tuple(settings.showtime_smoke_checks),
        notify_channel=settings.showtime_notify_channel,
        auto_redeploy=settings.showtime_auto_redeploy,
        pr_comments=settings.showtime_pr_comments,
        github_deployments=settings.showtime_github_deployments,
        job_workers=settings.showtime_job_workers,
        sweep_every=timedelta(seconds=settings.showtime_sweep_seconds),
        single_process=settings.showtime_db_url.startswith("sqlite"),
    )


def service_layer(
    policy: Policy,
    ports: Ports,
    store: JobStore,
    clock: InterruptibleClock,
    *,
    stopping: threading.Event,
    threads: Threads | None = None,
    owner: str | None = None,
) -> Orchestrator:
    """The service layer's parts on ``ports``; no part knows the others but through what it
    is handed here."""
    owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    background = Background()
    # Every create and delete of ECS also writes the record of when environments ran.
    metering = Metering(ports.ecs, store, clock, public_ip=policy.public_ip)
    deps = Deps.of(policy, ports, store, clock, background=background, ecs_observers=(metering,))
    runner = JobRunner(policy.job_workers, stopping)
    broadcast = Broadcast()
    mirror = DeploymentMirror(
        policy.github_deployments and ports.deployments is not None, background, store
    )
    jobs = Jobs(deps, runner, broadcast, mirror, owner=owner, stopping=stopping, threads=threads)
    queries = Queries(deps)
    sweeper = Sweeper(deps, jobs)
    events = GitHubEvents(deps, jobs)
    jobs.register(JobKind.CLEANUP, sweeper.run_cleanup, validate_cleanup)
    jobs.after_each(lambda job: queries.forget())
    lifecycle = Lifecycle(
        policy=policy,
        store=store,
        runner=runner,
        owner=owner,
        stopping=stopping,
        working_ids=jobs.working_ids,
        resume=jobs.resume,
        sweep=sweeper.sweep,
        prune=events.prune,
        follow_ups=jobs.queued_left,
        cancels=jobs.pass_on_cancels,
        background=background,
    )
    return Orchestrator(jobs, queries, sweeper, events, lifecycle, broadcast)


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


def real_ports(settings: Settings, clock: Clock, metrics: Metrics | None = None) -> Ports:
    """The adapters on the real services (or what the settings point at), every GitHub and
    AWS call counted in ``metrics``."""
    from bot.adapters.ecs import EcsEngine, EcsLogs, make_clients
    from bot.adapters.github import GitHubAdapter, GitHubDeployments
    from bot.adapters.health import HttpHealthProbe
    from bot.adapters.smoke import HttpSmokeCheck

    aws_call = metrics.aws_call if metrics is not None else None
    github = GitHubAdapter(settings, clock=clock, recorder=metrics)
    ecs_client, ec2_client = make_clients(settings, recorder=aws_call)
    return Ports(
        github=github,
        ecs=EcsEngine(settings, ecs_client=ecs_client, ec2_client=ec2_client, clock=clock),
        health=HttpHealthProbe(settings, clock=clock),
        logs=EcsLogs(settings, clock=clock, recorder=aws_call),
        smoke=HttpSmokeCheck(settings, clock),
        # The Deployments mirror shares the adapter's calls (and so its write pacing).
        deployments=GitHubDeployments(github.calls),
    )


def build_bot(
    settings: Settings,
    *,
    clock: Clock = SYSTEM_CLOCK,
    make_ports: Callable[[Settings, Clock, Metrics], Ports] = real_ports,
    verify_token: bool = True,
) -> Bot:
    """Wire the real adapters (or ``make_ports``'s) behind one service layer and one Bolt app."""
    stopping = threading.Event()
    # Every wait — ECS polls, health checks, GitHub rate limits — ends at once on SIGTERM;
    # a job's own waits also on a cancel, or when another replica adopted it.
    process_clock = InterruptibleClock.for_process(clock, stopping)
    metrics = Metrics(clock=clock)
    ports = make_ports(settings, process_clock, metrics)
    store = SqlJobStore(settings.showtime_db_url, clock=clock)
    client = slack_client(settings)
    reporter = ThreadReporter(client, settings, clock)
    orchestrator = service_layer(
        policy_of(settings), ports, store, process_clock, stopping=stopping, threads=reporter
    )
    orchestrator.add_listener(reporter)
    orchestrator.add_listener(DirectMessages(client, store, settings.github_repository))
    orchestrator.add_listener(metrics.job_listener)
    runner = orchestrator.jobs.runner
    metrics.watch_jobs(
        # Jobs beyond the pool's workers wait for one; queued ones wait for their PR's job.
        running=lambda: min(len(runner.inflight_ids()), runner.workers),
        queued=lambda: (
            max(len(runner.inflight_ids()) - runner.workers, 0) + len(store.queued_prs())
        ),
    )
    authorizer = Authorizer(settings, client, clock)
    intake = Intake(
        settings,
        orchestrator.jobs,
        orchestrator.queries,
        orchestrator.sweeper,
        client,
        authorizer,
        clock,
    )
    app = build_app(settings, client, intake, verify_token=verify_token, acks=metrics.slack_ack)
    webhook = (
        WebhookIntake(settings, orchestrator.events) if settings.github_webhook_secret else None
    )
    return Bot(
        settings, store, ports, orchestrator, client, intake, app, stopping, webhook, metrics
    )
