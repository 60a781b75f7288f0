"""Each environment's own admin password, read back from its task definition (SPEC §15),
and the template following the settings (SPEC §17): against moto behaving like ECS.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from ecs_support import EcsSettingsFactory, EngineFactory, cli_revision, template_file

from bot.adapters.ecs import EcsEngine, EcsError, make_clients
from bot.adapters.ecs.taskdef import app_environment, load_template
from bot.clock import FakeClock
from bot.config import BUNDLED_TASK_DEFINITION, Settings
from bot.domain.events import Event
from bot.logs import setup_logging
from bot.orchestrator.ports import AdminLogin
from bot.sandbox.aws import EcsStandIn, Network

SHA = "abc1234def5678"
MOTO_ACCOUNT = "123456789012"  # moto's documentation account: never a real one
URL_SAFE = re.compile(r"[A-Za-z0-9_-]+")


def described(arn: str) -> dict[str, Any]:
    ecs = boto3.client("ecs", region_name="us-west-2")
    definition: dict[str, Any] = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
    return definition


def engine_for(settings: Settings, clock: FakeClock, **clients: Any) -> EcsEngine:
    ecs, ec2 = make_clients(settings, max_attempts=0)
    return EcsEngine(settings, ecs_client=ecs, ec2_client=ec2, clock=clock, **clients)


class CountingSts:
    """An STS client that answers like moto's and counts the questions."""

    def __init__(self) -> None:
        self.asked = 0

    def get_caller_identity(self) -> dict[str, str]:
        self.asked += 1
        return {
            "Account": MOTO_ACCOUNT,
            "Arn": f"arn:aws:sts::{MOTO_ACCOUNT}:assumed-role/showtime-bot/session",
        }


# ----- one password per environment ---------------------------------------------------------


def test_each_registration_gets_a_fresh_random_password_in_the_app_container(
    ecs_engine: EcsEngine,
) -> None:
    first = app_environment(described(ecs_engine.register_task_definition(36121, SHA, "")))
    second = app_environment(described(ecs_engine.register_task_definition(36121, SHA, "")))

    for environment in (first, second):
        assert len(environment["ADMIN_PASSWORD"]) >= 20
        assert URL_SAFE.fullmatch(environment["ADMIN_PASSWORD"])
    assert first["ADMIN_PASSWORD"] != second["ADMIN_PASSWORD"]


def test_the_registering_process_knows_the_login_without_asking_ecs(
    ecs_engine: EcsEngine, ecs_standin: EcsStandIn
) -> None:
    arn = ecs_engine.register_task_definition(36121, SHA, "")
    password = app_environment(described(arn))["ADMIN_PASSWORD"]
    ecs_standin.reset()

    login = ecs_engine.admin_login(arn)

    assert login == AdminLogin("admin", password, generated=True, examples=True)
    assert ecs_standin.calls == {}


def test_another_process_reads_it_back_with_one_describe_shared_with_the_cost_estimate(
    ecs_engine: EcsEngine, ecs_settings: Settings, ecs_clock: FakeClock, ecs_standin: EcsStandIn
) -> None:
    arn = ecs_engine.register_task_definition(36121, SHA, "")
    password = app_environment(described(arn))["ADMIN_PASSWORD"]
    restarted = engine_for(ecs_settings, ecs_clock)  # e.g. a job resumed after a restart
    ecs_standin.reset()

    assert restarted.admin_login(arn).password == password
    assert restarted.admin_login(arn).password == password
    assert arn in restarted.task_sizes([arn])

    assert ecs_standin.calls == {"DescribeTaskDefinition": 1}  # a revision never changes


def test_a_revision_without_admin_password_is_the_clis_admin_admin(
    ecs_engine: EcsEngine,
) -> None:
    theirs = cli_revision(
        container={
            "name": "superset-ci",
            "image": "apache/superset:pr-36121-abc1234-ci",
            "environment": [{"name": "SUPERSET_LOAD_EXAMPLES", "value": "no"}],
        }
    )

    login = ecs_engine.admin_login(theirs)

    assert login == AdminLogin("admin", "admin", generated=False, examples=False)


