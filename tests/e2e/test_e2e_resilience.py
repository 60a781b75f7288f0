"""The bot killed mid-deploy, and AWS throttling: each with a sandbox of its own."""

from __future__ import annotations

import time

from bot.sandbox.harness import Sandbox


def test_kill_9_mid_deploy_resumes_with_one_service() -> None:
    with Sandbox(drain_seconds=6.0, stable_seconds=0.5, poll_seconds=0.1) as sandbox:
        assert not sandbox.command("start 36121").failed
        sandbox.command("stop 36121")
        sandbox.command("start 36121", wait=False)
        # Wait until the deploy is inside the DRAINING wait, then kill the bot outright.
        sandbox.wait_for(
            lambda: any(
                "DRAINING" in m["text"]
                for msg in [sandbox.status_message(36121) or {"channel": "C0SHOWTIME", "ts": "0"}]
                for m in sandbox.slack.thread(msg["channel"], msg["ts"])
            ),
            timeout=30,
        )
        sandbox.kill_bot()
        live = [j for j in sandbox.store.recent(limit=10) if j.live]
        assert len(live) == 1
        sandbox.start_bot()
        sandbox.wait_idle(timeout=60)
        job = sandbox.store.get(live[0].id)
        assert job is not None and job.state.value == "succeeded", job
        message = sandbox.status_message(36121)
        assert message is not None
        replies = [m["text"] for m in sandbox.slack.thread(message["channel"], message["ts"])]
        assert any("resumed after restart" in r for r in replies)
        active = [s for s in sandbox.services() if s["status"] == "ACTIVE"]
        assert len(active) == 1
        sha = sandbox.github.head_sha(36121)[:7]
        assert f"🎪 {sha} 🚦 running" in sandbox.github.labels(36121)


def test_sigterm_exits_quickly_and_jobs_resume() -> None:
    with Sandbox(drain_seconds=8.0, stable_seconds=0.5, poll_seconds=0.1) as sandbox:
        sandbox.command("start 36122")
        sandbox.command("stop 36122")
        sandbox.command("start 36122", wait=False)
        sandbox.wait_for(
            lambda: any(
                j.live and j.step == "task_definition" for j in sandbox.store.recent(limit=5)
            ),
            timeout=30,
        )
        began = time.monotonic()
        status = sandbox.stop_bot()
        assert status == 0 and time.monotonic() - began < 25
        paused = [j for j in sandbox.store.recent(limit=5) if j.live]
        assert len(paused) == 1 and paused[0].step == "task_definition"
        # The next start resumes it from its last finished step and finishes it.
        sandbox.start_bot()
        sandbox.wait_idle(timeout=90)
        job = sandbox.store.get(paused[0].id)
        assert job is not None and job.state.value == "succeeded", job
        message = sandbox.status_message(36122)
        assert message is not None
        replies = [m["text"] for m in sandbox.slack.thread(message["channel"], message["ts"])]
        assert any("resumed after restart" in r for r in replies)
        assert len([s for s in sandbox.services() if s["status"] == "ACTIVE"]) == 1


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
