"""The whole system over HTTP: signed Slack requests in; Slack, GitHub and AWS state out."""

from __future__ import annotations

import time

from bot.sandbox.harness import Sandbox
from bot.slack import views

OUTSIDER = "U0OUTSIDER"


def sha7(sandbox: Sandbox, pr: int) -> str:
    return sandbox.github.head_sha(pr)[:7]


def services_of(sandbox: Sandbox, pr: int, status: str = "ACTIVE") -> list[str]:
    return [
        s["serviceName"]
        for s in sandbox.services()
        if s["serviceName"].startswith(f"pr-{pr}-") and s["status"] == status
    ]


def showtime_labels(sandbox: Sandbox, pr: int) -> list[str]:
    return sorted(n for n in sandbox.github.labels(pr) if n.startswith("🎪 "))


def test_happy_path(sandbox: Sandbox, new_pr: int) -> None:
    outcome = sandbox.command(f"start {new_pr}")
    assert not outcome.failed, outcome
    sha = sha7(sandbox, new_pr)
    message = sandbox.status_message(new_pr)
    assert message is not None and "🟢" in message["text"]
    assert f"🎪 {sha} 🚦 running" in sandbox.github.labels(new_pr)
    assert f"🎪 🎯 {sha}" in sandbox.github.labels(new_pr)
    assert services_of(sandbox, new_pr) == [f"pr-{new_pr}-{sha}-service"]
    replies = [m["text"] for m in sandbox.slack.thread(message["channel"], message["ts"])]
    assert replies[-1].startswith("🎉 <@U0MAINTAINER>")
    status = sandbox.command(f"status {new_pr}")
    assert any("Status of" in r for r in status.replies)


def test_stop_then_immediate_start_waits_out_draining(sandbox: Sandbox, new_pr: int) -> None:
    sandbox.command(f"start {new_pr}")
    stop = sandbox.command(f"stop {new_pr}")
    assert not stop.failed
    assert showtime_labels(sandbox, new_pr) == []
    assert services_of(sandbox, new_pr, "DRAINING") == [
        f"pr-{new_pr}-{sha7(sandbox, new_pr)}-service"
    ]
    again = sandbox.command(f"start {new_pr}")
    assert not again.failed, again
    message = sandbox.status_message(new_pr)
    assert message is not None
    replies = [m["text"] for m in sandbox.slack.thread(message["channel"], message["ts"])]
    assert any("DRAINING" in r for r in replies), replies
    assert len(services_of(sandbox, new_pr)) == 1


def test_rolling_update_to_new_head(sandbox: Sandbox, new_pr: int) -> None:
    sandbox.command(f"start {new_pr}")
    old = sha7(sandbox, new_pr)
    new = sandbox.github.push_commit(new_pr)[:7]
    outcome = sandbox.command(f"start {new_pr}")
    assert not outcome.failed, outcome
    assert services_of(sandbox, new_pr) == [f"pr-{new_pr}-{new}-service"]
    labels = sandbox.github.labels(new_pr)
    assert f"🎪 🎯 {new}" in labels and not [n for n in labels if old in n]


def test_duplicates_start_one_job(sandbox: Sandbox, new_pr: int) -> None:
    assert sandbox.requester is not None
    request = sandbox.requester.build_slash_command(f"start {new_pr}")
    first = sandbox.requester.send(request)
    repeat = sandbox.requester.send(
        type(request)(request.url, request.body, {**request.headers, "X-Slack-Retry-Num": "1"})
    )
    second = sandbox.command(f"start {new_pr}", wait=False)
    assert first.ok and repeat.ok and second.response.ok
    sandbox.wait_idle()
    jobs = [j for j in sandbox.store.recent(limit=50) if j.pr == new_pr and j.kind == "start"]
    ran = [j for j in jobs if not (j.outcome or "").startswith("refused")]
    assert len(ran) == 1, [(j.state, j.outcome, j.idempotency_key) for j in jobs]
    assert len(services_of(sandbox, new_pr)) == 1


def test_unauthorized_user_changes_nothing(sandbox: Sandbox, new_pr: int) -> None:
    sandbox.slack.add_user(OUTSIDER, "outsider")
    outcome = sandbox.command(f"start {new_pr}", user_id=OUTSIDER, user_name="outsider")
    assert any("SHOWTIME_ALLOWED_USERS" in r for r in outcome.replies)
    assert showtime_labels(sandbox, new_pr) == [] and services_of(sandbox, new_pr) == []


def test_blocked_pr_changes_nothing(sandbox: Sandbox, new_pr: int) -> None:
    sandbox.github.add_pr(new_pr, "blocked", "", labels=["🎪 🔒 showtime-blocked"])
    outcome = sandbox.command(f"start {new_pr}")
    assert any("showtime-blocked" in r for r in outcome.replies)
    assert showtime_labels(sandbox, new_pr) == ["🎪 🔒 showtime-blocked"]
    assert services_of(sandbox, new_pr) == []


def test_bad_input_changes_nothing(sandbox: Sandbox, new_pr: int) -> None:
    for text in (
        f"start {new_pr} nothex1",
        "start 1x",
        f"ttl {new_pr} 9d",
        "frobnicate",
        "start 36000",
    ):
        outcome = sandbox.command(text)
        answers = [outcome.response.text, *outcome.replies]
        assert any(a.startswith("🚫") or "Usage" in a for a in answers), (text, answers)
    assert showtime_labels(sandbox, new_pr) == [] and services_of(sandbox, new_pr) == []


def test_missing_image_fails_fast_and_retry_works(sandbox: Sandbox, new_pr: int) -> None:
    image = f"apache/superset:pr-{new_pr}-{sha7(sandbox, new_pr)}-ci"
    sandbox.ecs.mark_image_missing(image)
    began = time.monotonic()
    outcome = sandbox.command(f"start {new_pr}")
    assert outcome.jobs and outcome.jobs[0].state.value == "failed"
    assert time.monotonic() - began < 30  # fails fast, not after the stability timeout
    assert "image not built yet" in (outcome.jobs[0].outcome or "")
    message = sandbox.status_message(new_pr)
    assert message is not None and "🔴" in message["text"]
    assert services_of(sandbox, new_pr) == []
    sandbox.ecs.mark_image_present(image)
    retry = sandbox.click(message, views.ACTION_RETRY)
    assert not retry.failed, retry
    assert len(services_of(sandbox, new_pr)) == 1
