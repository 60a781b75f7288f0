"""The sandbox as a whole: the bot deploys, each environment is its own Superset on its own
loopback address, the smoke check can use it as the environment's admin, and the console
breaks and mends its parts (SPEC §15). The bot runs as its own process (end-to-end).
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest

from bot.adapters.ecs import EcsEngine
from bot.adapters.smoke import HttpSmokeCheck
from bot.clock import FakeClock
from bot.config import Settings
from bot.domain.smoke import Check, SmokeReport
from bot.sandbox.aws import FAKE_KEY
from bot.sandbox.console import Console
from bot.sandbox.harness import Sandbox

pytestmark = pytest.mark.e2e

EVERYTHING = (Check.LOGIN, Check.EXAMPLES, Check.SQLLAB, Check.CHART)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(drain_seconds=2.0, stable_seconds=0.5, poll_seconds=0.1) as running:
        yield running


@pytest.fixture
def engine(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> EcsEngine:
    """An ECS engine of the bot's own kind, pointed at the sandbox's AWS."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", FAKE_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_KEY)
    assert sandbox.network is not None
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        aws_endpoint_url=sandbox.aws_url,
        **{k.lower(): v for k, v in sandbox.network.env().items()},
    )
    return EcsEngine(settings)


def running_environment(sandbox: Sandbox, pr: int) -> tuple[str, str]:
    """(the URL its 🌐 label gives, its task definition ARN) — what the bot knows of it."""
    sha = sandbox.github.head_sha(pr)[:7]
    address = next(
        label.split("🌐 ", 1)[1]
        for label in sandbox.github.labels(pr)
        if label.startswith(f"🎪 {sha} 🌐 ")
    )
    service = next(s for s in sandbox.services() if s["serviceName"] == f"pr-{pr}-{sha}-service")
    return f"http://{address}", str(service["taskDefinition"])


def smoke(engine: EcsEngine, url: str, arn: str) -> SmokeReport:
    login = engine.admin_login(arn)
    settings = Settings(_env_file=None, showtime_smoke_timeout_seconds=0.5)  # type: ignore[call-arg]
    return HttpSmokeCheck(settings, FakeClock()).wait_usable(
        url, login, EVERYTHING, examples=login.examples
    )


def test_a_deployed_environment_is_its_own_superset_usable_as_its_admin(
    sandbox: Sandbox, engine: EcsEngine
) -> None:
    assert not sandbox.command("start 36121").failed
    assert not sandbox.command("start 36122").failed

    url, arn = running_environment(sandbox, 36121)
    other_url, other_arn = running_environment(sandbox, 36122)

    assert url.startswith("http://127.") and not url.startswith("http://127.0.0.1:")
    assert url != other_url
    assert engine.admin_login(arn).password != engine.admin_login(other_arn).password
    report = smoke(engine, url, arn)
    assert report.ready, report.problem()
    assert report.summary() == "✓ login · 5 dashboards · SQL Lab · charts"
    # The password of one environment does not log in to another.
    assert not smoke(engine, other_url, arn).login_ok


def test_the_console_breaks_and_fixes_one_prs_superset(sandbox: Sandbox, engine: EcsEngine) -> None:
    if not sandbox.github.labels(36123):
        assert not sandbox.command("start 36123").failed
    url, arn = running_environment(sandbox, 36123)
    out = io.StringIO()
    console = Console(sandbox, out)
    try:
        console.handle("break sqllab 36123", wait=True)
        broken = smoke(engine, url, arn)
        console.handle("fix 36123", wait=True)
        fixed = smoke(engine, url, arn)
        console.handle("break nothing 36123", wait=True)
    finally:
        console.close()

    assert broken.problem() == "SQL Lab failed: HTTP 500 from /api/v1/sqllab/execute/"
    assert fixed.ready
    shown = out.getvalue()
    assert "#36123's Superset: SQL Lab now fails" in shown
    assert "could not read 'break nothing 36123'" in shown
    assert "break login|examples|sqllab|chart <pr>" in _help(sandbox)


def test_a_stopped_environments_superset_is_gone(sandbox: Sandbox, engine: EcsEngine) -> None:
    if not sandbox.github.labels(36122):
        assert not sandbox.command("start 36122").failed
    url, arn = running_environment(sandbox, 36122)

    assert not sandbox.command("stop 36122").failed

    report = smoke(engine, url, arn)
    assert report.problem().startswith("Login failed: no answer from /api/v1/security/login")


def _help(sandbox: Sandbox) -> str:
    out = io.StringIO()
    console = Console(sandbox, out)
    try:
        console.handle("?", wait=True)
    finally:
        console.close()
    return out.getvalue()
