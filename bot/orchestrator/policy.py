"""What the service layer is told about how to behave: a small typed policy.

The operator's settings (``bot.config``, environment variable names, ``"ENABLED"`` strings,
database URLs) stay at the composition root; ``bot.wiring.policy_of`` turns them into this
once. The orchestrator reads durations as ``timedelta``, switches as booleans and a TTL as
a TTL — so a decision never depends on how a variable happens to be spelled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from bot.domain.cost import LIST_PRICES, Rates
from bot.domain.smoke import Check
from bot.domain.ttl import TTL_VALUES


@dataclass(frozen=True)
class Policy:
    repository: str = "apache/superset"
    default_ttl: str = "48h"  # the ⌛ a PR gets when it has none
    max_environments: int = 30  # running at once; redeploys and rolling updates never refused
    monthly_budget: Decimal | None = None  # USD this calendar month; None: no budget
    rates: Rates = LIST_PRICES  # the cost estimate's list prices
    public_ip: bool = True  # tasks get a public IPv4 address (and pay for it)
    stale_claim_after: timedelta = timedelta(minutes=60)  # a claim with no live job is stale
    env_port: int = 8080  # where an environment serves
    health_path: str = "/health"
    smoke_checks: tuple[Check, ...] = ()  # what must pass before "ready" (none: health only)
    notify_channel: str | None = None  # where notices go that have no thread yet
    auto_redeploy: bool = True  # a push rolls a running environment to the new head
    pr_comments: bool = False  # tell the outcome on the PR too
    github_deployments: bool = True  # mirror environments as GitHub Deployments
    job_workers: int = 64  # jobs that run at once; more wait for a worker
    sweep_every: timedelta = timedelta(minutes=5)
    # One process owns the store (SQLite): every unfinished job it finds at start-up is its
    # own orphan. Several replicas (PostgreSQL): only jobs without a heartbeat for a while.
    single_process: bool = True

    def __post_init__(self) -> None:
        if self.default_ttl not in TTL_VALUES:
            raise ValueError(f"default TTL {self.default_ttl!r} is not one of {TTL_VALUES}")
