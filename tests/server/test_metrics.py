"""``GET /metrics`` of the real bot (SPEC §16, "Operators"): what an operator's Prometheus
scrapes after people used the bot, parsed as Prometheus parses it.

The bot is built as ``showtime-bot serve`` builds it — its own GitHub and ECS adapters,
which tell the metrics of every request — on the stand-ins, which count what they were
really sent: the metrics must say the same.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
import requests
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from slack_support import SlackWorld, bot_on, serving
from support import SLACK_USER, World, wait_until

from bot.orchestrator.github_events import delivery_keys
from bot.sandbox.slack import SlackStandIn
from bot.sandbox.webhooks import WebhookSender
from bot.wiring import Bot

WEBHOOK_SECRET = "test-webhook-secret"
SENDER = "maintainer-login"
GOOD, BROKEN = 36121, 36122

Labels = tuple[tuple[str, str], ...]


def metered_bot(world: World, slack: SlackStandIn, health: Callable[[str, float], int]) -> Bot:
    """The bot as ``serve`` wires it (adapters made by ``build_bot``), on the stand-ins."""
    return bot_on(world, slack, http_get=health, github_webhook_secret=SecretStr(WEBHOOK_SECRET))


@pytest.fixture
def health_gate() -> Iterator[threading.Event]:
    """Environments answer their health check once this is set (at once, unless a test
    clears it)."""
    gate = threading.Event()
    gate.set()
    yield gate
    gate.set()


@pytest.fixture
def metered(world: World, health_gate: threading.Event) -> Iterator[SlackWorld]:
    world.github_standin.set_permission(SENDER, "write")
    world.github_standin.reset_counts()
    world.ecs_standin.reset()
    slack = SlackStandIn().start()

    def health(url: str, timeout: float) -> int:
        health_gate.wait(60)
        return 200

    with serving(world, slack, metered_bot(world, slack, health)) as served:
        yield served


def scrape(sw: SlackWorld) -> dict[str, Metric]:
    answer = requests.get(f"http://127.0.0.1:{sw.server.port}/metrics", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == CONTENT_TYPE_LATEST
    return {family.name: family for family in text_string_to_metric_families(answer.text)}


def samples(families: dict[str, Metric], sample_name: str) -> dict[Labels, float]:
    family = families[sample_name.removesuffix("_total").removesuffix("_count")]
    return {
        tuple(sorted(s.labels.items())): s.value for s in family.samples if s.name == sample_name
    }


def by(found: dict[Labels, float], *names: str) -> dict[tuple[str, ...], float]:
    """Summed over every label but ``names``."""
    summed: dict[tuple[str, ...], float] = {}
    for labels, value in found.items():
        key = tuple(dict(labels)[name] for name in names)
        summed[key] = summed.get(key, 0.0) + value
    return summed


def test_metrics_count_exactly_what_a_good_start_a_failed_start_and_a_delivery_did(
    metered: SlackWorld,
) -> None:
    sw = metered
    github, ecs = sw.world.github_standin, sw.world.ecs_standin
    broken_sha = github.head_sha(BROKEN)
    ecs.mark_image_missing(f"apache/superset:pr-{BROKEN}-{broken_sha[:7]}-ci")

    assert [j.state.value for j in sw.command(f"start {GOOD}").jobs] == ["succeeded"]
    assert [j.state.value for j in sw.command(f"start {BROKEN}").jobs] == ["failed"]
    hooks = WebhookSender(
        f"http://127.0.0.1:{sw.server.port}/github/webhook", WEBHOOK_SECRET, github
    )
    delivery = hooks.send(
        "pull_request", github.pull_request_payload(GOOD, "labeled", SENDER, label="size/M")
    )
    assert delivery.status == 202
    # Its work runs after the answer: done once the bot recorded the delivery as handled.
    handled = delivery_keys(delivery.guid)
    wait_until(lambda: sw.bot.store.remembered(handled), "the delivery to be handled")

    families = scrape(sw)
    github_seen = by(samples(families, "showtime_github_requests_total"), "method", "route")
    aws_seen = by(samples(families, "showtime_aws_calls_total"), "operation")
    github_sent, aws_sent = dict(github.counts()), dict(ecs.calls)

    # Every request GitHub and AWS answered, by route template and by operation.
    assert ("POST", "/repos/{owner}/{repo}/issues/{number}/labels") in github_sent
    assert aws_sent["CreateService"] == 2
    assert github_seen == {key: float(n) for key, n in github_sent.items()}
    assert aws_seen == {(op,): float(n) for op, n in aws_sent.items()}
    assert by(samples(families, "showtime_aws_calls_total"), "service").keys() <= {
        ("ecs",),
        ("ec2",),
        ("logs",),
    }
    assert ("ecs", "CreateService", "ok") in by(
        samples(families, "showtime_aws_calls_total"), "service", "operation", "outcome"
    )

    # The two jobs, by kind and outcome, and how long they took.
    assert samples(families, "showtime_jobs_total") == {
        (("kind", "start"), ("outcome", "succeeded")): 1.0,
        (("kind", "start"), ("outcome", "failed")): 1.0,
    }
    assert samples(families, "showtime_job_duration_seconds_count") == {(("kind", "start"),): 2.0}
    assert samples(families, "showtime_jobs_running") == {(): 0.0}
    assert samples(families, "showtime_jobs_queued") == {(): 0.0}

    # The delivery, and the two slash commands' acks.
    assert samples(families, "showtime_webhook_deliveries_total") == {
        (("event", "pull_request"), ("status", "202")): 1.0
    }
    assert samples(families, "showtime_slack_acks_total") == {(("type", "command"),): 2.0}
    assert samples(families, "showtime_slack_ack_seconds_count") == {(("type", "command"),): 2.0}

    # No label value names a PR, a person, a SHA or a channel.
    values = {
        value for family in families.values() for s in family.samples for value in s.labels.values()
    }
    unbounded = [
        str(GOOD),
        str(BROKEN),
        SLACK_USER,
        "maintainer",
        SENDER,
        github.head_sha(GOOD)[:7],
        broken_sha[:7],
        "C0SHOWTIME",
    ]
    assert [v for v in values for word in unbounded if word in v] == []
    # One series per thing measured: no `*_created` timestamps beside them.
    names = {s.name for family in families.values() for s in family.samples}
    assert [name for name in names if name.endswith("_created")] == []


def test_jobs_running_and_queued_are_read_at_scrape_time(
    metered: SlackWorld, health_gate: threading.Event
) -> None:
    """A deploy held in its health check runs; a push that comes meanwhile waits for it
    (the PR's follow-up) and runs once it ended."""
    sw = metered
    github = sw.world.github_standin
    health_gate.clear()
    assert sw.requester.slash_command(f"start {GOOD}").status_code == 200
    wait_until(lambda: sw.world.ecs_standin.calls["CreateService"] == 1, "the deploy")
    families = scrape(sw)
    assert samples(families, "showtime_jobs_running") == {(): 1.0}
    assert samples(families, "showtime_jobs_queued") == {(): 0.0}

    hooks = WebhookSender(
        f"http://127.0.0.1:{sw.server.port}/github/webhook", WEBHOOK_SECRET, github
    )
    assert hooks.push(GOOD, SENDER).status == 202
    wait_until(lambda: sw.bot.store.queued_prs() == [GOOD], "the push to wait")
    families = scrape(sw)
    assert samples(families, "showtime_jobs_running") == {(): 1.0}
    assert samples(families, "showtime_jobs_queued") == {(): 1.0}

    health_gate.set()

    def ended() -> bool:
        jobs = sw.bot.store.recent(limit=10, pr=GOOD)
        return len(jobs) == 2 and not any(j.live for j in jobs) and not sw.bot.store.queued_prs()

    wait_until(ended, "the start and the rolling update to end")
    families = scrape(sw)
    assert samples(families, "showtime_jobs_running") == {(): 0.0}
    assert samples(families, "showtime_jobs_queued") == {(): 0.0}
    assert samples(families, "showtime_jobs_total") == {
        (("kind", "start"), ("outcome", "succeeded")): 2.0
    }
    assert samples(families, "showtime_webhook_deliveries_total") == {
        (("event", "pull_request"), ("status", "202")): 1.0
    }


def test_webhook_answers_are_counted_whatever_they_are(metered: SlackWorld) -> None:
    sw = metered
    url = f"http://127.0.0.1:{sw.server.port}/github/webhook"
    hooks = WebhookSender(url, WEBHOOK_SECRET, sw.world.github_standin)
    assert hooks.ping().status == 200
    assert hooks.send("ping", {"zen": "x"}, signature="sha256=" + "0" * 64).status == 401
    assert hooks.send("meta", {"hook_id": 1}).status == 200  # an event it ignores
    forged = hooks.send("pull_request_36121_by_someone", {"x": 1})
    assert forged.status == 200
    assert requests.get(url, timeout=10).status_code == 405
    assert requests.get(f"http://127.0.0.1:{sw.server.port}/metrics", timeout=10).ok
    assert (
        requests.post(f"http://127.0.0.1:{sw.server.port}/metrics", timeout=10).status_code == 405
    )

    assert samples(scrape(sw), "showtime_webhook_deliveries_total") == {
        (("event", "ping"), ("status", "200")): 1.0,
        (("event", "ping"), ("status", "401")): 1.0,
        (("event", "other"), ("status", "200")): 2.0,
        (("event", "other"), ("status", "405")): 1.0,
    }
