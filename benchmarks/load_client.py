"""Slack's side of the ack-latency benchmark, in a process of its own.

The stand-ins (moto, GitHub, Slack) run as threads of the benchmark process; timing
requests from there would add their share of that process's GIL to every
measurement. So the benchmark signs the requests (only it can mint response URLs)
and this process sends them: one keep-alive session per thread, request ``i`` due
``i * interval`` seconds after the start (open loop: a slow answer does not slow
the next send, as with Slack), each timed like ``SlackRequester.send`` — wall time
from the POST until the whole HTTP answer is read.

Input (stdin, JSON): ``{"threads": 4, "interval": 0.05, "requests": [{"url", "body",
"headers", "method"}, ...]}`` (``method`` POST unless given). Output (stdout, JSON):
``[[status, seconds], ...]`` in request order; status 0 means no HTTP answer (connection
error or 10 s timeout).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests

if TYPE_CHECKING:  # the client process needs none of the bot's modules
    from bot.sandbox.slack_client import SignedRequest

TIMEOUT_SECONDS = 10.0
START_DELAY = 0.2  # lets every thread be ready before the first request is due


def send_all(
    signed: Sequence[SignedRequest], *, threads: int, interval: float, method: str = "POST"
) -> list[tuple[int, float]]:
    """Send ``signed`` from a separate process; returns (status, seconds) per request."""
    plan = {
        "threads": threads,
        "interval": interval,
        "requests": [
            {"url": r.url, "body": r.body, "headers": dict(r.headers), "method": method}
            for r in signed
        ],
    }
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.load_client"],
        input=json.dumps(plan),
        capture_output=True,
        text=True,
        cwd=root,
        timeout=len(signed) * interval + TIMEOUT_SECONDS * len(signed) / threads + 30,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the load client failed:\n{done.stderr[-2000:]}")
    return [(int(status), float(seconds)) for status, seconds in json.loads(done.stdout)]


def _run(plan: dict[str, Any]) -> list[tuple[int, float]]:
    items: list[dict[str, Any]] = plan["requests"]
    interval = float(plan["interval"])
    results: list[tuple[int, float]] = [(0, 0.0)] * len(items)
    lock = threading.Lock()
    next_index = 0
    began = time.perf_counter() + START_DELAY

    def worker() -> None:
        nonlocal next_index
        session = requests.Session()
        session.trust_env = False  # loopback only: no proxy from the environment
        with session:
            while True:
                with lock:
                    index = next_index
                    next_index += 1
                if index >= len(items):
                    return
                delay = began + index * interval - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                item = items[index]
                started = time.perf_counter()
                try:
                    answer = session.request(
                        item.get("method", "POST"),
                        item["url"],
                        data=item["body"].encode(),
                        headers=item["headers"],
                        timeout=TIMEOUT_SECONDS,
                    )
                    status = answer.status_code
                except requests.RequestException:
                    status = 0
                results[index] = (status, time.perf_counter() - started)

    pool = [threading.Thread(target=worker) for _ in range(int(plan["threads"]))]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return results


if __name__ == "__main__":
    json.dump(_run(json.load(sys.stdin)), sys.stdout)