def test_the_password_is_not_in_the_logins_repr(ecs_engine: EcsEngine) -> None:
    arn = ecs_engine.register_task_definition(36121, SHA, "")
    login = ecs_engine.admin_login(arn)

    assert login.password not in repr(login)
    assert login.password not in str(login)


def test_a_template_password_and_a_pr_description_cannot_set_it(
    ecs_engine_with: EngineFactory, tmp_path: Path
) -> None:
    template = load_template(BUNDLED_TASK_DEFINITION)
    template["containerDefinitions"][0]["environment"].append(
        {"name": "ADMIN_PASSWORD", "value": "admin"}
    )
    engine = ecs_engine_with(ecs_task_definition_file=template_file(tmp_path, template))

    arn = engine.register_task_definition(36121, SHA, "FEATURE_ADMIN_PASSWORD=true\n")

    environment = described(arn)["containerDefinitions"][0]["environment"]
    passwords = [e["value"] for e in environment if e["name"] == "ADMIN_PASSWORD"]
    assert len(passwords) == 1 and passwords[0] != "admin"
    assert engine.admin_login(arn).password == passwords[0]


@pytest.fixture
def bot_log() -> Iterator[Callable[[], str]]:
    """The bot's own logging set-up at DEBUG (LOG_LEVEL=DEBUG): what it writes, as text."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    noisy = {name: logging.getLogger(name).level for name in ("botocore", "boto3", "urllib3")}
    setup_logging("DEBUG", "text")
    written = io.StringIO()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(written)
    try:
        yield written.getvalue
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
        for name, was in noisy.items():
            logging.getLogger(name).setLevel(was)


def test_the_password_reaches_no_log_line_and_no_event(
    ecs_engine: EcsEngine, ecs_events: list[Event], bot_log: Callable[[], str]
) -> None:
    arn = ecs_engine.register_task_definition(
        36121, SHA, "FEATURE_NOT_A_FLAG=maybe\n", ecs_events.append
    )
    password = ecs_engine.admin_login(arn).password

    written = bot_log()
    assert "ECS_EXECUTION_ROLE_ARN ecsTaskExecutionRole is arn:aws:iam::" in written  # it logs
    assert ecs_events  # the feature-flag warning: something was reported
    assert password not in written
    assert all(password not in repr(event) for event in ecs_events)


def test_a_failed_registration_quotes_no_password(
    ecs_engine: EcsEngine, ecs_standin: EcsStandIn, bot_log: Callable[[], str]
) -> None:
    ecs_standin.fail_next("RegisterTaskDefinition", "ClientException", "Invalid setting")

    with pytest.raises(EcsError) as caught:
        ecs_engine.register_task_definition(36121, SHA, "")

    assert "RegisterTaskDefinition" in str(caught.value)
    assert "ADMIN_PASSWORD" not in str(caught.value) + caught.value.next_action + bot_log()


def test_admin_login_of_a_revision_ecs_does_not_know_fails_with_the_aws_error(
    ecs_engine: EcsEngine,
) -> None:
    gone = f"arn:aws:ecs:us-west-2:{MOTO_ACCOUNT}:task-definition/superset-ci-pr-1:9"

    with pytest.raises(EcsError) as caught:
        ecs_engine.admin_login(gone)

    assert caught.value.operation == "DescribeTaskDefinition"


# ----- a cancelled deploy deregisters what it registered --------------------------------------


def test_deregistering_is_idempotent(ecs_engine: EcsEngine) -> None:
    arn = ecs_engine.register_task_definition(36121, SHA, "")

    ecs_engine.deregister_task_definition(arn)
    ecs_engine.deregister_task_definition(arn)
    ecs_engine.deregister_task_definition(arn.rsplit(":", 1)[0] + ":99")  # never registered

    assert described(arn)["status"] == "INACTIVE"
    assert ecs_engine.admin_login(arn).generated  # still readable while its task runs down


def test_a_refused_deregistration_of_a_live_revision_is_an_error(
    ecs_engine: EcsEngine, ecs_standin: EcsStandIn
) -> None:
    arn = ecs_engine.register_task_definition(36121, SHA, "")
    ecs_standin.fail_next(
        "DeregisterTaskDefinition", "AccessDeniedException", "not authorized", 400
    )

    with pytest.raises(EcsError) as caught:
        ecs_engine.deregister_task_definition(arn)

    assert caught.value.code == "AccessDeniedException"
    assert "ecs:DeregisterTaskDefinition" in caught.value.next_action
    assert described(arn)["status"] == "ACTIVE"


# ----- the template follows the settings (SPEC §17) -----------------------------------------


def test_the_execution_role_name_becomes_an_arn_of_the_bots_account_asked_once(
    ecs_settings: Settings, ecs_clock: FakeClock
) -> None:
    sts = CountingSts()
    engine = engine_for(ecs_settings, ecs_clock, sts_client=sts)
    assert sts.asked == 0  # nothing is asked at start-up

    first = engine.register_task_definition(36121, SHA, "")
    second = engine.register_task_definition(36122, SHA, "")

    expected = f"arn:aws:iam::{MOTO_ACCOUNT}:role/ecsTaskExecutionRole"
    assert described(first)["executionRoleArn"] == expected
    assert described(second)["executionRoleArn"] == expected
    assert sts.asked == 1


def test_moto_answers_the_account_too(ecs_engine: EcsEngine) -> None:
    """Without an injected client the engine makes its own STS client, lazily."""
    arn = ecs_engine.register_task_definition(36121, SHA, "")

    assert described(arn)["executionRoleArn"] == (
        f"arn:aws:iam::{MOTO_ACCOUNT}:role/ecsTaskExecutionRole"
    )


def test_an_execution_role_arn_is_used_as_it_is(
    ecs_make_settings: EcsSettingsFactory, ecs_network: Network, ecs_clock: FakeClock
) -> None:
    role = f"arn:aws:iam::{MOTO_ACCOUNT}:role/showtime/execution"
    sts = CountingSts()
    engine = engine_for(
        ecs_make_settings(ecs_network, ecs_execution_role_arn=role), ecs_clock, sts_client=sts
    )

    assert described(engine.register_task_definition(36121, SHA, ""))["executionRoleArn"] == role
    assert sts.asked == 0


def test_the_log_goes_to_the_bots_region_whatever_the_template_says(
    ecs_engine_with: EngineFactory, ecs_network: Network, tmp_path: Path
) -> None:
    template = load_template(BUNDLED_TASK_DEFINITION)
    options = template["containerDefinitions"][0]["logConfiguration"]["options"]
    options["awslogs-region"] = "eu-central-1"  # copied from another account's setup
    engine = ecs_engine_with(ecs_task_definition_file=template_file(tmp_path, template))

    arn = engine.register_task_definition(36121, SHA, "")

    registered = described(arn)["containerDefinitions"][0]["logConfiguration"]["options"]
    assert registered["awslogs-region"] == ecs_network.region == "us-west-2"
    assert registered["awslogs-group"] == "/ecs/superset-ci"


def test_the_bundled_template_follows_the_clis_sqlite_examples_and_four_single_threaded_workers(
    ecs_engine: EcsEngine,
) -> None:
    environment = app_environment(described(ecs_engine.register_task_definition(36121, SHA, "")))

    assert environment["SUPERSET_LOAD_EXAMPLES"] == "yes"
    assert environment["SUPERSET__SQLALCHEMY_EXAMPLES_URI"] == "sqlite:////tmp/examples.db"
    assert environment["SERVER_WORKER_AMOUNT"] == "4"
    assert environment["SERVER_THREADS_AMOUNT"] == "1"
    assert not any("duckdb" in value for value in environment.values())
