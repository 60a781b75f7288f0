"""ECS error shapes and odd answers, with botocore's Stubber.

Stubber checks each stubbed response against the real ECS API model, and botocore
validates the engine's requests against it before they reach the stub.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from botocore.stub import ANY, Stubber

from bot.adapters.ecs import (
    EcsEngine,
    EcsError,
    ServiceState,
    make_clients,
)
from bot.clock import FakeClock
from bot.config import Settings
from bot.domain.events import Event, Waiting
from bot.domain.naming import service_name
from bot.domain.requester import Requester

NAME = service_name(36121, "abc1234")
ARN = f"arn:aws:ecs:us-west-2:123456789012:service/superset-ci/{NAME}"


@dataclass
class Stubbed:
    engine: EcsEngine
    ecs: Stubber
    ec2: Stubber
    clock: FakeClock


@pytest.fixture
def ecs_stubbed(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubbed]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    settings = Settings(
        _env_file=None,
        aws_region="us-west-2",
        ecs_cluster="superset-ci",
        ecs_subnets=["subnet-0a1b2c3d"],
        ecs_security_groups=["sg-0a1b2c3d"],
        showtime_poll_seconds=5,
        showtime_drain_timeout_seconds=600,
    )
    ecs, ec2 = make_clients(settings)  # the production client configuration
    clock = FakeClock()
    engine = EcsEngine(settings, ecs_client=ecs, ec2_client=ec2, clock=clock)
    with Stubber(ecs) as ecs_stub, Stubber(ec2) as ec2_stub:
        yield Stubbed(engine, ecs_stub, ec2_stub, clock)
        ecs_stub.assert_no_pending_responses()
        ec2_stub.assert_no_pending_responses()


def describe_request(name: str = NAME) -> dict:
    return {"cluster": "superset-ci", "services": [name]}


def describe_fails(stub: Stubber, code: str, message: str, status: int) -> None:
    """The next DescribeServices is answered with AWS's error ``code``."""
    stub.add_client_error(
        "describe_services",
        service_error_code=code,
        service_message=message,
        http_status_code=status,
    )


def service(status: str | None = "ACTIVE", **extra: object) -> dict:
    body: dict[str, object] = {
        "serviceName": NAME,
        "serviceArn": ARN,
        "runningCount": 1,
        "desiredCount": 1,
        **extra,
    }
    if status is not None:
        body["status"] = status
    return body


def test_access_denied_names_code_operation_resource_and_the_fix(ecs_stubbed: Stubbed) -> None:
    ecs_stubbed.ecs.add_client_error(
        "describe_services",
        service_error_code="AccessDeniedException",
        service_message="User is not authorized to perform: ecs:DescribeServices",
        http_status_code=400,
        expected_params=describe_request(),
    )

    with pytest.raises(EcsError) as caught:
        ecs_stubbed.engine.clear_name(NAME)

    error = caught.value
    assert error.message == (
        f"AWS DescribeServices failed for {NAME}: AccessDeniedException: "
        "User is not authorized to perform: ecs:DescribeServices"
    )
    assert error.next_action == "check that the bot's IAM policy allows ecs:DescribeServices"
    assert (error.service, error.operation, error.code, error.resource) == (
        "AWS",
        "DescribeServices",
        "AccessDeniedException",
        NAME,
    )
    assert not error.transient
    assert ecs_stubbed.clock.slept == []


def test_cluster_not_found_points_at_the_cluster_and_region_settings(
    ecs_stubbed: Stubbed,
) -> None:
    describe_fails(ecs_stubbed.ecs, "ClusterNotFoundException", "Cluster not found.", 400)

    with pytest.raises(EcsError) as caught:
        ecs_stubbed.engine.service_state(NAME)

    assert "ClusterNotFoundException: Cluster not found." in caught.value.message
    assert caught.value.next_action == "check ECS_CLUSTER (superset-ci) and AWS_REGION (us-west-2)"


def test_throttling_then_success_is_retried_on_the_clock(ecs_stubbed: Stubbed) -> None:
    describe_fails(ecs_stubbed.ecs, "ThrottlingException", "Rate exceeded", 400)
    ecs_stubbed.ecs.add_response(
        "describe_services", {"services": [service("DRAINING")], "failures": []}
    )

    assert ecs_stubbed.engine.service_state(NAME) is ServiceState.DRAINING
    assert len(ecs_stubbed.clock.slept) == 1


def test_server_exceptions_that_never_stop_become_a_transient_error(
    ecs_stubbed: Stubbed,
) -> None:
    for _ in range(4):
        describe_fails(ecs_stubbed.ecs, "ServerException", "Service Unavailable", 500)

    with pytest.raises(EcsError) as caught:
        ecs_stubbed.engine.service_state(NAME)

    assert caught.value.transient
    assert caught.value.code == "ServerException"
    assert "press Retry in a minute" in caught.value.next_action


def test_a_server_exception_inside_the_drain_wait_only_delays_it(ecs_stubbed: Stubbed) -> None:
    events: list[Event] = []
    stub = ecs_stubbed.ecs
    stub.add_response("describe_services", {"services": [service("DRAINING")], "failures": []})
    describe_fails(stub, "ServerException", "Service Unavailable", 500)
    stub.add_response("describe_services", {"services": [service("DRAINING")], "failures": []})
    stub.add_response("describe_services", {"services": [service("INACTIVE")], "failures": []})

    ecs_stubbed.engine.clear_name(NAME, events.append)

    assert [e.state for e in events if isinstance(e, Waiting)] == ["DRAINING"]
    assert ecs_stubbed.clock.slept[1] > ecs_stubbed.clock.slept[0]  # backed off


