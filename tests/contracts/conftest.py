"""Each port twice: the in-memory fake (``tests/fakes.py``) and the real adapter on its
stand-in. The contract tests take ``github`` or ``ecs`` and run once on each; what they may
look at besides the port is what a person could see on GitHub or in the ECS console.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from ecs_support import ecs_on_moto, settings_on
from fakes import FakeEcs, FakeGitHub
from sides import PR, EcsSide, GitHubSide
from support import DRAIN_SECONDS, STABLE_SECONDS, WORLD_START

from bot.adapters.ecs import EcsEngine
from bot.adapters.github import GitHubAdapter
from bot.clock import FakeClock
from bot.config import Settings
from bot.sandbox.aws import known_services
from bot.sandbox.github import GitHubStandIn, seed_sandbox

SIDES = ["fake", "adapter"]


@pytest.fixture(params=SIDES)
def github(request: pytest.FixtureRequest) -> Iterator[GitHubSide]:
    if request.param == "fake":
        fake = FakeGitHub()
        fake.add_pr(PR)
        yield GitHubSide(
            port=fake,
            labels=fake.labels,
            comments=lambda number: list(fake.comments.get(number, [])),
            definitions=lambda: set(fake.definitions),
            define=fake.definitions.add,
            set_role=fake.permissions.__setitem__,
        )
        return
    with GitHubStandIn() as standin:
        seed_sandbox(standin)
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            github_token="test-token",
            github_api_url=standin.base_url,
            github_seconds_between_writes=0,
        )
        adapter = GitHubAdapter(settings)
        try:
            yield GitHubSide(
                port=adapter,
                labels=standin.labels,
                comments=standin.comments,
                definitions=lambda: set(standin.label_definitions()),
                define=standin.define_label,
                set_role=standin.set_permission,
            )
        finally:
            adapter.close()


@pytest.fixture(params=SIDES)
def ecs(request: pytest.FixtureRequest) -> Iterator[EcsSide]:
    clock = FakeClock(WORLD_START)
    if request.param == "fake":
        fake = FakeEcs(clock, drain_seconds=DRAIN_SECONDS, stable_seconds=STABLE_SECONDS)
        yield EcsSide(
            port=fake,
            clock=clock,
            statuses=lambda: {
                s.name: s.status for s in fake.services(None) if s.status != "INACTIVE"
            },
        )
        return
    request.getfixturevalue("aws_env")
    standin = {"drain_seconds": DRAIN_SECONDS, "stable_seconds": STABLE_SECONDS, "seed": 5}
    with ecs_on_moto(clock, **standin) as (_, network):

        def statuses() -> dict[str, str]:
            found = known_services(network)
            return {s["serviceName"]: s["status"] for s in found if s["status"] != "INACTIVE"}

        engine = EcsEngine(settings_on(network), clock=clock)
        yield EcsSide(port=engine, clock=clock, statuses=statuses)
