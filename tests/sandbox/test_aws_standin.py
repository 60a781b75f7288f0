"""The AWS stand-in behaves like ECS where moto alone does not (raw boto3 calls)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws

from bot.adapters.ecs import new_session
from bot.clock import FakeClock
from bot.sandbox.aws import NOT_IDEMPOTENT, EcsStandIn, Network, start_server

DRAIN = 100.0
STABLE = 10.0
NAME = "pr-36121-abc1234-service"
IMAGE = "apache/superset:pr-36121-abc1234-ci"


@dataclass
class Sandbox:
    standin: EcsStandIn
    clock: FakeClock
    network: Network
    ecs: Any
    ec2: Any
    task_definition: str

    def create(self, name: str = NAME, **extra: Any) -> dict:
        params: dict[str, Any] = {
            "cluster": self.network.cluster,
            "serviceName": name,
            "taskDefinition": self.task_definition,
            "desiredCount": 1,
            "launchType": "FARGATE",
            "networkConfiguration": {
                "awsvpcConfiguration": {
                    "subnets": [self.network.subnet_id],
                    "securityGroups": [self.network.security_group_id],
                    "assignPublicIp": "ENABLED",
                }
            },
            **extra,
        }
        return dict(self.ecs.create_service(**params)["service"])

    def describe(self, name: str = NAME) -> dict:
        found = self.ecs.describe_services(cluster=self.network.cluster, services=[name])
        return dict(found["services"][0]) if found["services"] else {}

    def tasks(self, status: str = "RUNNING", name: str = NAME) -> list[dict]:
        cluster = self.network.cluster
        arns = self.ecs.list_tasks(cluster=cluster, serviceName=name, desiredStatus=status)
        if not arns["taskArns"]:
            return []
        return list(self.ecs.describe_tasks(cluster=cluster, tasks=arns["taskArns"])["tasks"])


def clients(endpoint_url: str | None = None) -> tuple[Any, Any]:
    # No botocore retries: throttling must reach the test, and retries sleep for real.
    config = Config(retries={"mode": "standard", "max_attempts": 0})
    session = new_session()
    made = tuple(
        session.client(
            service,
            region_name="us-west-2",
            endpoint_url=endpoint_url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=config,
        )
        for service in ("ecs", "ec2")
    )
    return made[0], made[1]


def register(ecs: Any, image: str = IMAGE, *, logging: bool = False) -> str:
    """A task definition for #36121; with ``logging``, its container logs through awslogs,
    as the bundled template's does."""
    container: dict[str, Any] = {"name": "superset", "image": image, "essential": True}
    if logging:
        container["portMappings"] = [{"containerPort": 8088}]
        container["logConfiguration"] = {
            "logDriver": "awslogs",
            "options": {"awslogs-group": "/ecs/envs", "awslogs-stream-prefix": "ecs"},
        }
    definition = ecs.register_task_definition(
        family="superset-ci-pr-36121",
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="512",
        memory="2048",
        containerDefinitions=[container],
    )
    return str(definition["taskDefinition"]["taskDefinitionArn"])


@pytest.fixture
def ecs_sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    clock = FakeClock()
    with (
        mock_aws(),
        EcsStandIn(
            clock=clock, drain_seconds=DRAIN, stable_seconds=STABLE, public_ip="127.0.0.1"
        ) as standin,
    ):
        network = standin.setup_network()
        ecs, ec2 = clients()
        yield Sandbox(standin, clock, network, ecs, ec2, register(ecs))


def test_it_reproduces_the_original_bug_a_naive_create_right_after_delete_fails(
    ecs_sandbox: Sandbox,
) -> None:
    ecs_sandbox.create()
    ecs_sandbox.ecs.delete_service(cluster="superset-ci", service=NAME, force=True)

    with pytest.raises(ClientError) as caught:
        ecs_sandbox.create()

    error = caught.value.response["Error"]
    assert error["Code"] == "InvalidParameterException"
    assert error["Message"] == NOT_IDEMPOTENT == "Creation of service was not idempotent."


def test_a_deleted_service_drains_then_goes_inactive_and_frees_the_name(
    ecs_sandbox: Sandbox,
) -> None:
    ecs_sandbox.create()
    deleted = ecs_sandbox.ecs.delete_service(cluster="superset-ci", service=NAME, force=True)
    assert deleted["service"]["status"] == "DRAINING"

    ecs_sandbox.clock.advance(DRAIN - 1)
    assert ecs_sandbox.describe()["status"] == "DRAINING"
    assert ecs_sandbox.ecs.list_services(cluster="superset-ci")["serviceArns"] == []

    ecs_sandbox.clock.advance(1)
    assert ecs_sandbox.describe()["status"] == "INACTIVE"
    assert ecs_sandbox.create()["status"] == "ACTIVE"


