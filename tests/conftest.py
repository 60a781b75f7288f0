"""Fixtures shared by the whole suite (the World itself lives in support.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ecs_support import ecs_on_moto
from support import (
    DRAIN_SECONDS,
    STABLE_SECONDS,
    WORLD_START,
    FakeWorld,
    World,
    fake_world_on,
    world_settings_of,
)

from bot.adapters.store import SqlJobStore
from bot.clock import FakeClock
from bot.sandbox.github import GitHubStandIn, seed_sandbox


@pytest.fixture
def no_configuration(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No setting from the developer's environment, nor a ``.env`` file (the working directory
    is the test's own): the test says every setting it means."""
    for var in list(os.environ):
        if var.startswith(("SLACK_", "SHOWTIME_", "GITHUB_", "ECS_", "AWS_")) or var in (
            "DATABASE_URL",
            "LOG_LEVEL",
            "LOG_FORMAT",
            "PORT",
        ):
            monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials, and nothing from the developer's own AWS setup."""
    for var in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_ECS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    # Environments never look at AMIs; loading moto's catalogue costs ~0.2 s per test.
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")


@pytest.fixture
def world_settings() -> dict[str, Any]:
    """Overrides a test may change before ``world`` is built."""
    return {}


@pytest.fixture
def world(aws_env: None, tmp_path: Path, world_settings: dict[str, Any]) -> Iterator[World]:
    clock = FakeClock(WORLD_START)
    github = GitHubStandIn(clock=clock)
    github.start()
    seed_sandbox(github)
    with ecs_on_moto(
        clock,
        drain_seconds=DRAIN_SECONDS,
        stable_seconds=STABLE_SECONDS,
        public_ip="203.0.113.10",
        seed=3,
    ) as (ecs, network):
        github_values = {"github_api_url": github.base_url, "github_seconds_between_writes": 0}
        settings = world_settings_of(
            tmp_path,
            {
                **github_values,
                **network.settings(),
                # Environments here are TEST-NET addresses: the Superset smoke check is the
                # sandbox's and the smoke tests' (opted in with world_settings).
                "showtime_smoke_checks": (),
                **world_settings,
            },
        )
        store = SqlJobStore(settings.showtime_db_url, clock=clock)
        world = World(
            settings, clock, store, github_standin=github, ecs_standin=ecs, network=network
        )
        world.build_orchestrator()
        try:
            yield world
        finally:
            world.close()
            github.stop()


@pytest.fixture
def fake_world(tmp_path: Path, world_settings: dict[str, Any]) -> Iterator[FakeWorld]:
    """The orchestrator on in-memory fakes of its ports, one fake clock, a SQLite store."""
    world = fake_world_on(FakeClock(WORLD_START), tmp_path, world_settings)
    try:
        yield world
    finally:
        world.close()
