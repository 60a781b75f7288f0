"""Fixtures for the ECS engine tests: moto in process, made to behave like ECS."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
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


EcsSettingsFactory = Callable[..., Settings]


@pytest.fixture
def ecs_make_settings() -> EcsSettingsFactory:
    """Settings pointing at a stand-in network, with per-test overrides."""

    def make(network: Network, **overrides: object) -> Settings:
        values: dict[str, object] = {
            "_env_file": None,
            "aws_region": network.region,
            "ecs_cluster": network.cluster,
            "ecs_subnets": [network.subnet_id],
            "ecs_security_groups": [network.security_group_id],
            "showtime_poll_seconds": 5.0,
            "showtime_drain_timeout_seconds": 600.0,
            "showtime_stable_timeout_seconds": 900.0,
            "showtime_health_timeout_seconds": 900.0,
        }
        values.update(overrides)
        return Settings(**values)  # type: ignore[arg-type]

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
