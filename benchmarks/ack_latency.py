"""(a) Slash-command ack latency with 0, 20 and 50 deploys in flight (SPEC §10: p99 < 100 ms).

One sandbox. Its ECS stand-in never lets a task start (``stable_seconds`` of an hour),
so every ``start`` sits in its stability wait, polling ``DescribeServices``; the
in-flight count only grows (0 → 20 → 50). For a last, harsher level the bot is
restarted with a 1 s poll instead of the production 5 s: the 50 jobs resume (SPEC
§9) and poll five times as often.

Per level: ``status <pr>`` of the in-flight PRs (acked at once, answered later
through ``response_url`` after a GitHub read and ECS reads) and ``help`` (answered
in the ack itself), sent at a fixed rate from a few threads of a separate client
process (see ``load_client``). The latency is the HTTP round trip of the signed POST
to ``/slack/events``: what Slack holds to its 3 s limit. The deploys are counted in
the job store before and after each row, and the ECS calls the stand-in answered
during the row show that they really poll.

Reads are limited to 10 a minute per person (SPEC §12), so the requests come from
``READERS`` people in turn (each sends one request of a row): every status is really
answered rather than refused with "slow down".
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from urllib.parse import parse_qs

from benchmarks import common
from benchmarks.load_client import send_all
from benchmarks.table import Table
from bot.sandbox.github import SEEDED_OPEN_PRS
from bot.sandbox.harness import Sandbox
from bot.sandbox.slack_client import SignedRequest

log = logging.getLogger(__name__)

PRODUCTION_POLL_SECONDS = 5.0  # SHOWTIME_POLL_SECONDS' default
STRESS_POLL_SECONDS = 1.0
STATUS_REQUESTS = 200
HELP_REQUESTS = 100
WEBHOOK_REQUESTS = 100
CLIENT_THREADS = 4
REQUESTS_PER_SECOND = 20.0
FIRST_PR = 41001
ANSWER_TIMEOUT = 60.0
READERS = STATUS_REQUESTS  # people sending the reads, one request each per row


@dataclass(frozen=True)
class Level:
    in_flight: int
    poll_seconds: float


LEVELS = (
    Level(0, PRODUCTION_POLL_SECONDS),
    Level(20, PRODUCTION_POLL_SECONDS),
    Level(50, PRODUCTION_POLL_SECONDS),
    Level(50, STRESS_POLL_SECONDS),
)


def run() -> list[Table]:
    table = Table(
        "Ack latency: signed POSTs to /slack/events and /github/webhook (HTTP round trip)",
        [
            "in flight",
            "poll s",
            "command",
            "sent",
            "2xx",
            "p50 ms",
            "p99 ms",
            "max ms",
            "mean ms",
            "answered",
            "waiting before/after",
            "ECS calls/s",
        ],
    )
    sandbox = common.new_sandbox(
        drain_seconds=1.0,
        stable_seconds=3600.0,
        poll_seconds=LEVELS[0].poll_seconds,
        env={},
    )
    with sandbox:
        for i in range(READERS):
            sandbox.slack.add_user(_reader(i), f"reader-{i}")
        in_flight: list[int] = []
        owners: frozenset[str] = frozenset()  # job owners before the last restart
        for level in LEVELS:
            if level.poll_seconds != sandbox.poll_seconds:
                owners = _restart_with_poll(sandbox, level.poll_seconds)
            new = list(range(FIRST_PR + len(in_flight), FIRST_PR + level.in_flight))
            if new:
                log.info("ack: starting %d more deploys", len(new))
                common.add_prs(sandbox, new)
                common.send_starts(sandbox, new)
                in_flight += new
            common.wait_for_waiting(sandbox, level.in_flight, exclude_owners=owners)
            targets = in_flight or list(SEEDED_OPEN_PRS)
            texts = [f"status {targets[i % len(targets)]}" for i in range(STATUS_REQUESTS)]
            _measure(sandbox, table, level, owners, "status <pr>", texts, answers="Status of")
            _measure(sandbox, table, level, owners, "help", ["help"] * HELP_REQUESTS, answers=None)
            _measure_webhook(sandbox, table, level, owners, targets)
        table.notes += [
            f"{CLIENT_THREADS} client threads in a process of their own, "
            f"{REQUESTS_PER_SECOND:g} requests/s open loop; 200 requests give p99 = the "
            "2nd slowest.",
            "in flight: start jobs polling ECS for stability (every 'poll s'; production "
            "default 5 s); the 1 s row is the same 50 jobs after a bot restart.",
            "answered: status answers posted to response_url (the work after the ack); "
            "help is answered in the ack itself.",
            "waiting before/after: in-flight start jobs counted in the job store around "
            "the row; ECS calls/s: requests the ECS stand-in answered during the row "
            "(polls, plus 1-2 per status).",
            *common.log_problems(sandbox),
        ]
    return [table]


def _waiting(sandbox: Sandbox, old_owners: frozenset[str]) -> int:
    """In-flight deploys, not counting those a stopped bot process left behind."""
    return common.waiting_deploys(sandbox, exclude_owners=old_owners)


def _restart_with_poll(sandbox: Sandbox, poll_seconds: float) -> frozenset[str]:
    """Restart the bot with another poll interval; returns the owners of the old jobs."""
    owners = frozenset(
        job.owner for job in sandbox.store.recent(limit=common.STORE_SCAN) if job.owner
    )
    log.info("ack: restarting the bot with SHOWTIME_POLL_SECONDS=%g", poll_seconds)
    sandbox.stop_bot()
    sandbox.poll_seconds = poll_seconds
    sandbox.start_bot()
    return owners


def _measure(
    sandbox: Sandbox,
    table: Table,
    level: Level,
    old_owners: frozenset[str],
    label: str,
    texts: list[str],
    *,
    answers: str | None,
) -> None:
    assert sandbox.requester is not None
    before = _waiting(sandbox, old_owners)
    signed = [
        sandbox.requester.build_slash_command(
            text, user_id=_reader(i % READERS), user_name=f"reader-{i % READERS}"
        )
        for i, text in enumerate(texts)
    ]
    log.info("ack: %d x %s with %d deploys in flight", len(texts), label, before)
    ecs_calls = sum(sandbox.ecs.calls.values())
    began = time.monotonic()
    results = send_all(signed, threads=CLIENT_THREADS, interval=1 / REQUESTS_PER_SECOND)
    ecs_rate = (sum(sandbox.ecs.calls.values()) - ecs_calls) / (time.monotonic() - began)
    after = _waiting(sandbox, old_owners)
    answered: int | str = "in ack"
    if answers is not None:
        answered = _wait_for_answers(sandbox, signed, answers)
    times = sorted(seconds * 1000 for _, seconds in results)
    table.add(
        level.in_flight,
        level.poll_seconds,
        label,
        len(results),
        sum(1 for status, _ in results if 200 <= status < 300),
        common.percentile(times, 50),
        common.percentile(times, 99),
        times[-1],
        sum(times) / len(times),
        answered,
        f"{before}/{after}",
        ecs_rate,
    )


def _measure_webhook(
    sandbox: Sandbox, table: Table, level: Level, old_owners: frozenset[str], prs: list[int]
) -> None:
    """GitHub deliveries (SPEC §10: answered p99 < 100 ms): ``labeled`` events with a label
    showtime does not act on, each queued (202) and acted on after the answer."""
    assert sandbox.hooks is not None
    before = _waiting(sandbox, old_owners)
    signed = [
        sandbox.hooks.build(
            "pull_request",
            sandbox.github.pull_request_payload(
                prs[i % len(prs)], "labeled", "maintainer", label="size/M"
            ),
        )
        for i in range(WEBHOOK_REQUESTS)
    ]
    log.info("ack: %d webhook deliveries with %d deploys in flight", len(signed), before)
    ecs_calls = sum(sandbox.ecs.calls.values())
    began = time.monotonic()
    results = send_all(signed, threads=CLIENT_THREADS, interval=1 / REQUESTS_PER_SECOND)
    ecs_rate = (sum(sandbox.ecs.calls.values()) - ecs_calls) / (time.monotonic() - began)
    times = sorted(seconds * 1000 for _, seconds in results)
    table.add(
        level.in_flight,
        level.poll_seconds,
        "GitHub delivery",
        len(results),
        sum(1 for status, _ in results if 200 <= status < 300),
        common.percentile(times, 50),
        common.percentile(times, 99),
        times[-1],
        sum(times) / len(times),
        "queued",
        f"{before}/{_waiting(sandbox, old_owners)}",
        ecs_rate,
    )


def _reader(i: int) -> str:
    return f"UREADER{i:04d}"


def _wait_for_answers(sandbox: Sandbox, signed: list[SignedRequest], prefix: str) -> int:
    """How many requests got their answer through response_url (waits up to a minute)."""
    urls = {parse_qs(request.body)["response_url"][0] for request in signed}

    def answered() -> int:
        return sum(
            1
            for reply in sandbox.slack.responses()
            if reply["response_url"] in urls and str(reply.get("text", "")).startswith(prefix)
        )

    deadline = time.monotonic() + ANSWER_TIMEOUT
    while time.monotonic() < deadline and answered() < len(urls):
        time.sleep(0.2)
    return answered()
