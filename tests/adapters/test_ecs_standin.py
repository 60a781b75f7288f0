"""The ECS engine against moto made to behave like ECS (DRAINING, stability, faults).

Every AWS call is a real boto3 call; time is a FakeClock shared by the engine and the
stand-in, so minutes of DRAINING cost milliseconds.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import boto3
import pytest
from ecs_support import EcsSettingsFactory, EngineFactory, cli_revision, create, deploy

from bot.adapters.ecs import (
    DrainTimeoutError,
    EcsEngine,
    EcsError,
    NotIdempotentError,
    ServiceState,
    StableTimeoutError,
    TasksStoppedError,
    make_clients,
)
from bot.adapters.health import HttpHealthProbe
from bot.clock import FakeClock
from bot.config import Settings
from bot.domain.events import Event, Waiting, Warning
from bot.domain.naming import service_name
from bot.orchestrator.ports import Service
from bot.sandbox.aws import NOT_IDEMPOTENT, EcsStandIn, Network, start_server

SHA = "abc1234def5678"
NAME = service_name(36121, SHA)


def ecs_deploy(
    engine: EcsEngine,
    events: list[Event],
    *,
    pr: int = 36121,
    sha: str = SHA,
    token: str = "job-1",
) -> Service:
    """The orchestrator's ECS deploy steps, in its order (SPEC §6); health is the probe's."""
    description = "FEATURE_EMBEDDED_SUPERSET=true"
    return deploy(engine, pr, sha, token=token, description=description, progress=events.append)


def ecs_service(name: str = NAME, cluster: str = "superset-ci") -> dict:
    ecs = boto3.client("ecs", region_name="us-west-2")
    found = ecs.describe_services(cluster=cluster, services=[name], include=["TAGS"])
    services = found["services"]
    return services[0] if services else {}


def waiting(events: list[Event], step: str) -> list[Waiting]:
    return [e for e in events if isinstance(e, Waiting) and e.step == step]


# ----- the DRAINING rule ------------------------------------------------------------


def test_fresh_start_on_a_free_name_creates_a_running_tagged_service(
    ecs_engine: EcsEngine, ecs_standin: EcsStandIn, ecs_events: list[Event]
) -> None:
    info = ecs_deploy(ecs_engine, ecs_events)
    calls = dict(ecs_standin.calls)

    service = ecs_service()
    tags = {t["key"]: t["value"] for t in service["tags"]}
    assert service["status"] == "ACTIVE"
    assert service["runningCount"] == 1
    assert service["launchType"] == "FARGATE"
    assert tags["showtime_managed"] == "true"
    assert tags["pr"] == "36121"
    assert tags["sha"] == "abc1234"
    assert tags["requested_by"] == "slack:U1"
    assert "showtime_expires" not in tags  # expires=None: the TTL is "close"
    assert info.name == NAME
    assert info.pr == 36121 and info.sha == "abc1234"
    # The budget of SPEC §10: describe, register, create, stability polls, task → ENI → IP.
    # The first stability look waits a poll (a new service cannot be stable at once).
    polls = int(ecs_standin.stable_seconds // 5)
    assert calls == {
        "RegisterTaskDefinition": 1,
        "DescribeServices": 1 + polls,
        "CreateService": 1,
        "ListTasks": 1,
        "DescribeTasks": 1,
        "DescribeNetworkInterfaces": 1,
    }


def test_an_active_service_of_the_same_name_is_deleted_waited_out_then_recreated(
    ecs_engine: EcsEngine, ecs_standin: EcsStandIn, ecs_events: list[Event], ecs_clock: FakeClock
) -> None:
    ecs_deploy(ecs_engine, ecs_events, token="job-1")
    ecs_standin.reset()
    ecs_events.clear()
    started = ecs_clock.monotonic()

    ecs_deploy(ecs_engine, ecs_events, token="job-2")

    assert ecs_standin.calls["DeleteService"] == 1
    assert ecs_standin.calls["CreateService"] == 1  # no "not idempotent" refusal on the way
    assert ecs_clock.monotonic() - started >= ecs_standin.drain_seconds
    assert waiting(ecs_events, "clear_name")[0].state == "DRAINING"
    assert ecs_service()["status"] == "ACTIVE"
    assert ecs_service()["runningCount"] == 1


def test_a_draining_service_is_waited_out_with_progress_then_the_name_is_reused(
    ecs_engine: EcsEngine, ecs_standin: EcsStandIn, ecs_events: list[Event]
) -> None:
    ecs_deploy(ecs_engine, ecs_events)
    assert ecs_engine.delete_service(NAME) is True
    assert ecs_engine.service_state(NAME) is ServiceState.DRAINING
    ecs_events.clear()

    ecs_deploy(ecs_engine, ecs_events, token="job-2")

    drain = waiting(ecs_events, "clear_name")
    assert drain[0].state == "DRAINING"
    assert drain[0].text.startswith(f"{NAME} is DRAINING")
    # A heartbeat at most once a minute, with the elapsed time.
    assert [e.text for e in drain[1:]] == ["still DRAINING, 1m0s", "still DRAINING, 2m0s"]
    assert ecs_service()["status"] == "ACTIVE"


def test_a_drain_that_outlasts_the_timeout_fails_typed_and_creates_nothing(
    ecs_engine_with: EngineFactory,
    ecs_standin: EcsStandIn,
    ecs_clock: FakeClock,
    ecs_events: list[Event],
) -> None:
    engine = ecs_engine_with(showtime_drain_timeout_seconds=60)
    ecs_deploy(engine, ecs_events)
    engine.delete_service(NAME)
    ecs_standin.reset()
    started = ecs_clock.monotonic()

    with pytest.raises(DrainTimeoutError) as caught:
        ecs_deploy(engine, ecs_events, token="job-2")

    assert str(caught.value).startswith(f"{NAME} is still DRAINING after 1m")
    assert "Retry" in caught.value.next_action
    assert ecs_clock.monotonic() - started == pytest.approx(60)
    assert ecs_standin.calls["CreateService"] == 0
    assert ecs_standin.calls["DescribeServices"] == 1 + 60 // 5


def test_stop_then_immediate_start_waits_for_the_drain_instead_of_failing(
    ecs_engine: EcsEngine, ecs_standin: EcsStandIn, ecs_events: list[Event]
) -> None:
    ecs_deploy(ecs_engine, ecs_events)

    assert ecs_engine.delete_pr_environments(36121) == [NAME]
    ecs_deploy(ecs_engine, ecs_events, token="job-2")

    assert [s.name for s in ecs_engine.find_services(36121)] == [NAME]
    assert ecs_service()["runningCount"] == 1


def test_a_race_on_the_name_clears_it_once_more_then_creates(
    ecs_engine: EcsEngine, ecs_standin: EcsStandIn, ecs_events: list[Event]
) -> None:
    arn = ecs_engine.register_task_definition(36121, SHA, "", ecs_events.append)
    ecs_engine.clear_name(NAME)
    ecs_standin.fail_next("CreateService", "InvalidParameterException", NOT_IDEMPOTENT)

    info = create(ecs_engine, 36121, SHA, arn=arn, token="job-1", progress=ecs_events.append)

    assert info.status == "ACTIVE"
    assert any("still taken" in getattr(e, "text", "") for e in ecs_events)
    assert ecs_standin.calls["CreateService"] == 2


def test_a_name_still_taken_after_the_second_clear_is_a_race_error(
    ecs_engine: EcsEngine, ecs_standin: EcsStandIn
) -> None:
    arn = ecs_engine.register_task_definition(36121, SHA, "")
    for _ in range(2):
        ecs_standin.fail_next("CreateService", "InvalidParameterException", NOT_IDEMPOTENT)

    with pytest.raises(NotIdempotentError) as caught:
        create(ecs_engine, 36121, SHA, arn=arn, token="job-1")

    assert "another actor" in caught.value.message
    assert caught.value.code == "InvalidParameterException"
    assert ecs_service() == {}


def test_a_repeated_create_with_the_same_client_token_returns_the_same_service(
    ecs_engine: EcsEngine, ecs_standin: EcsStandIn, ecs_clock: FakeClock
) -> None:
    arn = ecs_engine.register_task_definition(36121, SHA, "")
    expires = ecs_clock.now() + timedelta(hours=48)
    before = ecs_clock.monotonic()
    first, second = (
        create(ecs_engine, 36121, SHA, arn=arn, token="job-7f3a", expires=expires) for _ in range(2)
    )

    assert first == second
    assert [s.name for s in ecs_engine.find_services(36121)] == [NAME]
    tags = {t["key"]: t["value"] for t in ecs_service()["tags"]}
    assert tags["showtime_expires"] == str(int(expires.timestamp()))
    # The retry got the same service back: nothing was deleted, nothing waited out.
    assert ecs_standin.calls["DeleteService"] == 0
    assert ecs_clock.monotonic() == before


def test_the_task_definition_carries_the_image_flags_and_port(
    ecs_engine_with: EngineFactory,
    ecs_standin: EcsStandIn,
    ecs_clock: FakeClock,
    ecs_events: list[Event],
) -> None:
    engine = ecs_engine_with(showtime_env_port=9000)
    description = "FEATURE_EMBEDDED_SUPERSET=true\nFEATURE_ALERTS=perhaps\n"

    arn = engine.register_task_definition(36121, SHA, description, ecs_events.append)

    ecs = boto3.client("ecs", region_name="us-west-2")
    definition = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
    app = definition["containerDefinitions"][0]
    env = {e["name"]: e["value"] for e in app["environment"]}
    assert definition["family"] == "superset-ci-pr-36121"
    assert app["image"] == "apache/superset:pr-36121-abc1234-ci"
    assert env["SUPERSET_FEATURE_EMBEDDED_SUPERSET"] == "True"
    assert env["SUPERSET_PORT"] == "9000"
    assert app["portMappings"][0]["containerPort"] == 9000
    warnings = [e.text for e in ecs_events if isinstance(e, Warning)]
    assert len(warnings) == 1 and "`FEATURE_ALERTS=perhaps` skipped" in warnings[0]


# ----- faults ------------------------------------------------------------------------


def test_thirty_percent_throttling_on_describe_services_still_deploys(
    ecs_settings: Settings, ecs_standin: EcsStandIn, ecs_clock: FakeClock, ecs_events: list[Event]
) -> None:
    # No botocore retries (they sleep for real): the engine's own backoff does the work.
    ecs, ec2 = make_clients(ecs_settings, max_attempts=0)
    engine = EcsEngine(ecs_settings, ecs_client=ecs, ec2_client=ec2, clock=ecs_clock)
    ecs_standin.throttle("DescribeServices", 0.3)

    ecs_deploy(engine, ecs_events)
    ecs_deploy(engine, ecs_events, token="job-2")  # through a DRAINING wait as well

    assert ecs_service()["runningCount"] == 1
    assert ecs_standin.injected["DescribeServices"] >= 10


def test_a_missing_image_fails_fast_quoting_cannot_pull_container_error(
    ecs_engine: EcsEngine, ecs_standin: EcsStandIn, ecs_clock: FakeClock, ecs_events: list[Event]
) -> None:
    image = ecs_engine.image(36121, SHA)
    ecs_standin.mark_image_missing(image)
    started = ecs_clock.monotonic()

    with pytest.raises(TasksStoppedError) as caught:
        ecs_deploy(ecs_engine, ecs_events)

    error = caught.value
    assert error.image_missing
    assert error.image == image
    assert "CannotPullContainerError" in str(error)
    assert str(error).startswith(f"image not built yet — CI builds `{image}`; press Retry")
    assert ecs_clock.monotonic() - started < 60  # not the 15-minute stability timeout


def test_stopped_tasks_of_a_predecessor_do_not_fail_the_new_service(
    ecs_engine: EcsEngine, ecs_standin: EcsStandIn, ecs_events: list[Event]
) -> None:
    ecs_standin.mark_image_missing(ecs_engine.image(36121, SHA))
    with pytest.raises(TasksStoppedError):
        ecs_deploy(ecs_engine, ecs_events)
    ecs_standin.mark_image_present(ecs_engine.image(36121, SHA))
    ecs_standin.stable_seconds = 60  # long enough for the periodic stopped-task check
    ecs_standin.reset()

    ecs_deploy(ecs_engine, ecs_events, token="job-2")

    ecs = boto3.client("ecs", region_name="us-west-2")
    stopped = ecs.list_tasks(cluster="superset-ci", serviceName=NAME, desiredStatus="STOPPED")
    assert stopped["taskArns"]  # the predecessor's failures are still listed…
    assert ecs_standin.calls["ListTasks"] >= 2  # …were looked at, and did not count
    assert ecs_service()["runningCount"] == 1


def test_a_service_that_never_stabilises_times_out(
    ecs_engine_with: EngineFactory,
    ecs_standin: EcsStandIn,
    ecs_clock: FakeClock,
) -> None:
    engine = ecs_engine_with(showtime_stable_timeout_seconds=60)
    ecs_standin.stable_seconds = 3600
    arn = engine.register_task_definition(36121, SHA, "")
    create(engine, 36121, SHA, arn=arn, token="t")

    with pytest.raises(StableTimeoutError) as caught:
        engine.wait_stable(NAME)

    assert "did not become stable in 1m (0 of 1 tasks running)" in str(caught.value)


def test_access_denied_fails_at_once_naming_code_operation_and_resource(
    ecs_engine: EcsEngine, ecs_standin: EcsStandIn, ecs_clock: FakeClock
) -> None:
    ecs_standin.fail_next(
        "DescribeServices",
        "AccessDeniedException",
        "User: arn:aws:iam::123456789012:user/bot is not authorized to perform: ecs:DescribeServices",
    )

    with pytest.raises(EcsError) as caught:
        ecs_engine.clear_name(NAME)

    error = caught.value
    assert error.message.startswith(
        f"AWS DescribeServices failed for {NAME}: AccessDeniedException: User:"
    )
    assert "IAM policy" in error.next_action
    assert ecs_standin.calls["DescribeServices"] == 1
    assert ecs_clock.slept == []  # never a silent wait


def test_an_unknown_cluster_fails_at_once_pointing_at_the_setting(
    ecs_engine_with: EngineFactory,
    ecs_standin: EcsStandIn,
    ecs_clock: FakeClock,
) -> None:
    engine = ecs_engine_with(ecs_cluster="superset-typo")

    with pytest.raises(EcsError) as caught:
        engine.clear_name(NAME)

    assert caught.value.code == "ClusterNotFoundException"
    assert "ECS_CLUSTER (superset-typo)" in caught.value.next_action


def test_a_server_error_during_the_drain_wait_is_retried(
    ecs_engine: EcsEngine, ecs_standin: EcsStandIn, ecs_events: list[Event]
) -> None:
    ecs_deploy(ecs_engine, ecs_events)
    ecs_engine.delete_service(NAME)
    # clear_name's first look sees DRAINING; the next two polls inside the wait get a 500.
    for _ in range(2):
        ecs_standin.fail_next("DescribeServices", "ServerException", "Unavailable", after=1)

    ecs_engine.clear_name(NAME)

    assert ecs_standin.injected["DescribeServices"] == 2
    assert ecs_engine.service_state(NAME) is ServiceState.INACTIVE


# ----- finding and stopping ----------------------------------------------------------


def test_find_services_pages_through_list_and_describes_ten_at_a_time(
    ecs_engine: EcsEngine, ecs_standin: EcsStandIn, ecs_network: Network
) -> None:
    arn = ecs_engine.register_task_definition(1, SHA, "")
    for pr in range(1, 106):
        create(ecs_engine, pr, SHA, arn=arn, token=f"job-{pr}")
    ecs = boto3.client("ecs", region_name="us-west-2")
    for foreign in ("pr-999-aaaaaaa-service", "grafana"):  # untagged: not ours
        ecs.create_service(
            cluster="superset-ci",
            serviceName=foreign,
            taskDefinition=arn,
            desiredCount=0,
            launchType="FARGATE",
            networkConfiguration={
                "awsvpcConfiguration": {
                    "subnets": [ecs_network.subnet_id],
                    "securityGroups": [ecs_network.security_group_id],
                }
            },
        )
    ecs_standin.reset()

    everything = ecs_engine.find_services()

    assert len(everything) == 105
    assert {s.pr for s in everything} == set(range(1, 106))
    assert ecs_standin.calls["ListServices"] == 2  # 107 services, 100 a page
    assert ecs_standin.calls["DescribeServices"] == 11  # 106 "pr-" names, 10 a call

    ecs_standin.reset()
    assert len(ecs_engine.environment_names()) == 106  # every pr-…-service name, no describes
    assert ecs_standin.calls == {"ListServices": 2}

    ecs_standin.reset()
    one = ecs_engine.find_services(42)

    assert [s.name for s in one] == [service_name(42, SHA)]
    assert ecs_standin.calls["DescribeServices"] == 1


def test_delete_pr_environments_deletes_only_that_pr_and_never_waits(
    ecs_engine: EcsEngine, ecs_standin: EcsStandIn, ecs_events: list[Event], ecs_clock: FakeClock
) -> None:
    ecs_deploy(ecs_engine, ecs_events, sha="1111111")
    ecs_deploy(ecs_engine, ecs_events, sha="2222222", token="job-2")
    ecs_deploy(ecs_engine, ecs_events, pr=7, sha="3333333", token="job-3")
    before = ecs_clock.monotonic()

    deleted = ecs_engine.delete_pr_environments(36121)

    assert sorted(deleted) == [service_name(36121, "1111111"), service_name(36121, "2222222")]
    assert ecs_clock.monotonic() == before
    assert ecs_engine.service_state(service_name(36121, "1111111")) is ServiceState.DRAINING
    assert [s.sha for s in ecs_engine.find_services()] == ["3333333"]
    assert ecs_engine.delete_service(service_name(36121, "1111111")) is True  # still draining
    assert ecs_engine.delete_service("pr-1-fffffff-service") is False  # never existed


def test_redeploy_rolls_onto_the_new_revision_without_draining(
    ecs_engine: EcsEngine, ecs_standin: EcsStandIn, ecs_events: list[Event]
) -> None:
    ecs_deploy(ecs_engine, ecs_events)
    arn = ecs_engine.register_task_definition(36121, SHA, "FEATURE_TAGGING_SYSTEM=true")
    ecs_standin.reset()

    ecs_engine.redeploy(NAME, arn)
    ecs_engine.wait_stable(NAME)

    service = ecs_service()
    assert service["taskDefinition"] == arn
    assert [d["status"] for d in service["deployments"]] == ["PRIMARY"]
    assert ecs_standin.calls["DeleteService"] == 0
    ecs = boto3.client("ecs", region_name="us-west-2")
    running = ecs.list_tasks(cluster="superset-ci", serviceName=NAME)["taskArns"]
    assert len(running) == 1


# ----- reaching the environment --------------------------------------------------------


class _Superset(BaseHTTPRequestHandler):
    """A stand-in Superset that answers 503 while "starting", then 200."""

    answers: ClassVar[list[int]] = []

    def do_GET(self) -> None:
        status = self.answers.pop(0) if self.answers else 200
        self.send_response(status if self.path == "/health" else 404)
        self.end_headers()
        self.wfile.write(b"OK")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def ecs_superset() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Superset)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    thread.join()


def test_address_and_health_check_reach_a_local_superset(
    ecs_make_settings: EcsSettingsFactory,
    ecs_network: Network,
    ecs_standin: EcsStandIn,
    ecs_clock: FakeClock,
    ecs_superset: ThreadingHTTPServer,
    ecs_events: list[Event],
) -> None:
    port = ecs_superset.server_address[1]
    _Superset.answers = [503, 503]
    settings = ecs_make_settings(ecs_network, showtime_env_port=port)
    engine = EcsEngine(settings, clock=ecs_clock)
    ecs_deploy(engine, ecs_events)

    ip = engine.address(NAME)
    HttpHealthProbe(settings, ecs_clock).wait_healthy(
        f"http://{ip}:{port}/health", ecs_events.append
    )

    health = waiting(ecs_events, "health_check")
    assert ip == "127.0.0.1"
    assert [e.state for e in health] == ["HTTP 503"]
    assert _Superset.answers == []


def test_a_private_address_when_public_ips_are_disabled(
    ecs_engine_with: EngineFactory,
    ecs_standin: EcsStandIn,
    ecs_clock: FakeClock,
    ecs_events: list[Event],
) -> None:
    ecs_standin.private_ip = "10.0.1.99"
    engine = ecs_engine_with(ecs_assign_public_ip="DISABLED")

    ecs_deploy(engine, ecs_events)

    assert engine.address(NAME) == "10.0.1.99"


# ----- over loopback HTTP, as the sandbox runs it ----------------------------------------


def test_a_full_deploy_through_threaded_moto_server_over_loopback(
    ecs_make_settings: EcsSettingsFactory,
    aws_env: None,
    ecs_clock: FakeClock,
    ecs_events: list[Event],
) -> None:
    server, endpoint = start_server()
    try:
        with EcsStandIn(clock=ecs_clock, stable_seconds=10, public_ip="127.0.0.1") as standin:
            network = standin.setup_network(cluster="loopback-ci", endpoint_url=endpoint)
            settings = ecs_make_settings(network, aws_endpoint_url=endpoint)
            engine = EcsEngine(settings, clock=ecs_clock)

            ecs_deploy(engine, ecs_events)
            engine.delete_service(NAME)
            ecs_deploy(engine, ecs_events, token="job-2")

            assert endpoint.startswith("http://127.0.0.1:")
            assert standin.calls["CreateService"] == 2
            assert [s.name for s in engine.find_services(36121)] == [NAME]
            assert waiting(ecs_events, "clear_name")[0].state == "DRAINING"
    finally:
        server.stop()


# ----- sizes, for the cost estimate (SPEC §13) ----------------------------------------


def test_sizes_come_from_registering_or_one_describe_per_revision_ever(
    ecs_engine: EcsEngine, ecs_standin: EcsStandIn, ecs_settings: Settings, ecs_clock: FakeClock
) -> None:
    from bot.domain.cost import Size

    ours = ecs_engine.register_task_definition(36121, SHA, "")
    theirs = cli_revision(family="superset-ci-cli", cpu="1 vCPU", memory="4 GB")
    ecs_standin.reset()

    sizes = ecs_engine.task_sizes([ours, theirs, ours])
    assert sizes == {ours: Size(512, 2048), theirs: Size(1024, 4096)}
    assert ecs_standin.calls == {"DescribeTaskDefinition": 1}  # only the CLI's
    ecs_standin.reset()
    assert ecs_engine.task_sizes([theirs]) == {theirs: Size(1024, 4096)}
    assert ecs_standin.calls == {}  # a revision never changes: asked once per process
    assert ecs_engine.template_size() == Size(512, 2048)

    # One that cannot be described is left out, and not asked again for a while.
    gone = "arn:aws:ecs:us-west-2:123456789012:task-definition/gone:1"
    assert ecs_engine.task_sizes([gone, ours]) == {ours: Size(512, 2048)}
    assert ecs_engine.task_sizes([gone]) == {}
    assert ecs_standin.calls == {"DescribeTaskDefinition": 1}
    ecs_clock.advance(601)
    ecs_engine.task_sizes([gone])
    assert ecs_standin.calls == {"DescribeTaskDefinition": 2}


def test_found_services_carry_their_task_definition_and_public_ip(
    ecs_engine: EcsEngine, ecs_events: list[Event]
) -> None:
    ecs_deploy(ecs_engine, ecs_events)
    (service,) = ecs_engine.find_services()
    assert service.task_definition is not None
    assert service.task_definition.split("/")[-1] == "superset-ci-pr-36121:1"
    assert service.public_ip is True
