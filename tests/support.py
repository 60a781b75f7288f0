"""Test support: whole worlds for service-layer and Slack tests.

``World``: the GitHub stand-in over loopback HTTP, ECS through moto made to behave like
ECS, a SQLite job store, one fake clock — for request budgets, the DRAINING rule and
everything the real adapters must get right. ``FakeWorld``: the same orchestrator on
in-memory fakes of its ports (``tests/fakes.py``) — for the decision and durability
tests, which are about what the orchestrator does, not about wire formats.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from fakes import FakeEcs, FakeGitHub, FakeHealth, FakeLogs
from sqlalchemy import create_engine, select, text

from bot.adapters.store import SqlJobStore
from bot.adapters.store_schema import jobs, normalise_url
from bot.clock import Clock, FakeClock
from bot.config import Settings
from bot.domain import events as ev
from bot.domain.labels import sha_of_label
from bot.domain.requester import Requester
from bot.metrics import Metrics
from bot.orchestrator.context import Ports
from bot.orchestrator.facade import Orchestrator
from bot.orchestrator.jobs import Job, JobKind, JobState, StartParams, StartRecord, StopParams
from bot.orchestrator.models import JobRequest, Notice, Refused, Started
from bot.orchestrator.runner import InterruptibleClock
from bot.wiring import policy_of, service_layer

DRAIN_SECONDS = 150.0
STABLE_SECONDS = 20.0
SLACK_USER = "U0MAINTAINER"
WORLD_START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
# One running environment as the superset-showtime CLI labels it (SPEC §8's example).
CLI_LABELS = [
    "🎪 abc123f 🚦 running",
    "🎪 🎯 abc123f",
    "🎪 abc123f 🌐 52.1.2.3:8080",
    "🎪 abc123f 📅 2024-01-15T14-30",
    "🎪 abc123f 🤡 maxime",
    "🎪 ⌛ 1w",
    "🎪 🧊 showtime-freeze",
]
PRS = (36121, 36122, 36123)

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], what: str, timeout: float = 60.0) -> T:
    """Until ``predicate()`` is true (its value is returned), or fail naming ``what``.

    The one way a test waits for something another thread or process does: a condition with
    a deadline, looked at every 20 ms, never a fixed sleep before an assertion.
    """
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout:g}s waiting for {what}")
        time.sleep(0.02)
    return value


def age_jobs(store: SqlJobStore, seconds: float) -> None:
    """Make every job look ``seconds`` older (heartbeat and last update), as a process that
    paused that long would see them — on PostgreSQL staleness is judged on the database's
    clock, which a test cannot advance."""
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


class Recorder:
    """A listener that keeps every event and notice, for assertions."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.events: list[tuple[Job, ev.Event]] = []
        self.notices: list[Notice] = []
        self.hooks: list[Callable[[Job, ev.Event], None]] = []

    def job_event(self, job: Job, event: ev.Event) -> None:
        with self._lock:
            self.events.append((job, event))
            hooks = list(self.hooks)
        for hook in hooks:
            hook(job, event)

    def notice(self, notice: Notice) -> None:
        with self._lock:
            self.notices.append(notice)

    def of(self, job_id: str) -> list[ev.Event]:
        with self._lock:
            return [event for job, event in self.events if job.id == job_id]


