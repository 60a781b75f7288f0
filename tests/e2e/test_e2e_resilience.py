"""The bot killed mid-deploy, and AWS throttling: each with a sandbox of its own."""

from __future__ import annotations

import time
from collections.abc import Callable

from bot.sandbox.harness import Sandbox


def start_into_the_drain(sandbox: Sandbox, pr: int, draining: Callable[[], bool]) -> None:
    """Start ``pr`` again right after stopping it: the deploy waits out DRAINING; return
    once ``draining`` says it does."""
    assert not sandbox.command(f"start {pr}").failed
    sandbox.command(f"stop {pr}")
    sandbox.command(f"start {pr}", wait=False)
    sandbox.wait_for(draining, 30, "the deploy to wait out DRAINING")


def assert_resumed_to_one_service(sandbox: Sandbox, pr: int, job_id: str, timeout: float) -> None:
    """The bot, started again, resumed the job and finished it: one service, it says so."""
    sandbox.start_bot()
    sandbox.wait_idle(timeout=timeout)
    job = sandbox.store.get(job_id)
    assert job is not None and job.state.value == "succeeded", job
    message = sandbox.status_message(pr)
    assert message is not None
    replies = [m["text"] for m in sandbox.slack.thread(message["channel"], message["ts"])]
    assert any("resumed after restart" in r for r in replies)
    assert len([s for s in sandbox.services() if s["status"] == "ACTIVE"]) == 1


def test_kill_9_mid_deploy_resumes_with_one_service() -> None:
    with Sandbox(drain_seconds=6.0, stable_seconds=0.5, poll_seconds=0.1) as sandbox:

        def said_draining() -> bool:
            message = sandbox.status_message(36121) or {"channel": "C0SHOWTIME", "ts": "0"}
            thread = sandbox.slack.thread(message["channel"], message["ts"])
            return any("DRAINING" in m["text"] for m in thread)

        start_into_the_drain(sandbox, 36121, said_draining)
        sandbox.kill_bot()  # outright, inside the DRAINING wait
        live = [j for j in sandbox.store.recent(limit=10) if j.live]
        assert len(live) == 1
        assert_resumed_to_one_service(sandbox, 36121, live[0].id, timeout=60)
        sha = sandbox.github.head_sha(36121)[:7]
        assert f"🎪 {sha} 🚦 running" in sandbox.github.labels(36121)


def test_sigterm_exits_quickly_and_jobs_resume() -> None:
    with Sandbox(drain_seconds=8.0, stable_seconds=0.5, poll_seconds=0.1) as sandbox:

        def past_the_task_definition() -> bool:
            jobs = sandbox.store.recent(limit=5)
            return any(j.live and j.step == "task_definition" for j in jobs)

        start_into_the_drain(sandbox, 36122, past_the_task_definition)
        began = time.monotonic()
        status = sandbox.stop_bot()
        assert status == 0 and time.monotonic() - began < 25
        paused = [j for j in sandbox.store.recent(limit=5) if j.live]
        assert len(paused) == 1 and paused[0].step == "task_definition"
        # The next start resumes it from its last finished step and finishes it.
        assert_resumed_to_one_service(sandbox, 36122, paused[0].id, timeout=90)


def test_thirty_percent_aws_throttling_still_deploys() -> None:
    with Sandbox(drain_seconds=2.0, stable_seconds=0.5, poll_seconds=0.1) as sandbox:
        for operation in (
            "DescribeServices",
            "CreateService",
            "ListServices",
            "ListTasks",
            "DescribeTasks",
            "RegisterTaskDefinition",
            "DeleteService",
        ):
            sandbox.ecs.throttle(operation, 0.3)
        # Chance alone may spare the rarely made calls: each is refused once for certain.
        for operation in ("RegisterTaskDefinition", "CreateService", "DeleteService"):
            sandbox.ecs.fail_next(operation, "ThrottlingException", "Rate exceeded")
        outcome = sandbox.command("start 36123", timeout=180)
        assert not outcome.failed, (outcome, sandbox.bot_log()[-2000:])
        stop = sandbox.command("stop 36123", timeout=180)
        assert not stop.failed
        again = sandbox.command("start 36123", timeout=180)
        assert not again.failed
        # Throttling really happened, and was survived: several operations were refused.
        throttled = {op: n for op, n in sandbox.ecs.injected.items() if n}
        assert sum(throttled.values()) >= 5, throttled
        assert {"RegisterTaskDefinition", "CreateService", "DeleteService"} <= set(throttled)
        assert len([s for s in sandbox.services() if s["status"] == "ACTIVE"]) == 1
