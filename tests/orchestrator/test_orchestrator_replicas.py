"""Two replicas on one PostgreSQL job store: still one live job per PR."""

from __future__ import annotations

import os
import random
import threading

import pytest
from support import World

from bot.adapters.store import SqlJobStore
from bot.domain.requester import Requester
from bot.orchestrator.facade import Orchestrator
from bot.orchestrator.jobs import JobBusyError, JobKind, JobState
from bot.orchestrator.models import JobRequest

PG_URL = os.environ.get("SHOWTIME_TEST_PG_URL", "")


@pytest.mark.postgres
def test_two_replicas_on_postgresql_start_one_job(world: World) -> None:
    if not PG_URL:
        pytest.skip(
            "PostgreSQL not available: set SHOWTIME_TEST_PG_URL (scripts/start-postgres.sh)"
        )
    pr = random.randint(100_000, 999_999)  # the database outlives the test: use a PR of its own
    world.github_standin.add_pr(pr, "replicas", "")
    replicas: list[Orchestrator] = []
    stores = [SqlJobStore(PG_URL, clock=world.clock) for _ in range(2)]
    for store in stores:
        world.store = store
        replicas.append(world.build_orchestrator())
    results: list[object] = []
    barrier = threading.Barrier(10)

    def attempt(orchestrator: Orchestrator) -> None:
        barrier.wait()
        try:
            results.append(
                orchestrator.jobs.begin(
                    JobRequest(kind=JobKind.START, pr=pr, requester=Requester.slack("U1"))
                )
            )
        except JobBusyError as exc:
            results.append(exc)

    threads = [threading.Thread(target=attempt, args=(replicas[i % 2],)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    jobs = [r for r in results if not isinstance(r, JobBusyError)]
    assert len(jobs) == 1 and len(results) == 10
    stores[0].finish(jobs[0].id, JobState.FAILED, "test over")  # type: ignore[attr-defined]
    for store in stores:
        store.close()
