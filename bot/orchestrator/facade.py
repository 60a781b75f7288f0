"""The service layer's parts, as the composition root (``bot.wiring``) put them together.

Entry points take the part they need — the Slack intake ``jobs`` and ``queries``, the
webhook ``events`` — and the process's life is ``lifecycle``'s. Nothing here builds or
decides anything: the few methods below only save callers a hop.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.orchestrator.github_events import GitHubEvents
from bot.orchestrator.jobs import Job
from bot.orchestrator.lifecycle import Lifecycle
from bot.orchestrator.models import Answer, JobRequest
from bot.orchestrator.queries import Queries
from bot.orchestrator.service import Broadcast, Jobs, Listener
from bot.orchestrator.sweeper import Sweeper


@dataclass(frozen=True)
class Orchestrator:
    jobs: Jobs
    queries: Queries
    sweeper: Sweeper
    events: GitHubEvents
    lifecycle: Lifecycle
    broadcast: Broadcast

    @property
    def owner(self) -> str:
        return self.jobs.owner

    def add_listener(self, listener: Listener) -> None:
        self.broadcast.add_listener(listener)

    def submit(self, request: JobRequest) -> Answer:
        return self.jobs.submit(request)

    def wait(self, job_id: str, timeout: float | None = None) -> Job | None:
        return self.jobs.wait(job_id, timeout)

    def now(self) -> datetime:
        return self.queries.now()

    def jobs_in_flight(self) -> int:
        return len(self.jobs.runner.inflight_ids())

    def sweep(self) -> None:
        self.sweeper.sweep()

    def start_background(self) -> None:
        self.lifecycle.start_background()

    def resume_orphans(self, stale_after_seconds: float | None = None) -> list[Job]:
        return self.lifecycle.resume_orphans(stale_after_seconds)

    def shutdown(self, timeout: float = 20.0) -> bool:
        return self.lifecycle.shutdown(timeout)
