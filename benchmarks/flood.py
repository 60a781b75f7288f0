"""(d) Unsigned floods of ``/slack/events``: the bot's memory, and ``/healthz`` meanwhile.

SPEC §12: 20 concurrent 100 MB uploads leave the bot's memory within 50 MiB of idle, and
``/healthz`` keeps answering. The real bot (``python -m bot serve`` under the sandbox
harness) is measured with psutil every 50 ms while clients in this process send, per row:

- 20 clients uploading 100 MB bodies for 3 s, each starting a new upload when the bot
  refuses one: announced with ``Content-Length``, then without a length (chunked); the
  bodies are streamed from one 64 KiB buffer, so the clients allocate nothing either;
- complete 1 MiB bodies, the most ``/slack/events`` accepts, with no signature (each is
  read whole and checked: the most an unsigned request can make the bot hold);
- half-sent requests held open, within and beyond the connection limit.

``/healthz`` is probed every 20 ms from a process of its own (a fresh connection each
time, like a load balancer), so the flood's threads do not share its GIL.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event

from benchmarks import common
from benchmarks.memory import MIB, RssSampler
from benchmarks.table import Table
from bot.server import BODY_LIMITS, SLACK_EVENTS, HttpLimits

log = logging.getLogger(__name__)

CLIENTS = 20
UPLOAD_BYTES = 100 * 1000 * 1000  # "100 MB"
UPLOAD_SECONDS = 3.0  # each client starts a new upload as soon as one ends, for this long
PIECE = b"x" * 65536
FULL_BODIES_PER_CLIENT = 10
PROBE_EVERY = 0.02
PROBE_TIMEOUT = 30.0
SETTLE_SECONDS = 2.0
HOLD_SECONDS = 3.0


@dataclass
class Outcomes:
    """What the flood's clients saw, across threads."""

    answers: Counter[str] = field(default_factory=Counter)
    sent_bytes: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, answer: str, sent: int) -> None:
        with self.lock:
            self.answers[answer] += 1
            self.sent_bytes += sent

    def summary(self) -> str:
        return ", ".join(f"{n} x {answer}" for answer, n in self.answers.most_common())


def run() -> list[Table]:
    table = Table(
        "Unsigned floods of /slack/events: bot RSS and /healthz latency meanwhile",
        [
            "flood",
            "answers",
            "client MB sent",
            "s",
            "RSS before MiB",
            "peak MiB",
            "peak - idle MiB",
            "healthz n",
            "p50 ms",
            "p99 ms",
            "max ms",
            "healthz failed",
        ],
    )
    sandbox = common.new_sandbox(
        drain_seconds=1.0, stable_seconds=1.0, poll_seconds=5.0, env={"LOG_LEVEL": "INFO"}
    )
    limits = HttpLimits()
    with sandbox:
        assert sandbox.process is not None
        port = sandbox.port
        with RssSampler(sandbox.process.pid, every=0.05) as sampler:
            time.sleep(SETTLE_SECONDS)
            idle = sampler.rss()
            flood_rows: list[tuple[str, Callable[[Outcomes], None]]] = [
                (
                    f"{CLIENTS} clients uploading 100 MB, Content-Length",
                    lambda seen: _clients(port, seen, _upload, chunked=False),
                ),
                (
                    f"{CLIENTS} clients uploading 100 MB, chunked",
                    lambda seen: _clients(port, seen, _upload, chunked=True),
                ),
                (
                    f"{CLIENTS} x {FULL_BODIES_PER_CLIENT} bodies of 1 MiB, unsigned",
                    lambda seen: _clients(port, seen, _full_bodies, chunked=False),
                ),
                (
                    f"200 half-sent requests held {HOLD_SECONDS:g} s",
                    lambda seen: _half_sent(port, seen, 200, HOLD_SECONDS),
                ),
                (
                    f"{limits.connection_limit + 100} half-sent requests (over the limit)",
                    lambda seen: _half_sent(
                        port,
                        seen,
                        limits.connection_limit + 100,
                        limits.channel_timeout + limits.cleanup_interval + 2,
                    ),
                ),
            ]
            for label, flood in flood_rows:
                log.info("flood: %s", label)
                before = sampler.rss()
                sampler.take_peak()
                seen = Outcomes()
                latencies, failures, elapsed = _probing(port, flood, seen)
                peak = sampler.take_peak()
                ordered = sorted(latencies)
                table.add(
                    label,
                    seen.summary(),
                    seen.sent_bytes / 1e6,
                    elapsed,
                    before / MIB,
                    peak / MIB,
                    (peak - idle) / MIB,
                    len(latencies),
                    common.percentile(ordered, 50) * 1000,
                    common.percentile(ordered, 99) * 1000,
                    (ordered[-1] if ordered else float("nan")) * 1000,
                    failures,
                )
                time.sleep(SETTLE_SECONDS)
        table.notes += [
            f"idle RSS of the bot: {idle / MIB:.1f} MiB ({SETTLE_SECONDS:g} s after /healthz "
            "first answered); 'peak - idle' is the SPEC §12 figure (budget: 50 MiB).",
            f"limits: /slack/events {BODY_LIMITS[SLACK_EVENTS] // MIB} MiB; waitress: "
            + ", ".join(f"{k}={v}" for k, v in limits.waitress_options().items()),
            "answers: the HTTP status each request got; 'reset' = the connection was closed "
            "on the client while it was still sending (after the 413), 'closed' = dropped "
            "idle by the server. 'client MB sent' counts what the kernel took from the "
            "clients, most of it into socket buffers the bot never read.",
            "healthz: GET /healthz every 20 ms from another process, a new connection each; "
            f"'failed' = no 200 within {PROBE_TIMEOUT:g} s.",
            *common.log_problems(sandbox),
        ]
    return [table]


