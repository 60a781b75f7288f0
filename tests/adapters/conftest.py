"""Fixtures for the ECS engine tests: moto in process, made to behave like ECS."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from ecs_support import EcsSettingsFactory, EngineFactory, settings_on
from moto import mock_aws

from bot.adapters.ecs import EcsEngine, make_clients
from bot.clock import FakeClock
from bot.config import Settings
from bot.domain.events import Event
from bot.sandbox.aws import EcsStandIn, Network


@pytest.fixture
def ecs_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def ecs_standin(aws_env: None, ecs_clock: FakeClock) -> Iterator[EcsStandIn]:
    with (
        mock_aws(),
        EcsStandIn(
            clock=ecs_clock,
            # Long enough for several polls and a heartbeat; the FakeClock makes them free.
            drain_seconds=150.0,
            stable_seconds=20.0,
            public_ip="127.0.0.1",
            seed=7,
        ) as standin,
    ):
        yield standin


@pytest.fixture
def ecs_network(ecs_standin: EcsStandIn) -> Network:
    return ecs_standin.setup_network()


@pytest.fixture
def ecs_make_settings() -> EcsSettingsFactory:
    """Settings pointing at a stand-in network, with per-test overrides."""

    def make(network: Network, **overrides: object) -> Settings:
        timeouts = {
            "showtime_drain_timeout_seconds": 600.0,
            "showtime_stable_timeout_seconds": 900.0,
            "showtime_health_timeout_seconds": 900.0,
        }
        return settings_on(network, **{**timeouts, **overrides})

    return make


@pytest.fixture
def ecs_engine_with(
    ecs_make_settings: EcsSettingsFactory, ecs_network: Network, ecs_clock: FakeClock
) -> EngineFactory:
    """An engine on the stand-in's network and the clock, with these settings overridden."""

    def make(**overrides: object) -> EcsEngine:
        return EcsEngine(ecs_make_settings(ecs_network, **overrides), clock=ecs_clock)

    return make


@pytest.fixture
def ecs_settings(ecs_make_settings: EcsSettingsFactory, ecs_network: Network) -> Settings:
    return ecs_make_settings(ecs_network)


@pytest.fixture
def ecs_engine(ecs_settings: Settings, ecs_clock: FakeClock) -> EcsEngine:
    """The engine with botocore retries off: their backoff sleeps for real, the engine's
    own backoff sleeps on the FakeClock (botocore's retry settings are tested apart)."""
    ecs, ec2 = make_clients(ecs_settings, max_attempts=0)
    return EcsEngine(
        ecs_settings,
        ecs_client=ecs,
        ec2_client=ec2,
        clock=ecs_clock,
    )


@pytest.fixture
def ecs_events() -> list[Event]:
    return []
