"""Slack text builders and the thread reporter, without HTTP: what outsiders wrote stays text.

Cards and views escape what came from GitHub (titles, label values, error texts) and
keep only the markup the bot made itself: PR links built from GITHUB_REPOSITORY,
``<@U…>`` mentions of Slack user ids, links to addresses that are addresses.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, cast

from support import a_job

from bot.clock import FakeClock
from bot.config import Settings
from bot.domain import events as ev
from bot.domain.requester import Requester
from bot.orchestrator.inventory import EnvView
from bot.orchestrator.jobs import Job, JobState, StartRecord
from bot.slack import views
from bot.slack.progress import ThreadReporter
from bot.slack.views import Card

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MENTION = "<!channel>"
LINK = "<https://evil.example/login|Open the environment>"


def shown(blocks: object) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def test_a_card_escapes_every_field_from_outside() -> None:
    card = Card(
        pr=36121,
        state="failed",
        repository="apache/superset",
        title=f"Fix typo {MENTION} {LINK}",
        sha="abc1234",
        headline=f"{MENTION} abc1234",  # a 🚦 label value
        reason=f"AWS said: {LINK} & {MENTION}",
        next_action="press <Retry>",
        details=(f"🤡 {MENTION}",),
    )

    text = shown(views.card_blocks(card)) + views.card_text(card)

    assert MENTION not in text and "<https://evil" not in text
    assert (
        "Fix typo &lt;!channel&gt; &lt;https://evil.example/login|Open the environment&gt;" in text
    )
    assert (
        "AWS said: &lt;https://evil.example/login|Open the environment&gt; &amp; &lt;!channel&gt;"
        in text
    )
    assert "press &lt;Retry&gt;" in text
    # The bot's own link to the PR stays a link.
    assert "<https://github.com/apache/superset/pull/36121|#36121>" in text


def test_a_card_mentions_only_slack_user_ids() -> None:
    base = Card(pr=1, state="deploying", repository="apache/superset", headline="Deploying")
    good = Card(**{**base.__dict__, "requester": "U0MAINTAINER"})
    bad = Card(**{**base.__dict__, "requester": "U>|<!channel"})

    assert "requested by <@U0MAINTAINER>" in shown(views.card_blocks(good))
    bad_text = shown(views.card_blocks(bad))
    assert "<@" not in bad_text and MENTION not in bad_text


def test_a_card_links_only_real_addresses() -> None:
    card = Card(
        pr=1,
        state="running",
        repository="apache/superset",
        headline="Running abc1234",
        url="http://e.example|<!channel>:80",
    )

    blocks = views.card_blocks(card)

    assert MENTION not in shown(blocks)
    buttons = [e for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert all("url" not in button for button in buttons)


def env(**fields: Any) -> EnvView:
    values: dict[str, Any] = {
        "pr": 36121,
        "sha": "abc1234",
        "status": "running",
        "active": True,
        "url": "http://203.0.113.10:8080",
        "requester": "maxime",
        "created": NOW,
        "ttl": "48h",
        "expires": NOW,
        "service": "pr-36121-abc1234-service",
        "ecs_status": "ACTIVE",
        "mismatch": None,
        "pr_url": "https://github.com/apache/superset/pull/36121",
    }
    values.update(fields)
    return EnvView(**values)


def test_list_escapes_label_values() -> None:
    hostile = env(requester=MENTION, status=f"{LINK}", mismatch=f"labels say {MENTION}")

    text = shown(views.list_blocks([hostile, env(pr=2)], NOW))

    assert MENTION not in text and "<https://evil" not in text
    assert "by &lt;!channel&gt;" in text
    assert "<http://203.0.113.10:8080|open>" in text


def test_a_long_title_is_bounded() -> None:
    card = Card(pr=1, state="deploying", repository="apache/superset", title="x" * 5000)

    section = views.card_blocks(card)[0]["text"]["text"]

    assert len(section) < 400


# ----- the thread reporter -------------------------------------------------------------


class FakeSlack:
    def __init__(self) -> None:
        self.posted: list[dict[str, Any]] = []
        self.updated: list[dict[str, Any]] = []

    def chat_postMessage(self, **kwargs: Any) -> dict[str, Any]:
        self.posted.append(kwargs)
        return {"ts": f"1.{len(self.posted)}"}

    def chat_update(self, **kwargs: Any) -> dict[str, Any]:
        self.updated.append(kwargs)
        return {"ok": True}


MAINTAINER = Requester.slack("U0MAINTAINER", "maintainer")


def job(requester: Requester = MAINTAINER) -> Job:
    return a_job(
        requester=requester,
        record=StartRecord(sha7="abc1234", title=f"Fix {MENTION}"),
        step="claim",
        state=JobState.RUNNING,
        created_at=NOW,
        updated_at=NOW,
    )


def reporter(current: Job) -> tuple[ThreadReporter, FakeSlack]:
    slack = FakeSlack()
    settings = Settings(_env_file=None, github_repository="apache/superset")  # type: ignore[call-arg]
    return ThreadReporter(cast(Any, slack), settings, FakeClock(NOW)), slack


def test_every_event_text_is_escaped_in_the_thread() -> None:
    report, slack = reporter(job())

    report.job_event(job(), ev.Warning(f"ECS says {LINK} & {MENTION}"))
    report.job_event(
        job(), ev.StepStarted("health", f"Checking health at http://1.2.3.4:8080/{MENTION}")
    )

    texts = [p["text"] for p in slack.posted]
    assert texts[0] == (
        "⚠️ ECS says &lt;https://evil.example/login|Open the environment&gt; &amp; &lt;!channel&gt;"
    )
    assert MENTION not in texts[1]


def test_the_final_reply_mentions_the_requester_after_escaping_the_reason() -> None:
    report, slack = reporter(job())

    failed = ev.Failed(reason=f"a task stopped: {MENTION}", correlation_id="ref12345")
    report.job_event(job(), failed)
    report.job_event(job(), ev.Ended(failed))

    text = slack.posted[-1]["text"]
    assert text.startswith("❌ <@U0MAINTAINER> failed: a task stopped: &lt;!channel&gt;")
    update = shown(slack.updated[-1]["blocks"]) + slack.updated[-1]["text"]
    assert MENTION not in update


def test_a_requester_that_is_no_slack_id_is_not_mentioned() -> None:
    hostile = job(requester=Requester.slack("U<!channel>"))
    report, slack = reporter(hostile)

    report.job_event(hostile, ev.Succeeded(text="#36121 runs abc1234 at http://1.2.3.4:8080"))

    assert slack.posted[-1]["text"] == "🎉 #36121 runs abc1234 at http://1.2.3.4:8080"


def test_a_huge_event_text_is_bounded() -> None:
    report, slack = reporter(job())

    report.job_event(job(), ev.Warning("x" * 100_000))

    assert len(slack.posted[-1]["text"]) <= 4000
