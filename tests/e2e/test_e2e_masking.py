"""Secrets an environment prints never reach the channel (SPEC §12, §14): the failure tail
in the thread and the `logs` answer show them as ``[masked]``, next to the rest of the log.

The values are obvious fakes; what matters is that the bot cannot tell them from real ones.
"""

from __future__ import annotations

from typing import Any

from bot.sandbox.aws import inspection_client
from bot.sandbox.harness import Sandbox

AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
GITHUB_TOKEN = "ghp_FAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKE0000"
REDIS_PASSWORD = "hunter2cache"
KEY_BODY = "MIIEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKE"
SECRETS = (AWS_SECRET, GITHUB_TOKEN, REDIS_PASSWORD, KEY_BODY)

# What the PR's code prints: one log event per line, the key over three of them.
LEAKY_LOG = (
    "Loading configuration from /app/pythonpath/superset_config.py",
    f"env: AWS_SECRET_ACCESS_KEY={AWS_SECRET} GITHUB_TOKEN={GITHUB_TOKEN}",
    f"cloning https://github.com/apache/superset with {GITHUB_TOKEN}",
    f"Celery broker: redis://:{REDIS_PASSWORD}@cache:6379/0",
    "-----BEGIN RSA PRIVATE KEY-----",
    KEY_BODY,
    "-----END RSA PRIVATE KEY-----",
    "ModuleNotFoundError: No module named 'superset.utils.feature_flag_manager'",
)


def image_of(sandbox: Sandbox, pr: int) -> str:
    return f"apache/superset:pr-{pr}-{sandbox.github.head_sha(pr)[:7]}-ci"


def assert_masked(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, text
    assert "AWS_SECRET_ACCESS_KEY=[masked]" in text
    assert "redis://[masked]@cache:6379/0" in text
    assert "with [masked]" in text
    assert "ModuleNotFoundError: No module named" in text  # the rest of the log stays


def test_a_crashing_environments_secrets_are_masked_in_its_failure_tail(
    sandbox: Sandbox, new_pr: int
) -> None:
    sandbox.ecs.crash_on_boot(image_of(sandbox, new_pr), LEAKY_LOG)

    outcome = sandbox.command(f"start {new_pr}")

    assert outcome.failed
    message = sandbox.status_message(new_pr)
    assert message is not None
    thread = [m["text"] for m in sandbox.slack.thread(message["channel"], message["ts"])]
    tail = next(t for t in thread if "The task's last" in t)
    assert_masked(tail)
    # The key over three lines went whole: one line where it was.
    lines = tail.split("```")[1].strip("\n").split("\n")
    assert lines[lines.index("[masked]") + 1].startswith("ModuleNotFoundError")
    assert "PRIVATE KEY" not in tail


def test_a_running_environments_secrets_are_masked_in_the_logs_answer(
    sandbox: Sandbox, new_pr: int
) -> None:
    # The environment boots and serves, and keeps printing what it should not.
    sandbox.ecs.chatter(image_of(sandbox, new_pr), LEAKY_LOG)
    started = sandbox.command(f"start {new_pr}")
    assert not started.failed, started
    wait_until_logged(sandbox, new_pr, KEY_BODY)

    asked = len(sandbox.slack.responses())
    answer = sandbox.command(f"logs {new_pr} 50")

    assert not answer.failed, answer
    text = "\n".join(texts_of(r) for r in sandbox.slack.responses()[asked:])
    assert "the last" in text, text
    assert_masked(text)


def texts_of(message: dict[str, Any]) -> str:
    """Every text a person sees in ``message``: its blocks' sections and context lines."""
    parts = [
        str(block.get("text", {}).get("text", ""))
        for block in message.get("blocks") or []
        if block.get("type") == "section"
    ]
    parts += [
        str(element.get("text", ""))
        for block in message.get("blocks") or []
        if block.get("type") == "context"
        for element in block.get("elements", [])
    ]
    return "\n".join(parts) or str(message.get("text", ""))


def wait_until_logged(sandbox: Sandbox, pr: int, line: str) -> None:
    """Until the PR's task has written ``line`` to its log (a loop writes it a second after
    boot), so the answer is judged on a log that holds it."""
    assert sandbox.network is not None
    ecs = inspection_client("ecs", sandbox.network.region, sandbox.aws_url)
    service = f"pr-{pr}-{sandbox.github.head_sha(pr)[:7]}-service"

    def logged() -> bool:
        arns: list[Any] = ecs.list_tasks(cluster=sandbox.network.cluster, serviceName=service)[
            "taskArns"
        ]
        return any(line in sandbox.ecs.log_lines(arn) for arn in arns)

    sandbox.wait_for(logged, timeout=30)
