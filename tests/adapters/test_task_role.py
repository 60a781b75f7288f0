"""Environments get no task role, so PR code gets no AWS credentials (SPEC §12, §4).

A task role's credentials are served to every process of the task from the task
metadata endpoint; the task runs PR code. ``ECS_TASK_ROLE_ARN`` alone gives one.
"""

from __future__ import annotations

import json
from pathlib import Path

import boto3
from ecs_support import EcsSettingsFactory

from bot.adapters.ecs import EcsEngine
from bot.clock import FakeClock
from bot.config import Settings
from bot.sandbox.aws import Network

SHA = "abc1234def5678"
ROLE = "arn:aws:iam::123456789012:role/showtime-environments"


def _registered(engine: EcsEngine) -> dict[str, object]:
    arn = engine.register_task_definition(36121, SHA, "")
    ecs = boto3.client("ecs", region_name="us-west-2")
    definition: dict[str, object] = ecs.describe_task_definition(taskDefinition=arn)[
        "taskDefinition"
    ]
    return definition


def test_environments_get_no_task_role_by_default(
    ecs_settings: Settings, ecs_clock: FakeClock
) -> None:
    definition = _registered(EcsEngine(ecs_settings, clock=ecs_clock))

    assert "taskRoleArn" not in definition
    assert definition["executionRoleArn"]  # pulling the image and logging still work


def test_ecs_task_role_arn_sets_the_task_role(
    ecs_make_settings: EcsSettingsFactory, ecs_network: Network, ecs_clock: FakeClock
) -> None:
    settings = ecs_make_settings(ecs_network, ecs_task_role_arn=ROLE)

    definition = _registered(EcsEngine(settings, clock=ecs_clock))

    assert definition["taskRoleArn"] == ROLE


def test_a_template_naming_a_task_role_gets_none_without_the_setting(
    ecs_make_settings: EcsSettingsFactory,
    ecs_network: Network,
    ecs_clock: FakeClock,
    tmp_path: Path,
) -> None:
    # A template copied from the CLI (or from this bot's old bundled one) names the
    # execution role as task role; only ECS_TASK_ROLE_ARN may hand out credentials.
    bundled = json.loads(ecs_make_settings(ecs_network).ecs_task_definition_file.read_text())
    template = tmp_path / "task-definition.json"
    template.write_text(json.dumps({**bundled, "taskRoleArn": "ecsTaskExecutionRole"}))
    plain = ecs_make_settings(ecs_network, ecs_task_definition_file=template)
    chosen = ecs_make_settings(
        ecs_network, ecs_task_definition_file=template, ecs_task_role_arn=ROLE
    )

    assert "taskRoleArn" not in _registered(EcsEngine(plain, clock=ecs_clock))
    assert _registered(EcsEngine(chosen, clock=ecs_clock))["taskRoleArn"] == ROLE


def test_the_bundled_template_names_no_task_role() -> None:
    from bot.config import BUNDLED_TASK_DEFINITION

    assert "taskRoleArn" not in json.loads(BUNDLED_TASK_DEFINITION.read_text())
