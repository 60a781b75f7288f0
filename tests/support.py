"""Test support: a whole world for service-layer and Slack tests (GitHub stand-in over
loopback HTTP, ECS through moto made to behave like ECS, a SQLite job store, one fake clock)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from bot.adapters.ecs import EcsConsole, EcsEngine
from bot.adapters.github import GitHubAdapter
from bot.adapters.health import HttpHealthProbe
from bot.adapters.store import Job, JobStore
from bot.clock import FakeClock
from bot.config import Settings
from bot.domain import events as ev
from bot.orchestrator.models import JobRequest
from bot.orchestrator.runner import InterruptibleClock
from bot.orchestrator.service import Orchestrator
from bot.sandbox.aws import EcsStandIn, Network, known_services
from bot.sandbox.github import GitHubStandIn


def age_jobs(store: JobStore, seconds: float) -> None:
    """Make every job look ``seconds`` older (heartbeat and last update), as a process that
    paused that long would see them — on PostgreSQL staleness is judged on the database's
    clock, which a test cannot advance."""
    from datetime import timedelta

    from bot.adapters.store import jobs

    with store.engine.begin() as conn:
        rows = conn.execute(select(jobs.c.id, jobs.c.heartbeat_at, jobs.c.updated_at)).all()
        for row in rows:
            conn.execute(
                jobs.update()
                .where(jobs.c.id == row.id)
                .values(
                    heartbeat_at=row.heartbeat_at - timedelta(seconds=seconds)
                    if row.heartbeat_at
                    else None,
                    updated_at=row.updated_at - timedelta(seconds=seconds),
                )
            )


DRAIN_SECONDS = 150.0
STABLE_SECONDS = 20.0
SLACK_USER = "U0MAINTAINER"


@dataclass
class World:
    settings: Settings
    clock: FakeClock
    github_standin: GitHubStandIn
    ecs_standin: EcsStandIn
    network: Network
    store: JobStore
    orchestrator: Orchestrator
    events: list[tuple[Job | Any, ev.Event]] = field(default_factory=list)
    health: Callable[[str], int] = lambda url: 200
    health_urls: list[str] = field(default_factory=list)
    _events_lock: threading.Lock = field(default_factory=threading.Lock)

    def build_orchestrator(self) -> Orchestrator:
        """A fresh orchestrator (as after a restart) on the same store, GitHub and ECS."""
        stopping = threading.Event()
        clock = InterruptibleClock(self.clock, stopping)
        github = GitHubAdapter(self.settings, clock=self.clock)
        orchestrator = Orchestrator(
            self.settings,
            github=github,
            ecs=EcsEngine(self.settings, clock=clock),
            health=HttpHealthProbe(self.settings, clock, http_get=self._http_get),
            logs=EcsConsole(self.settings),
            store=self.store,
            clock=clock,
            stopping=stopping,
        )
        orchestrator.add_listener(self._record)
        self.orchestrator = orchestrator
        return orchestrator

    def _http_get(self, url: str, timeout: float) -> int:
        self.health_urls.append(url)
        return self.health(url)

    def _record(self, context: Any, event: ev.Event) -> None:
        with self._events_lock:
            self.events.append((context, event))

    def events_of(self, job_id: str) -> list[ev.Event]:
        with self._events_lock:
            return [
                event for context, event in self.events if getattr(context, "id", None) == job_id
            ]

    def start(self, pr: int = 36121, **kwargs: Any) -> Job:
        """Begin and run a start, wait for it, return the finished job."""
        return self.run(
            JobRequest(
                kind="start", pr=pr, requester=SLACK_USER, requester_name="maintainer", **kwargs
            )
        )

    def stop(self, pr: int = 36121) -> Job:
        return self.run(
            JobRequest(kind="stop", pr=pr, requester=SLACK_USER, requester_name="maintainer")
        )

    def run(self, request: JobRequest, timeout: float = 60.0) -> Job:
        job = self.orchestrator.begin(request)
        self.orchestrator.run(job.id)
        finished = self.orchestrator.wait(job.id, timeout)
        assert finished is not None and not finished.live, "job did not finish in time"
        return finished

    def labels(self, pr: int = 36121) -> list[str]:
        return self.github_standin.labels(pr)

    def showtime_labels(self, pr: int = 36121) -> list[str]:
        return sorted(name for name in self.labels(pr) if name.startswith("🎪 "))

    def services(self, status: str | None = "ACTIVE") -> list[dict[str, Any]]:
        """What ECS has, as DescribeServices says (ACTIVE, DRAINING...), not counted."""
        found = known_services(self.network)
        return [s for s in found if status is None or s["status"] == status]

    def sha_definitions(self) -> list[str]:
        from bot.domain.labels import sha_of_label

        return sorted(n for n in self.github_standin.label_definitions() if sha_of_label(n))