# ----- clients -----------------------------------------------------------------------------


def _clients(
    port: int,
    seen: Outcomes,
    client: Callable[[int, Outcomes, bool], None],
    *,
    chunked: bool,
) -> None:
    threads = [
        threading.Thread(target=client, args=(port, seen, chunked), name=f"flood-{i}")
        for i in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _upload(port: int, seen: Outcomes, chunked: bool) -> None:
    """Stream 100 MB of unsigned body; stop when the bot answers or hangs up."""
    length = b"Transfer-Encoding: chunked" if chunked else b"Content-Length: %d" % UPLOAD_BYTES
    piece = b"%x\r\n%s\r\n" % (len(PIECE), PIECE) if chunked else PIECE
    until = time.monotonic() + UPLOAD_SECONDS
    while time.monotonic() < until:
        sent = 0
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            try:
                sock.sendall(_head(length))
                while sent < UPLOAD_BYTES:
                    sock.sendall(piece)
                    sent += len(piece)
                if chunked:
                    sock.sendall(b"0\r\n\r\n")
            except OSError:
                pass  # the bot answered and closed; its answer may still be readable
            seen.add(_answer(sock), sent)


def _full_bodies(port: int, seen: Outcomes, _chunked: bool) -> None:
    body = b"command=%2Fshowtime&text=start+36121&pad=" + b"x" * BODY_LIMITS[SLACK_EVENTS]
    body = body[: BODY_LIMITS[SLACK_EVENTS]]
    for _ in range(FULL_BODIES_PER_CLIENT):
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sent = 0
            with contextlib.suppress(OSError):
                sock.sendall(_head(b"Content-Length: %d" % len(body)) + body)
                sent = len(body)
            seen.add(_answer(sock), sent)


def _half_sent(port: int, seen: Outcomes, connections: int, hold: float) -> None:
    """Open ``connections`` requests that announce a body and send a third of it."""
    held: list[socket.socket] = []
    try:
        for _ in range(connections):
            sock = socket.create_connection(("127.0.0.1", port), timeout=hold + 10)
            sock.sendall(_head(b"Content-Length: 30") + b"command=%2Fshowtime")
            held.append(sock)
        time.sleep(hold)
        for sock in held:
            sock.setblocking(False)
            try:
                closed = sock.recv(1) == b""
            except BlockingIOError:
                closed = False
            except OSError:
                closed = True
            seen.add("closed" if closed else "still open", 0)
    finally:
        for sock in held:
            sock.close()


def _head(length: bytes) -> bytes:
    return (
        b"POST " + SLACK_EVENTS.encode() + b" HTTP/1.1\r\nHost: bot\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n" + length + b"\r\n\r\n"
    )


def _answer(sock: socket.socket) -> str:
    """The status code the bot answered on ``sock``, or what happened instead."""
    received = b""
    try:
        while b"\r\n" not in received:
            chunk = sock.recv(4096)
            if not chunk:
                return "closed"
            received += chunk
    except OSError:
        return "reset"
    return received.split(b" ", 2)[1].decode()


# ----- /healthz, from another process -------------------------------------------------------


def _probing(
    port: int, flood: Callable[[Outcomes], None], seen: Outcomes
) -> tuple[list[float], int, float]:
    """Run ``flood`` while another process times ``GET /healthz``.

    Returns the probes' latencies, their failures, and how long the flood took.
    """
    context = multiprocessing.get_context("spawn")
    ready, stop = context.Event(), context.Event()
    results: Queue[tuple[list[float], int]] = context.Queue()
    prober = context.Process(target=_probe, args=(port, ready, stop, results), name="healthz-probe")
    prober.start()
    try:
        if not ready.wait(30):
            raise RuntimeError("the /healthz prober did not start")
        began = time.monotonic()
        flood(seen)
        elapsed = time.monotonic() - began
    finally:
        stop.set()
        latencies, failures = results.get(timeout=PROBE_TIMEOUT + 30)
        prober.join(10)
    return latencies, failures, elapsed


def _probe(port: int, ready: Event, stop: Event, results: Queue[tuple[list[float], int]]) -> None:
    import http.client

    latencies: list[float] = []
    failures = 0
    ready.set()
    while not stop.is_set():
        began = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=PROBE_TIMEOUT)
        try:
            connection.request("GET", "/healthz")
            answer = connection.getresponse()
            answer.read()
            if answer.status == 200:
                latencies.append(time.perf_counter() - began)
            else:
                failures += 1
        except OSError:
            failures += 1
        finally:
            connection.close()
        time.sleep(PROBE_EVERY)
    results.put((latencies, failures))