@dataclass
class _Base:
    """What both worlds share: the orchestrator, the store, the clock, what was said."""

    settings: Settings
    clock: FakeClock
    store: SqlJobStore
    recorder: Recorder = field(default_factory=Recorder)

    def ports(self, clock: InterruptibleClock) -> Ports:
        raise NotImplementedError

    def close(self) -> None:
        self.orchestrator.shutdown(5)
        self.store.close()

    def build_orchestrator(self) -> Orchestrator:
        """A fresh orchestrator (as after a restart) on the same store, GitHub and ECS."""
        stopping = threading.Event()
        clock = InterruptibleClock.for_process(self.clock, stopping)
        orchestrator = service_layer(
            policy_of(self.settings), self.ports(clock), self.store, clock, stopping=stopping
        )
        orchestrator.add_listener(self.recorder)
        self.orchestrator = orchestrator
        return orchestrator

    @property
    def events(self) -> list[tuple[Job, ev.Event]]:
        return list(self.recorder.events)

    def events_of(self, job_id: str) -> list[ev.Event]:
        return self.recorder.of(job_id)

    def start(self, pr: int = 36121, *, ttl: str | None = None, sha: str | None = None) -> Job:
        """Begin and run a start, wait for it, return the finished job."""
        return self.run(
            JobRequest(
                kind=JobKind.START,
                pr=pr,
                sha=sha,
                requester=Requester.slack(SLACK_USER, "maintainer"),
                params=StartParams(ttl=ttl),
            )
        )

    def stop(self, pr: int = 36121) -> Job:
        return self.run(
            JobRequest(
                kind=JobKind.STOP,
                pr=pr,
                requester=Requester.slack(SLACK_USER, "maintainer"),
                params=StopParams(),
            )
        )

    def run(self, request: JobRequest, timeout: float = 60.0) -> Job:
        answer = self.orchestrator.submit(request)
        if isinstance(answer, Refused):
            raise answer.error
        assert isinstance(answer, Started), answer
        finished = self.orchestrator.wait(answer.job.id, timeout)
        assert finished is not None and not finished.live, "job did not finish in time"
        return finished

    def labels(self, pr: int = 36121) -> list[str]:
        raise NotImplementedError

    def showtime_labels(self, pr: int = 36121) -> list[str]:
        return sorted(name for name in self.labels(pr) if name.startswith("🎪 "))


@dataclass
class World(_Base):
    """Stand-ins over HTTP (GitHub) and moto (ECS)."""

    github_standin: Any = None
    ecs_standin: Any = None
    network: Any = None
    health: Callable[[str], int] = lambda url: 200
    health_urls: list[str] = field(default_factory=list)

    def ports(self, clock: InterruptibleClock) -> Ports:
        from bot.adapters.ecs import EcsEngine, EcsLogs
        from bot.adapters.github import GitHubAdapter
        from bot.adapters.health import HttpHealthProbe

        return Ports(
            github=GitHubAdapter(self.settings, clock=clock),
            ecs=EcsEngine(self.settings, clock=clock),
            health=HttpHealthProbe(self.settings, clock=clock, http_get=self._http_get),
            logs=EcsLogs(self.settings, clock=clock),
        )

    def _http_get(self, url: str, timeout: float) -> int:
        self.health_urls.append(url)
        return self.health(url)

    def labels(self, pr: int = 36121) -> list[str]:
        return list(self.github_standin.labels(pr))

    def services(self, status: str | None = "ACTIVE") -> list[dict[str, Any]]:
        """What ECS has, as DescribeServices says (ACTIVE, DRAINING...), not counted."""
        from bot.sandbox.aws import known_services

        found = known_services(self.network)
        return [s for s in found if status is None or s["status"] == status]

    def sha_definitions(self) -> list[str]:
        return sorted(n for n in self.github_standin.label_definitions() if sha_of_label(n))


@dataclass
class FakeWorld(_Base):
    """In-memory fakes of every port, on the fake clock."""

    gh: FakeGitHub = field(default_factory=FakeGitHub)
    aws: FakeEcs | None = None
    probe: FakeHealth | None = None
    logs: FakeLogs = field(default_factory=FakeLogs)

    def ports(self, clock: InterruptibleClock) -> Ports:
        assert self.aws is not None and self.probe is not None
        # Their waits go through this orchestrator's clock (a job's own when it runs one):
        # SIGTERM, fencing and cancels reach them.
        self.aws.clock = self.probe.clock = clock
        return Ports(github=self.gh, ecs=self.aws, health=self.probe, logs=self.logs)

    def labels(self, pr: int = 36121) -> list[str]:
        return self.gh.labels(pr)

    def service_names(self, status: str | None = "ACTIVE") -> list[str]:
        assert self.aws is not None
        return sorted(s.name for s in self.aws.services(status))