def test_deleting_a_draining_service_answers_with_it_as_it_is(ecs_sandbox: Sandbox) -> None:
    ecs_sandbox.create()
    ecs_sandbox.ecs.delete_service(cluster="superset-ci", service=NAME, force=True)

    again = ecs_sandbox.ecs.delete_service(cluster="superset-ci", service=NAME, force=True)

    assert again["service"]["status"] == "DRAINING"


def test_an_active_name_is_refused_unless_the_same_client_token_asks_again(
    ecs_sandbox: Sandbox,
) -> None:
    first = ecs_sandbox.create(clientToken="job-1")

    again = ecs_sandbox.create(clientToken="job-1")
    with pytest.raises(ClientError) as caught:
        ecs_sandbox.create(clientToken="job-2")

    assert again["serviceArn"] == first["serviceArn"]
    assert again["deployments"][0]["id"] == first["deployments"][0]["id"]
    assert caught.value.response["Error"]["Message"] == NOT_IDEMPOTENT


def test_list_services_pages_ten_by_default_and_only_names_active_services(
    ecs_sandbox: Sandbox,
) -> None:
    for pr in range(12):
        ecs_sandbox.create(f"pr-{pr}-abc1234-service")
    ecs_sandbox.ecs.delete_service(
        cluster="superset-ci", service="pr-0-abc1234-service", force=True
    )

    first = ecs_sandbox.ecs.list_services(cluster="superset-ci")
    second = ecs_sandbox.ecs.list_services(cluster="superset-ci", nextToken=first["nextToken"])
    everything = ecs_sandbox.ecs.list_services(cluster="superset-ci", maxResults=100)

    assert len(first["serviceArns"]) == 10
    assert len(second["serviceArns"]) == 1
    assert "nextToken" not in second
    assert len(everything["serviceArns"]) == 11
    assert not any(arn.endswith("/pr-0-abc1234-service") for arn in everything["serviceArns"])


def test_describe_services_refuses_more_than_ten_names(ecs_sandbox: Sandbox) -> None:
    with pytest.raises(ClientError) as caught:
        ecs_sandbox.ecs.describe_services(
            cluster="superset-ci", services=[f"pr-{n}-abc1234-service" for n in range(11)]
        )

    assert caught.value.response["Error"]["Code"] == "InvalidParameterException"


def test_a_service_becomes_stable_with_a_task_of_its_deployment_on_a_public_ip(
    ecs_sandbox: Sandbox,
) -> None:
    created = ecs_sandbox.create()
    deployment = created["deployments"][0]
    assert (created["runningCount"], deployment["rolloutState"]) == (0, "IN_PROGRESS")
    assert [t["lastStatus"] for t in ecs_sandbox.tasks()] == ["PENDING"]

    ecs_sandbox.clock.advance(STABLE)

    service = ecs_sandbox.describe()
    task = ecs_sandbox.tasks()[0]
    eni = next(
        d["value"] for d in task["attachments"][0]["details"] if d["name"] == "networkInterfaceId"
    )
    interface = ecs_sandbox.ec2.describe_network_interfaces(NetworkInterfaceIds=[eni])
    assert service["runningCount"] == 1
    assert service["deployments"][0]["rolloutState"] == "COMPLETED"
    assert task["lastStatus"] == "RUNNING"
    assert task["startedBy"] == deployment["id"]
    assert task["group"] == f"service:{NAME}"
    assert interface["NetworkInterfaces"][0]["Association"]["PublicIp"] == "127.0.0.1"
    # Described twice more, a running task stays RUNNING (moto's would move on).
    assert ecs_sandbox.tasks()[0]["lastStatus"] == ecs_sandbox.tasks()[0]["lastStatus"] == "RUNNING"


