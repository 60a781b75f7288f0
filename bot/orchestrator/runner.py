"""Where jobs run: a bounded executor of the orchestrator's own, with heartbeats.

Jobs never run on the web server's request threads nor on Bolt's listener pool:
a deploy waits minutes on DRAINING and health checks, and a blocked listener
pool is how a bot misses Slack's 3-second ack. Each running job's heartbeat is
refreshed every few seconds; jobs whose owner stopped beating are adopted and
resumed (SPEC §9).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from bot.clock import Clock, SystemClock

log = logging.getLogger(__name__)

JOB_HEARTBEAT_SECONDS = 10.0  # how often a process tells the store it still runs its jobs
ORPHAN_AFTER_SECONDS = 30.0  # a job without a heartbeat this long is adopted (SPEC §9)


class Interrupted(Exception):
    """The process is shutting down: the job stops here, stays live, and resumes on next start."""


class JobLost(Interrupted):
    """Another process adopted the job (this one paused too long): stop, undo nothing."""


_current = threading.local()  # the job the calling thread works on, and its "lost" flag


def current_job_id() -> str | None:
    """The id of the job this thread runs (None on request threads, tickers...)."""
    return getattr(_current, "job_id", None)


def _current_lost() -> bool:
    lost: threading.Event | None = getattr(_current, "lost", None)
    return lost is not None and lost.is_set()


class InterruptibleClock:
    """A clock whose ``sleep`` ends early once shutdown begins or the job was lost.

    Every wait of a job goes through the clock, so SIGTERM reaches a job that is
    polling DRAINING within one poll interval instead of after ten minutes
    (``Interrupted``), and a job another replica adopted stops at its next wait
    (``JobLost``).
    """

    def __init__(self, base: Clock, stopping: threading.Event) -> None:
        self._base = base
        self._stopping = stopping

    def monotonic(self) -> float:
        return self._base.monotonic()

    def now(self) -> datetime:
        return self._base.now()

    def sleep(self, seconds: float) -> None:
        self._check()
        if isinstance(self._base, SystemClock):
            lost: threading.Event | None = getattr(_current, "lost", None)
            deadline = self._base.monotonic() + max(seconds, 0.0)
            # Wake for shutdown at once; for a lost job at least every second.
            while (left := deadline - self._base.monotonic()) > 0:
                self._stopping.wait(min(left, 1.0) if lost is not None else left)
                self._check()
        else:
            self._base.sleep(seconds)
            self._check()

    def _check(self) -> None:
        if _current_lost():
            raise JobLost
        if self._stopping.is_set():
            raise Interrupted


class JobRunner:
    """Runs job callables on a bounded pool; tracks what runs for heartbeats and waits."""

    def __init__(self, workers: int, stopping: threading.Event) -> None:
        self._workers = workers
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="job")
        self._stopping = stopping
        self._lock = threading.Lock()
        self._inflight: dict[str, threading.Event] = {}
        self._lost: dict[str, threading.Event] = {}
        self._running: set[str] = set()
        self._idle = threading.Condition(self._lock)

    @property
    def workers(self) -> int:
        return self._workers

    def submit(self, job_id: str, work: Callable[[], None]) -> int:
        """Schedule ``work``; returns how many jobs are ahead of it (0: it starts now)."""
        with self._lock:
            if job_id in self._inflight:
                return 0  # already scheduled in this process (adopted twice, clicked twice)
            self._track(job_id)
            ahead = max(len(self._inflight) - self._workers, 0)
        self._pool.submit(self._run, job_id, work)
        return ahead

    def run_here(self, job_id: str, work: Callable[[], None]) -> None:
        """Run ``work`` in the calling thread as a job of this runner (heart-beaten, fenced).

        For a job started by another job (cleanup's stops): waiting for it on the pool
        from a pool thread deadlocks once every worker waits so (SHOWTIME_JOB_WORKERS=1).
        """
        with self._lock:
            if job_id in self._inflight:
                return
            self._track(job_id)
        saved = (current_job_id(), getattr(_current, "lost", None))
        try:
            self._run(job_id, work)
        finally:
            _current.job_id, _current.lost = saved

    def _track(self, job_id: str) -> None:
        self._inflight[job_id] = threading.Event()
        self._lost[job_id] = threading.Event()

    def _run(self, job_id: str, work: Callable[[], None]) -> None:
        with self._lock:
            self._running.add(job_id)
            done, lost = self._inflight[job_id], self._lost[job_id]
        _current.job_id, _current.lost = job_id, lost
        try:
            if not lost.is_set():
                work()
        except Exception:
            log.exception("job crashed outside its own error handling", extra={"job": job_id})
        finally:
            _current.job_id, _current.lost = None, None
            with self._lock:
                self._running.discard(job_id)
                self._inflight.pop(job_id, None)
                self._lost.pop(job_id, None)
                self._idle.notify_all()
            done.set()

    def mark_lost(self, job_id: str) -> None:
        """The job is another process's now: its next wait (or fenced write) stops it."""
        with self._lock:
            lost = self._lost.get(job_id)
        if lost is not None:
            lost.set()

    def inflight_ids(self) -> list[str]:
        with self._lock:
            return list(self._inflight)

    def wait(self, job_id: str, timeout: float | None = None) -> bool:
        with self._lock:
            done = self._inflight.get(job_id)
        return True if done is None else done.wait(timeout)

    def wait_idle(self, timeout: float | None = None) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: not self._inflight, timeout)

    def shutdown(self, timeout: float) -> bool:
        """Stop taking work, let running jobs reach their next wait, and return by ``timeout``."""
        self._stopping.set()
        finished = self.wait_idle(timeout)
        self._pool.shutdown(wait=False, cancel_futures=True)
        return finished


class Ticker:
    """Runs ``action`` every ``seconds`` in a daemon thread until stopped."""

    def __init__(
        self, name: str, seconds: float, action: Callable[[], None], stopping: threading.Event
    ) -> None:
        self._seconds = seconds
        self._action = action
        self._stopping = stopping
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        while not self._stopping.wait(self._seconds):
            try:
                self._action()
            except Exception:
                log.exception("periodic task failed", extra={"task": self._thread.name})

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)
