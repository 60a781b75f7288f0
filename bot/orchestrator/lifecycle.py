"""A process's life with its jobs: heartbeats, adopting orphans, the sweeper's ticks, SIGTERM.

A running job's owner tells the store every ``JOB_HEARTBEAT_SECONDS`` that it still works
on it; a job without a heartbeat for ``ORPHAN_AFTER_SECONDS`` is adopted — by any process,
this one too (a job whose intake failed half-way) — and resumed from its last finished
step (SPEC §9). A heartbeat that finds a job no longer ours (adopted elsewhere after this
process paused) stops that job's worker here (SPEC §12, fencing).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from bot.orchestrator.context import Background
from bot.orchestrator.jobs import Job, JobStore
from bot.orchestrator.policy import Policy
from bot.orchestrator.runner import (
    JOB_HEARTBEAT_SECONDS,
    ORPHAN_AFTER_SECONDS,
    JobRunner,
    Ticker,
)

log = logging.getLogger(__name__)

CANCEL_POLL_SECONDS = 1.0  # SPEC §10: a cancel stops the job within 5 s, wherever it runs


class Lifecycle:
    def __init__(
        self,
        *,
        policy: Policy,
        store: JobStore,
        runner: JobRunner,
        owner: str,
        stopping: threading.Event,
        working_ids: Callable[[], list[str]],
        resume: Callable[[Job], None],
        sweep: Callable[[], None],
        follow_ups: Callable[[], None],
        cancels: Callable[[], None] = lambda: None,
        prune: Callable[[], None] = lambda: None,
        background: Background | None = None,
    ) -> None:
        self._policy = policy
        self._background = background
        self._store = store
        self._runner = runner
        self._owner = owner
        self._stopping = stopping
        self._working_ids = working_ids
        self._resume = resume
        self._sweep = sweep
        self._follow_ups = follow_ups
        self._cancels = cancels
        self._prune = prune
        self._tickers: list[Ticker] = []

    @property
    def stopping(self) -> threading.Event:
        """Set once the process stops taking work (SIGTERM)."""
        return self._stopping

    def resume_orphans(self, stale_after_seconds: float | None = None) -> list[Job]:
        """Adopt jobs whose owner stopped beating and resume them.

        At start-up with SQLite there is one process, so every unfinished job is an
        orphan at once (``stale_after_seconds`` 0); with PostgreSQL, 30 s without a
        heartbeat.
        """
        if stale_after_seconds is None:
            stale_after_seconds = 0.0 if self._policy.single_process else ORPHAN_AFTER_SECONDS
        adopted = self._store.adopt_orphans(
            self._owner, stale_after_seconds, keep=self._working_ids()
        )
        for job in adopted:
            self._resume(job)
        return adopted

    def start_background(self) -> None:
        """Heartbeats, orphan adoption and the TTL sweeper, each in its own thread."""
        self._tickers = [
            Ticker("heartbeat", JOB_HEARTBEAT_SECONDS, self.beat, self._stopping),
            # A cancel pressed on another replica reaches this one's job within a second.
            Ticker("cancels", CANCEL_POLL_SECONDS, self._cancels, self._stopping),
            Ticker("adopt", ORPHAN_AFTER_SECONDS, self._adopt, self._stopping),
            Ticker(
                "sweeper",
                self._policy.sweep_every.total_seconds(),
                self._sweep_and_prune,
                self._stopping,
            ),
        ]
        for ticker in self._tickers:
            ticker.start()

    def beat(self) -> None:
        ids = self._working_ids()
        if not ids:
            return
        held = self._store.heartbeat(self._owner, ids)
        for job_id in set(ids) - held:
            job = self._store.get(job_id)
            if job is None or not job.live:
                continue  # it ended between the two looks: nothing was lost
            # Adopted elsewhere (this process paused past the orphan limit): its worker
            # stops at its next wait or fenced write.
            log.warning("job %s is no longer this process's; stopping it", job_id)
            self._runner.mark_lost(job_id)

    def _adopt(self) -> None:
        self.resume_orphans(ORPHAN_AFTER_SECONDS)
        self._follow_ups()

    def _sweep_and_prune(self) -> None:
        self._sweep()
        self._prune()

    def shutdown(self, timeout: float) -> bool:
        """SIGTERM: stop taking work; running jobs stop at their next wait and resume later."""
        finished = self._runner.shutdown(timeout)
        for ticker in self._tickers:
            ticker.join(1.0)
        if self._background is not None:
            self._background.shutdown(1.0)
        return finished