def test_force_new_deployment_replaces_the_task_only_once_the_new_one_runs(
    ecs_sandbox: Sandbox,
) -> None:
    ecs_sandbox.create()
    ecs_sandbox.clock.advance(STABLE)
    old_task = ecs_sandbox.tasks()[0]

    updated = ecs_sandbox.ecs.update_service(
        cluster="superset-ci", service=NAME, forceNewDeployment=True
    )["service"]
    during = ecs_sandbox.describe()
    ecs_sandbox.clock.advance(STABLE)
    after = ecs_sandbox.describe()

    new_id = updated["deployments"][0]["id"]
    assert new_id != old_task["startedBy"]
    assert [d["status"] for d in during["deployments"]] == ["PRIMARY", "ACTIVE"]
    assert during["runningCount"] == 1  # the old task still serves
    assert [d["id"] for d in after["deployments"]] == [new_id]
    assert [t["startedBy"] for t in ecs_sandbox.tasks()] == [new_id]
    stopped = ecs_sandbox.tasks("STOPPED")
    assert [t["taskArn"] for t in stopped] == [old_task["taskArn"]]
    assert stopped[0]["stoppedReason"].startswith("Scaling activity initiated by")


def test_a_missing_image_stops_tasks_like_ecs_and_trips_the_circuit_breaker(
    ecs_sandbox: Sandbox,
) -> None:
    ecs_sandbox.standin.mark_image_missing(IMAGE)
    ecs_sandbox.create(
        deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True, "rollback": False}}
    )

    ecs_sandbox.clock.advance(STABLE)
    first = ecs_sandbox.describe()["deployments"][0]
    ecs_sandbox.clock.advance(10 * STABLE)
    final = ecs_sandbox.describe()["deployments"][0]

    stopped = ecs_sandbox.tasks("STOPPED")
    assert first["failedTasks"] == 1
    assert stopped[0]["stoppedReason"].startswith(
        "CannotPullContainerError: pull image manifest has been retried 5 time(s): "
        f"failed to resolve ref docker.io/{IMAGE}"
    )
    assert stopped[0]["stopCode"] == "TaskFailedToStart"
    assert {t["startedBy"] for t in stopped} == {first["id"]}
    assert (final["failedTasks"], final["rolloutState"]) == (3, "FAILED")


def test_an_image_marked_present_again_starts(ecs_sandbox: Sandbox) -> None:
    ecs_sandbox.standin.mark_image_missing(IMAGE)
    ecs_sandbox.create()
    ecs_sandbox.clock.advance(STABLE)

    ecs_sandbox.standin.mark_image_present(IMAGE)
    ecs_sandbox.clock.advance(STABLE)

    assert ecs_sandbox.describe()["runningCount"] == 1


def test_fail_next_answers_one_request_with_the_given_error(ecs_sandbox: Sandbox) -> None:
    ecs_sandbox.standin.fail_next(
        "DescribeServices", "AccessDeniedException", "not authorized to perform"
    )
    ecs_sandbox.standin.fail_next("DescribeNetworkInterfaces", "UnauthorizedOperation", "denied")

    with pytest.raises(ClientError) as ecs_error:
        ecs_sandbox.describe()
    with pytest.raises(ClientError) as ec2_error:
        ecs_sandbox.ec2.describe_network_interfaces()

    assert ecs_error.value.response["Error"] == {
        "Code": "AccessDeniedException",
        "Message": "not authorized to perform",
    }
    assert ec2_error.value.response["Error"]["Code"] == "UnauthorizedOperation"
    assert ecs_sandbox.describe() == {}  # one-shot: the next request goes through
    assert ecs_sandbox.standin.injected == {"DescribeServices": 1, "DescribeNetworkInterfaces": 1}


def test_throttling_answers_rate_exceeded_at_the_given_probability(
    ecs_sandbox: Sandbox,
) -> None:
    ecs_sandbox.standin.throttle("ListServices", 1.0)

    with pytest.raises(ClientError) as caught:
        ecs_sandbox.ecs.list_services(cluster="superset-ci")
    ecs_sandbox.standin.throttle("ListServices", 0.0)

    assert caught.value.response["Error"] == {
        "Code": "ThrottlingException",
        "Message": "Rate exceeded",
    }
    assert ecs_sandbox.ecs.list_services(cluster="superset-ci")["serviceArns"] == []


def test_calls_are_counted_per_operation_and_reset(ecs_sandbox: Sandbox) -> None:
    ecs_sandbox.standin.reset()

    ecs_sandbox.create()
    ecs_sandbox.describe()
    ecs_sandbox.describe()

    assert ecs_sandbox.standin.calls == {"CreateService": 1, "DescribeServices": 2}
    ecs_sandbox.standin.reset()
    assert ecs_sandbox.standin.calls == {}


def test_uninstalling_gives_moto_back_and_only_one_standin_installs_at_a_time(
    ecs_sandbox: Sandbox,
) -> None:
    with pytest.raises(RuntimeError):
        EcsStandIn().install()

    ecs_sandbox.standin.uninstall()
    ecs_sandbox.create("pr-1-abc1234-service")
    deleted = ecs_sandbox.ecs.delete_service(
        cluster="superset-ci", service="pr-1-abc1234-service", force=True
    )

    assert deleted["service"]["status"] == "INACTIVE"  # moto's own shortcut
    assert ecs_sandbox.standin.calls["CreateService"] == 0
    ecs_sandbox.standin.install()  # so the fixture's exit finds it installed


