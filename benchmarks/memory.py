"""(c) The bot process's resident memory: idle, with 50 deploys waiting, and at its peak.

RSS of the ``python -m bot serve`` subprocess (``psutil``), sampled every 100 ms by a
background thread for the peak between the moments in the table, and the kernel's
own high-water mark (``VmHWM`` in ``/proc/<pid>/status``) at the end. The 50 deploys
wait on ECS for ``STABLE_SECONDS`` (the stand-in starts their tasks then), so they
end by themselves and the last rows show what stays once they are running.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import psutil

from benchmarks import common
from benchmarks.table import Table

log = logging.getLogger(__name__)

DEPLOYS = 50
STABLE_SECONDS = 20.0
POLL_SECONDS = 5.0  # the production default
FIRST_PR = 42001
MIB = 1024 * 1024


class RssSampler:
    """Samples one process's RSS in a daemon thread; ``peak`` is the largest seen."""

    def __init__(self, pid: int, every: float = 0.1) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def rss(self) -> int:
        value = int(self.process.memory_info().rss)
        self.peak = max(self.peak, value)
        return value

    def take_peak(self) -> int:
        """The peak since the last call, then start over."""
        self.rss()
        peak, self.peak = self.peak, 0
        return peak

    def _loop(self) -> None:
        while not self._stop.wait(self._every):
            try:
                self.rss()
            except psutil.Error:
                return


def run() -> list[Table]:
    table = Table(
        "Bot process memory (RSS of `python -m bot serve`)",
        ["moment", "RSS MiB", "peak since previous MiB", "threads", "live jobs"],
    )
    sandbox = common.new_sandbox(
        drain_seconds=1.0, stable_seconds=STABLE_SECONDS, poll_seconds=POLL_SECONDS, env={}
    )
    with sandbox:
        assert sandbox.process is not None
        pid = sandbox.process.pid
        with RssSampler(pid) as sampler:

            def row(moment: str) -> None:
                table.add(
                    moment,
                    sampler.rss() / MIB,
                    sampler.take_peak() / MIB,
                    sampler.process.num_threads(),
                    common.live_jobs(sandbox),
                )

            row("idle, just started (/healthz answered)")
            time.sleep(3)
            row("idle, 3 s later")
            sandbox.command("status 36121")
            sandbox.command("list")
            row("after one status and one list")

            prs = list(range(FIRST_PR, FIRST_PR + DEPLOYS))
            common.add_prs(sandbox, prs)
            log.info("memory: starting %d deploys", DEPLOYS)
            began = time.monotonic()
            common.send_starts(sandbox, prs)
            common.wait_for_waiting(sandbox, DEPLOYS)
            row(f"{DEPLOYS} deploys waiting on ECS")
            time.sleep(max(STABLE_SECONDS - (time.monotonic() - began) - 5, 0))
            row(f"{DEPLOYS} deploys still waiting, {time.monotonic() - began:.0f} s after start")
            log.info("memory: waiting for the %d deploys to finish", DEPLOYS)
            common.wait_idle(sandbox, timeout=STABLE_SECONDS + 120)
            row(f"{DEPLOYS} deploys finished ({DEPLOYS} environments running)")
            time.sleep(3)
            row("idle again, 3 s later")
            high_water = _high_water_mark(pid)
        table.notes += [
            f"deploys poll ECS every {POLL_SECONDS:g} s (the production default); the ECS "
            f"stand-in starts their tasks {STABLE_SECONDS:g} s after they are created.",
            f"peak over the whole run: {high_water / MIB:.1f} MiB (kernel VmHWM)"
            if high_water
            else "kernel VmHWM not available",
            *common.log_problems(sandbox),
        ]
    return [table]


def _high_water_mark(pid: int) -> int:
    """The kernel's peak RSS of ``pid`` in bytes (Linux ``VmHWM``); 0 when unavailable."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0