def test_missing_in_failures_means_the_name_is_free(ecs_stubbed: Stubbed) -> None:
    ecs_stubbed.ecs.add_response(
        "describe_services",
        {"services": [], "failures": [{"arn": ARN, "reason": "MISSING"}]},
        expected_params=describe_request(),
    )

    ecs_stubbed.engine.clear_name(NAME)  # one describe, nothing deleted, no wait

    assert ecs_stubbed.clock.slept == []


def test_an_empty_answer_counts_as_missing(ecs_stubbed: Stubbed) -> None:
    ecs_stubbed.ecs.add_response("describe_services", {"services": [], "failures": []})

    assert ecs_stubbed.engine.service_state(NAME) is ServiceState.MISSING


def test_a_service_without_status_counts_as_taken_and_is_cleared(ecs_stubbed: Stubbed) -> None:
    stub = ecs_stubbed.ecs
    stub.add_response("describe_services", {"services": [service(None)], "failures": []})
    stub.add_response(
        "delete_service",
        {"service": service("DRAINING")},
        expected_params={"cluster": "superset-ci", "service": NAME, "force": True},
    )
    stub.add_response("describe_services", {"services": [service("INACTIVE")], "failures": []})

    ecs_stubbed.engine.clear_name(NAME)

    assert ecs_stubbed.clock.slept == [5.0]


def test_create_service_sends_the_spec_tags_network_and_client_token(
    ecs_stubbed: Stubbed,
) -> None:
    created = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
    ecs_stubbed.clock.set_now(created)
    ecs_stubbed.ecs.add_response(
        "create_service",
        {"service": service("ACTIVE", runningCount=0)},
        expected_params={
            "cluster": "superset-ci",
            "serviceName": NAME,
            "taskDefinition": "arn:aws:ecs:us-west-2:123456789012:task-definition/superset:3",
            "desiredCount": 1,
            "launchType": "FARGATE",
            "networkConfiguration": {
                "awsvpcConfiguration": {
                    "subnets": ["subnet-0a1b2c3d"],
                    "securityGroups": ["sg-0a1b2c3d"],
                    "assignPublicIp": "ENABLED",
                }
            },
            "deploymentConfiguration": ANY,
            "tags": [
                {"key": "showtime_managed", "value": "true"},
                {"key": "pr", "value": "36121"},
                {"key": "sha", "value": "abc1234"},
                {"key": "requested_by", "value": "slack:U123ABC"},
                {"key": "showtime_created", "value": str(int(created.timestamp()))},
                {"key": "showtime_expires", "value": str(int(created.timestamp()) + 48 * 3600)},
            ],
            "enableECSManagedTags": True,
            "propagateTags": "SERVICE",
            "clientToken": "3f9c2a61-1b1e-4c55-9a53-0c1d6f3b8e21",
        },
    )

    info = ecs_stubbed.engine.create_service(
        pr=36121,
        sha="abc1234def",
        task_definition_arn="arn:aws:ecs:us-west-2:123456789012:task-definition/superset:3",
        requested_by=Requester.slack("U123ABC"),
        expires=datetime(2026, 1, 17, 12, 0, tzinfo=UTC),
        client_token="3f9c2a61-1b1e-4c55-9a53-0c1d6f3b8e21",
    )

    # ECS answered without tags: the ones sent are the ones the service has.
    assert info.created == created
    assert info.requested_by == Requester.slack("U123ABC")


def test_a_single_running_deployment_without_rollout_state_is_stable(
    ecs_stubbed: Stubbed,
) -> None:
    deployment = {"id": "ecs-svc/1", "status": "PRIMARY", "desiredCount": 1, "runningCount": 1}
    ecs_stubbed.ecs.add_response(
        "describe_services",
        {"services": [service("ACTIVE", deployments=[deployment])], "failures": []},
    )

    ecs_stubbed.engine.wait_stable(NAME)

    assert ecs_stubbed.clock.slept == [5.0]  # one poll, then one look finds it stable


def test_a_cli_service_is_found_with_its_github_user_tag(ecs_stubbed: Stubbed) -> None:
    ecs_stubbed.ecs.add_response(
        "list_services",
        {"serviceArns": [ARN]},
        expected_params={"cluster": "superset-ci", "maxResults": 100},
    )
    ecs_stubbed.ecs.add_response(
        "describe_services",
        {
            "services": [
                service(
                    "ACTIVE",
                    tags=[
                        {"key": "showtime_managed", "value": "true"},
                        {"key": "pr", "value": "36121"},
                        {"key": "github_user", "value": "octocat"},
                        {"key": "showtime_created", "value": "1768478400"},
                        {"key": "showtime_expires", "value": "1768651200"},
                    ],
                )
            ],
            "failures": [],
        },
        expected_params={**describe_request(), "include": ["TAGS"]},
    )

    [found] = ecs_stubbed.engine.find_services(36121)

    # No sha tag: the SHA comes from the name.
    assert (found.name, found.pr, found.sha, found.requested_by) == (
        NAME,
        36121,
        "abc1234",
        Requester.github("octocat"),  # the CLI's tag names a GitHub login, typed as one
    )
    assert found.created == datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def test_production_clients_use_botocores_standard_retries() -> None:
    settings = Settings(_env_file=None, aws_region="eu-west-1")

    ecs, ec2 = make_clients(settings)

    for client in (ecs, ec2):
        assert client.meta.region_name == "eu-west-1"
        # botocore's max_attempts counts retries: 2 after the first attempt. The engine's
        # own loop retries on the injected clock; more here would multiply requests.
        assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 3}