def test_over_loopback_http_a_threaded_moto_server_drains_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    clock = FakeClock()
    server, endpoint = start_server()
    try:
        with EcsStandIn(clock=clock, drain_seconds=DRAIN, stable_seconds=STABLE) as standin:
            network = standin.setup_network(cluster="loopback-sandbox", endpoint_url=endpoint)
            ecs, ec2 = clients(endpoint)
            sandbox = Sandbox(standin, clock, network, ecs, ec2, register(ecs))
            sandbox.create()
            ecs.delete_service(cluster="loopback-sandbox", service=NAME, force=True)

            with pytest.raises(ClientError) as caught:
                sandbox.create()
            clock.advance(DRAIN)

            assert caught.value.response["Error"]["Message"] == NOT_IDEMPOTENT
            assert sandbox.create()["status"] == "ACTIVE"
            assert standin.calls["CreateService"] == 3
    finally:
        server.stop()


def log_events(standin: EcsStandIn, stream: str) -> list[str]:
    logs = new_session().client(
        "logs", region_name="us-west-2", aws_access_key_id="x", aws_secret_access_key="x"
    )
    events = logs.get_log_events(logGroupName="/ecs/envs", logStreamName=stream)["events"]
    return [str(event["message"]) for event in events]


def test_a_task_writes_its_boot_log_where_awslogs_says_once_its_container_starts(
    ecs_sandbox: Sandbox,
) -> None:
    from bot.sandbox.aws import BOOT_LINES

    ecs_sandbox.create(taskDefinition=register(ecs_sandbox.ecs, logging=True))
    pending = ecs_sandbox.tasks()[0]["taskArn"]
    stream = f"ecs/superset/{pending.rsplit('/', 1)[-1]}"
    with pytest.raises(ClientError, match="The specified log stream does not exist"):
        log_events(ecs_sandbox.standin, stream)  # the group exists, the stream not yet

    ecs_sandbox.clock.advance(STABLE)

    assert log_events(ecs_sandbox.standin, stream) == [
        line.format(port=8088) for line in BOOT_LINES
    ]
    assert ecs_sandbox.standin.calls["GetLogEvents"] == 2  # the bot's reads are counted


def test_a_crash_on_boot_logs_a_traceback_and_stops_like_an_exited_container(
    ecs_sandbox: Sandbox,
) -> None:
    ecs_sandbox.standin.crash_on_boot(IMAGE, ["Traceback (most recent call last):", "Boom"])
    ecs_sandbox.create(
        taskDefinition=register(ecs_sandbox.ecs, logging=True),
        deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True, "rollback": False}},
    )

    ecs_sandbox.clock.advance(STABLE)

    stopped = ecs_sandbox.tasks("STOPPED")[0]
    assert stopped["stoppedReason"] == "Essential container in task exited"
    assert stopped["stopCode"] == "EssentialContainerExited"
    assert stopped["containers"][0]["exitCode"] == 1
    assert ecs_sandbox.describe()["deployments"][0]["failedTasks"] == 1
    stream = f"ecs/superset/{stopped['taskArn'].rsplit('/', 1)[-1]}"
    assert ecs_sandbox.standin.log_lines(stopped["taskArn"]) == [
        "Traceback (most recent call last):",
        "Boom",
    ]
    assert log_events(ecs_sandbox.standin, stream)[-1] == "Boom"


def test_a_crash_loop_keeps_the_task_running_and_logging(
    ecs_sandbox: Sandbox,
) -> None:
    from bot.sandbox.aws import LOOP_SECONDS

    ecs_sandbox.standin.crash_loop(IMAGE, ["worker failed to boot"])
    ecs_sandbox.create(taskDefinition=register(ecs_sandbox.ecs, logging=True))
    ecs_sandbox.clock.advance(STABLE + 1)
    task = ecs_sandbox.tasks()[0]["taskArn"]
    once = ecs_sandbox.standin.log_lines(task).count("worker failed to boot")

    ecs_sandbox.clock.advance(3 * LOOP_SECONDS)

    assert ecs_sandbox.tasks()[0]["lastStatus"] == "RUNNING"
    assert once == 1
    assert ecs_sandbox.standin.log_lines(task).count("worker failed to boot") == 4
