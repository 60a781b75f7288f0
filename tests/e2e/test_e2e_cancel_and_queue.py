"""Control while it waits, end to end (SPEC §16): the bot as its own process, Slack's requests
signed over HTTP, ECS holding a name DRAINING as long as the test says."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

from bot.orchestrator.jobs import JobKind, JobState
from bot.sandbox.harness import Sandbox
from bot.slack import views


def drain_for(sandbox: Sandbox, seconds: float) -> None:
    """Deleted services stay DRAINING this long (the ones already draining too)."""
    sandbox.ecs.drain_seconds = seconds


def wait_for_step(sandbox: Sandbox, pr: int, text: str) -> None:
    def seen() -> bool:
        message = sandbox.status_message(pr)
        if message is None:
            return False
        thread = sandbox.slack.thread(message["channel"], message["ts"])
        return any(text in str(m.get("text", "")) for m in thread)

    sandbox.wait_for(seen, timeout=60)


@contextmanager
def waiting_on_draining(sandbox: Sandbox, pr: int) -> Iterator[None]:
    """Inside the block, a start of the PR waits for its name, which ECS holds DRAINING (its
    environment was started and stopped); after it, ECS lets the name go."""
    sandbox.command(f"start {pr}")
    sandbox.command(f"stop {pr}")
    drain_for(sandbox, 3600)  # ECS will not release the name: the next start waits
    try:
        sandbox.command(f"start {pr}", wait=False)
        wait_for_step(sandbox, pr, "DRAINING")
        yield
    finally:
        drain_for(sandbox, 0.5)


def settled(sandbox: Sandbox, pr: int) -> None:
    """Until the PR has no job running and none queued."""
    sandbox.wait_for(
        lambda: (
            pr not in sandbox.store.queued_prs()
            and not [j for j in sandbox.store.recent(pr=pr) if j.live]
        ),
        timeout=90,
        what=f"#{pr}'s jobs, queued ones too, to end",
    )


def test_cancel_inside_a_draining_wait(sandbox: Sandbox, new_pr: int) -> None:
    with waiting_on_draining(sandbox, new_pr):
        message = sandbox.status_message(new_pr)
        assert message is not None and views.ACTION_CANCEL in json.dumps(message["blocks"])
        sandbox.click(message, views.ACTION_CANCEL, wait=False)
        # The name stays DRAINING for an hour: a job that ends now was woken inside the wait
        # (how soon is measured by `python -m benchmarks cancel`, not asserted here).
        sandbox.wait_for(
            lambda: not [j for j in sandbox.store.recent(pr=new_pr) if j.live], timeout=60
        )
    job = sandbox.store.recent(pr=new_pr)[0]
    assert job.kind is JobKind.START and job.state is JobState.CANCELLED
    message = sandbox.status_message(new_pr)
    assert message is not None
    fresh = sandbox.slack.message(message["channel"], message["ts"]) or message
    assert "Cancelled" in json.dumps(fresh["blocks"]) and "Start again" in json.dumps(
        fresh["blocks"]
    )
    thread = [str(m["text"]) for m in sandbox.slack.thread(message["channel"], message["ts"])]
    assert any(t.startswith("⏹") and "cancelled by <@" in t for t in thread), thread
    # This PR's services only: the sandbox is shared, and other tests leave theirs running.
    ours = [s for s in sandbox.services() if s["serviceName"].startswith(f"pr-{new_pr}-")]
    jobs = [(j.kind, j.state, j.step, j.outcome) for j in sandbox.store.recent(pr=new_pr)]
    assert not [s for s in ours if s["status"] == "ACTIVE"], jobs


def test_the_queue_survives_a_kill_9(sandbox: Sandbox, new_pr: int) -> None:
    """A start waits behind a deploy that waits on DRAINING; the bot is killed with -9 and
    started again: the deploy resumes, and the queued start runs once it ends."""
    with waiting_on_draining(sandbox, new_pr):
        newer = sandbox.github.push_commit(new_pr)
        queued = sandbox.command(f"start {new_pr}", wait=False)
        sandbox.wait_for(lambda: new_pr in sandbox.store.queued_prs(), timeout=30)
        assert queued.response.ok
        sandbox.kill_bot()
        sandbox.start_bot()
    settled(sandbox, new_pr)
    starts = [j for j in sandbox.store.recent(pr=new_pr) if j.kind is JobKind.START]
    assert starts[0].record.sha == newer  # type: ignore[union-attr]
    assert starts[0].state is JobState.SUCCEEDED
    active = [s["serviceName"] for s in sandbox.services() if s["status"] == "ACTIVE"]
    assert active == [f"pr-{new_pr}-{newer[:7]}-service"]


def test_nobody_is_told_busy_for_start_redeploy_or_stop(sandbox: Sandbox, new_pr: int) -> None:
    with waiting_on_draining(sandbox, new_pr):
        answers: list[str] = []
        again = sandbox.command(f"start {new_pr}")  # the very commit being deployed
        sandbox.github.push_commit(new_pr)
        queued = sandbox.command(f"start {new_pr}")  # a newer one: it waits
        stop = sandbox.command(f"stop {new_pr}")
        for outcome in (again, queued, stop):
            answers.extend([outcome.response.text, *outcome.replies])
    settled(sandbox, new_pr)
    assert not [a for a in answers if "busy" in a], answers
    assert any("queued behind the running deploy" in a for a in answers), answers
    assert any("cancelling the running deploy" in a for a in answers), answers
    # This PR's services only: the sandbox is shared, and other tests leave theirs running.
    ours = [s for s in sandbox.services() if s["serviceName"].startswith(f"pr-{new_pr}-")]
    jobs = [(j.kind, j.state, j.step, j.outcome) for j in sandbox.store.recent(pr=new_pr)]
    assert not [s for s in ours if s["status"] == "ACTIVE"], jobs
