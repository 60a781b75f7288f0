"""What the AWS clients tell the operators' metrics (SPEC §16): every call, by service,
operation and outcome — ``ok``, AWS's error code, or why AWS could not be reached — as many
as the ECS stand-in answered."""

from __future__ import annotations

import socket

import pytest
from ecs_support import create
from support import counted

from bot.adapters.ecs import EcsEngine, EcsError, EcsLogs, make_clients
from bot.adapters.ecs.calls import CALL_ATTEMPTS
from bot.clock import FakeClock
from bot.config import Settings
from bot.metrics import Metrics
from bot.sandbox.aws import EcsStandIn

PR, SHA = 36121, "abc1234"
NAME = f"pr-{PR}-{SHA}-service"


def calls_seen(metrics: Metrics) -> dict[tuple[str, ...], float]:
    return counted(metrics, "showtime_aws_calls", ("service", "operation", "outcome"))


def engine_with(settings: Settings, clock: FakeClock, metrics: Metrics) -> EcsEngine:
    # No botocore retries (they sleep for real): the engine's own backoff, on the clock.
    ecs, ec2 = make_clients(settings, max_attempts=0, recorder=metrics.aws_call)
    return EcsEngine(settings, ecs_client=ecs, ec2_client=ec2, clock=clock)


def test_a_deploy_and_a_log_read_are_told_call_by_call(
    ecs_settings: Settings, ecs_standin: EcsStandIn, ecs_clock: FakeClock
) -> None:
    metrics = Metrics()
    engine = engine_with(ecs_settings, ecs_clock, metrics)
    ecs_standin.reset()

    create(engine, PR, SHA)
    engine.wait_stable(NAME)
    EcsLogs(ecs_settings, clock=ecs_clock, recorder=metrics.aws_call).tail(NAME, 5)

    seen = calls_seen(metrics)
    assert {operation: n for (_, operation, _), n in seen.items()} == {
        operation: float(n) for operation, n in ecs_standin.calls.items()
    }
    assert {outcome for (_, _, outcome) in seen} == {"ok"}
    assert ("ecs", "CreateService", "ok") in seen
    assert ("logs", "GetLogEvents", "ok") in seen


def test_errors_are_told_by_their_aws_code(
    ecs_settings: Settings, ecs_standin: EcsStandIn, ecs_clock: FakeClock
) -> None:
    metrics = Metrics()
    engine = engine_with(ecs_settings, ecs_clock, metrics)
    ecs_standin.fail_next("DescribeServices", "ThrottlingException", "Rate exceeded")
    engine.service_state(NAME)  # retried on the clock, then answered
    ecs_standin.fail_next("DescribeServices", "AccessDeniedException", "not allowed")
    with pytest.raises(EcsError):
        engine.service_state(NAME)

    assert calls_seen(metrics) == {
        ("ecs", "DescribeServices", "ThrottlingException"): 1.0,
        ("ecs", "DescribeServices", "ok"): 1.0,
        ("ecs", "DescribeServices", "AccessDeniedException"): 1.0,
    }


def test_an_aws_that_cannot_be_reached_is_told_by_why(aws_env: None) -> None:
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    settings = Settings(
        _env_file=None,
        aws_region="us-west-2",
        aws_endpoint_url=f"http://127.0.0.1:{port}",
        ecs_subnets=["subnet-00000000000000001"],
        ecs_security_groups=["sg-00000000000000001"],
    )
    metrics = Metrics()
    engine = engine_with(settings, FakeClock(), metrics)
    with pytest.raises(EcsError):
        engine.service_state(NAME)
    assert calls_seen(metrics) == {
        ("ecs", "DescribeServices", "EndpointConnectionError"): float(CALL_ATTEMPTS)
    }
