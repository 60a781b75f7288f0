"""Slack acks in the operators' metrics (SPEC §16): each request Bolt acknowledged, by the
type of what Slack sent, with how long the ack took — and nothing for refused requests."""

from __future__ import annotations

import math
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from slack_support import SlackWorld

from bot.domain import events as ev
from bot.metrics import Metrics, outcome_name
from bot.slack.app import payload_type


def acks(sw: SlackWorld) -> dict[str, float]:
    assert sw.bot.metrics is not None
    text = sw.bot.metrics.exposition().decode()
    return {
        s.labels["type"]: s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "showtime_slack_ack_seconds_count"
    }


def test_commands_and_events_are_counted_when_acked(slack_world: SlackWorld) -> None:
    sw = slack_world
    assert sw.command("help").response.status_code == 200
    assert sw.command("status 36121").response.status_code == 200
    sw.open_home()
    unsigned = sw.requester.build_slash_command("help", signing_secret="wrong")
    assert sw.requester.send(unsigned).status_code == 401
    assert acks(sw) == {"command": 2.0, "event": 1.0}


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ({"command": "/showtime", "text": "help", "team_id": "T1"}, "command"),
        ({"type": "block_actions", "actions": [{"action_id": "showtime_stop"}]}, "action"),
        ({"type": "view_submission", "view": {"callback_id": "start"}}, "view_submission"),
        ({"type": "event_callback", "event": {"type": "app_home_opened"}}, "event"),
        ({"type": "block_suggestion", "action_id": "pr"}, "options"),
        ({"type": "shortcut", "callback_id": "x"}, "other"),
    ],
)
def test_payload_types(body: dict[str, Any], kind: str) -> None:
    assert payload_type(body) == kind


def test_label_values_stay_within_known_sets() -> None:
    metrics = Metrics()
    metrics.webhook_delivery("pull_request_36121", 200)
    metrics.slack_ack("U0SOMEONE", 0.01)
    metrics.github_rate_limit("secret-pool-of-36121", 1, 2)
    text = metrics.exposition().decode()
    assert "36121" not in text and "U0SOMEONE" not in text
    assert 'showtime_webhook_deliveries_total{event="other",status="200"} 1.0' in text
    assert 'showtime_slack_acks_total{type="other"} 1.0' in text


def test_a_later_outcome_is_named_by_its_class() -> None:
    class Cancelled:
        pass

    assert outcome_name(ev.Succeeded("done")) == "succeeded"
    assert outcome_name(ev.Failed("no")) == "failed"
    assert outcome_name(Cancelled()) == "cancelled"


def test_a_gauge_that_cannot_be_read_does_not_fail_the_scrape() -> None:
    metrics = Metrics()

    def store_down() -> int:
        raise ConnectionError("the job store is down")

    metrics.watch_jobs(running=lambda: 3, queued=store_down)
    families = {f.name: f for f in text_string_to_metric_families(metrics.exposition().decode())}
    assert families["showtime_jobs_running"].samples[0].value == 3
    assert math.isnan(families["showtime_jobs_queued"].samples[0].value)
