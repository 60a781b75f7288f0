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

from bot.clock import Clock

log = logging.getLogger(__name__)

JOB_HEARTBEAT_SECONDS = 10.0  # how often a process tells the store it still runs its jobs
ORPHAN_AFTER_SECONDS = 30.0  # a job without a heartbeat this long is adopted (SPEC §9)


class Interrupted(Exception):
    """The process is shutting down: the job stops here, stays live, and resumes on next start."""


class JobLost(Interrupted):
    """Another process adopted the job (this one paused too long): stop, undo nothing."""


class Cancelled(Exception):
    """Somebody cancelled the job (SPEC §16): it undoes what it created and ends cancelled."""

    def __init__(self, by: str) -> None:
        super().__init__(f"cancelled by {by}")
        self.by = by


class JobControl:
    """What may stop one job from outside its thread: shutdown, losing it, a cancel.

    Each job this process runs has one, passed to everything that works on the job (its
    clock, its fenced ports); nothing is looked up by thread. ``wake`` ends a wait of the
    job's at once, so a cancel pressed during a ten-minute DRAINING wait takes effect now.
    """

    def __init__(self, stopping: threading.Event, *, wake: threading.Event | None = None) -> None:
        self._stopping = stopping
        self.wake = wake or threading.Event()
        self._lock = threading.Lock()
        self._lost = False
        self._cancelled_by: str | None = None
        self._cancel_taken = False

    @property
    def lost(self) -> bool:
        return self._lost

    @property
    def cancelled_by(self) -> str | None:
        return self._cancelled_by

    def mark_lost(self) -> None:
        with self._lock:
            self._lost = True
        self.wake.set()

    def cancel(self, by: str) -> None:
        """Ask the job to stop and undo; its next wait (or step) raises ``Cancelled``."""
        with self._lock:
            if self._cancelled_by is None:
                self._cancelled_by = by
        self.wake.set()

    def take_cancel(self) -> None:
        """The job is undoing its work for the cancel: its waits run normally again."""
        with self._lock:
            self._cancel_taken = True
            if not self._lost and not self._stopping.is_set():
                self.wake.clear()

    def check(self) -> None:
        """Raise what stops the job now, if anything does."""
        if self._lost:
            raise JobLost
        if self._stopping.is_set():
            raise Interrupted
        with self._lock:
            by = None if self._cancel_taken else self._cancelled_by
        if by is not None:
            raise Cancelled(by)


class InterruptibleClock:
    """A clock whose ``sleep`` ends early when its ``JobControl`` says the job must stop.

    Every wait of a job goes through its clock, so SIGTERM reaches a job that is polling
    DRAINING at once (``Interrupted``), a job another replica adopted stops at its next wait
    (``JobLost``), and a cancel ends any wait (``Cancelled``). The same code runs on the
    system clock and on a test's fake clock: the base clock's ``wait`` decides how time
    passes, this class only when to stop.
    """

    def __init__(self, base: Clock, control: JobControl) -> None:
        self._base = base
        self._control = control

    @classmethod
    def for_process(cls, base: Clock, stopping: threading.Event) -> InterruptibleClock:
        """The clock of work that is no job's (queries, the sweeper): only shutdown ends it."""
        return cls(base, JobControl(stopping, wake=stopping))

    @property
    def base(self) -> Clock:
        return self._base

    def for_job(self, control: JobControl) -> InterruptibleClock:
        return InterruptibleClock(self._base, control)

    def monotonic(self) -> float:
        return self._base.monotonic()

    def now(self) -> datetime:
        return self._base.now()

    def wait(self, event: threading.Event, seconds: float) -> bool:
        self._control.check()
        done = self._base.wait(event, seconds)
        self._control.check()
        return done

    def sleep(self, seconds: float) -> None:
        deadline = self._base.monotonic() + max(seconds, 0.0)
        while True:
            self._control.check()
            left = deadline - self._base.monotonic()
            if left <= 0:
                return
            self._base.wait(self._control.wake, left)


Work = Callable[[JobControl], None]


class JobRunner:
    """Runs job callables on a bounded pool; tracks what runs for heartbeats and waits."""

    def __init__(self, workers: int, stopping: threading.Event) -> None:
        self._workers = workers
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="job")
        self._stopping = stopping
        self._lock = threading.Lock()
        self._inflight: dict[str, threading.Event] = {}
        self._controls: dict[str, JobControl] = {}
        self._idle = threading.Condition(self._lock)

    @property
    def workers(self) -> int:
        return self._workers

    def submit(self, job_id: str, work: Work) -> int:
        """Schedule ``work``; returns how many jobs are ahead of it (0: it starts now)."""
        with self._lock:
            if job_id in self._inflight:
                return 0  # already scheduled in this process (adopted twice, clicked twice)
            self._track(job_id)
            ahead = max(len(self._inflight) - self._workers, 0)
        self._pool.submit(self._run, job_id, work)
        return ahead

    def run_here(self, job_id: str, work: Work) -> None:
        """Run ``work`` in the calling thread as a job of this runner (heart-beaten, fenced).

        For a job started by another job (cleanup's stops): waiting for it on the pool
        from a pool thread deadlocks once every worker waits so (SHOWTIME_JOB_WORKERS=1).
        """
        with self._lock:
            if job_id in self._inflight:
                return
            self._track(job_id)
        self._run(job_id, work)

    def _track(self, job_id: str) -> None:
        self._inflight[job_id] = threading.Event()
        control = JobControl(self._stopping)
        if self._stopping.is_set():
            control.wake.set()
        self._controls[job_id] = control

    def _run(self, job_id: str, work: Work) -> None:
        with self._lock:
            done, control = self._inflight[job_id], self._controls[job_id]
        try:
            if not control.lost:
                work(control)
        except Exception:
            log.exception("job crashed outside its own error handling", extra={"job": job_id})
        finally:
            with self._lock:
                self._inflight.pop(job_id, None)
                self._controls.pop(job_id, None)
                self._idle.notify_all()
            done.set()

    def control(self, job_id: str) -> JobControl | None:
        with self._lock:
            return self._controls.get(job_id)

    def mark_lost(self, job_id: str) -> None:
        """The job is another process's now: its next wait (or fenced write) stops it."""
        if (control := self.control(job_id)) is not None:
            control.mark_lost()

    def cancel(self, job_id: str, by: str) -> bool:
        """Cancel the job if this process runs it; was it running here?"""
        if (control := self.control(job_id)) is None:
            return False
        control.cancel(by)
        return True

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
        with self._lock:
            controls = list(self._controls.values())
        for control in controls:
            control.wake.set()
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