def at_once(calls: list[Callable[[], T]], refused: type[Exception]) -> list[T | Exception]:
    """Run ``calls`` in threads released at the same instant; what each returned, or the
    ``refused`` error it raised (anything else fails the test)."""
    barrier = threading.Barrier(len(calls))
    results: list[T | Exception] = []
    lock = threading.Lock()

    def attempt(call: Callable[[], T]) -> None:
        barrier.wait()
        try:
            result: T | Exception = call()
        except refused as exc:
            result = exc
        with lock:
            results.append(result)

    threads = [threading.Thread(target=attempt, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(results) == len(calls), f"{len(calls) - len(results)} call(s) failed or hung"
    return results


def a_job(**fields: Any) -> Job:
    """A start of #36121 by the maintainer, succeeded, with a status message in C1, as the
    store would return it; ``fields`` change any of it (``state=JobState.RUNNING``…)."""
    values: dict[str, Any] = {
        "id": "j1",
        "kind": JobKind.START,
        "lock_key": "pr:36121",
        "pr": 36121,
        "sha": None,
        "requester": Requester.slack(SLACK_USER, "maintainer"),
        "channel": "C1",
        "thread_ts": "1.0",
        "params": StartParams(),
        "record": StartRecord(sha7="abc1234"),
        "step": None,
        "state": JobState.SUCCEEDED,
        "outcome": None,
        "correlation_id": "ref12345",
        "idempotency_key": None,
        "owner": None,
        "heartbeat_at": None,
        "created_at": WORLD_START,
        "updated_at": WORLD_START,
        "finished_at": None,
    }
    return Job(**{**values, **fields})


def world_settings_of(tmp_path: Path, overrides: dict[str, Any]) -> Settings:
    """A world's settings: a SQLite job store in ``tmp_path``, polls every 5 s, 16 workers."""
    values: dict[str, Any] = {
        "_env_file": None,
        "github_token": "test-token",
        "showtime_poll_seconds": 5.0,
        "showtime_db_url": f"sqlite:///{tmp_path / 'jobs.db'}",
        "showtime_job_workers": 16,
        **overrides,
    }
    return Settings(**values)


def fake_world_on(
    clock: Clock,
    tmp_path: Path,
    overrides: dict[str, Any],
    *,
    stable_seconds: float = STABLE_SECONDS,
) -> FakeWorld:
    """A ``FakeWorld`` on ``clock`` (a ``FakeClock`` but in tests of the clocks themselves),
    with PRs 36121-36123 open; ``close`` it when done."""
    github = FakeGitHub()
    for number in PRS:
        github.add_pr(number, f"PR {number}", "FEATURE_ALERT_REPORTS=true\n")
    settings = world_settings_of(
        tmp_path,
        {"ecs_subnets": ["subnet-test-a"], "ecs_security_groups": ["sg-test-a"], **overrides},
    )
    store = SqlJobStore(settings.showtime_db_url, clock=clock)
    world = FakeWorld(
        settings,
        clock,  # type: ignore[arg-type]  # a SystemClock only in tests/orchestrator/test_clocks.py
        store,
        gh=github,
        aws=FakeEcs(clock, drain_seconds=DRAIN_SECONDS, stable_seconds=stable_seconds),
        probe=FakeHealth(clock),
    )
    world.build_orchestrator()
    return world


def counted(
    metrics: Metrics, counter: str, labels: tuple[str, ...]
) -> dict[tuple[str, ...], float]:
    """A counter's samples (``showtime_aws_calls``, without ``_total``), keyed by the values
    of ``labels``: what an operator's Prometheus would read."""
    return {
        tuple(sample.labels[name] for name in labels): sample.value
        for family in metrics.registry.collect()
        if family.name == counter
        for sample in family.samples
        if sample.name == f"{counter}_total"
    }


PG_URL_ENV = "SHOWTIME_TEST_PG_URL"


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A job store URL on an empty schema of its own in the test PostgreSQL, dropped after;
    skips the test when SHOWTIME_TEST_PG_URL is not set (CI always sets it)."""
    admin_url = os.environ.get(PG_URL_ENV)
    if not admin_url:
        pytest.skip(f"PostgreSQL not available: set {PG_URL_ENV} (scripts/start-postgres.sh)")
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(normalise_url(admin_url))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = normalise_url(admin_url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
