"""The task definition builder's rules, one by one, on plain dicts (no AWS, no settings).

What ECS finally registers is checked against moto in test_ecs_standin.py and
test_task_role.py; the thread's one feature-flag warning in test_feature_flag_warning.py.
"""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.ecs.taskdef import READ_ONLY_KEYS, build_task_definition, load_template
from bot.config import BUNDLED_TASK_DEFINITION
from bot.errors import ConfigurationError

SHA = "abc1234def5678"
IMAGE = "apache/superset:pr-36121-abc1234-ci"
ROLE = "arn:aws:iam::123456789012:role/showtime-environments"


def template(**top: Any) -> dict[str, Any]:
    """A small template like the bundled one: an app container on 8080, and a sidecar."""
    return {
        "family": "superset-ci",
        "networkMode": "awsvpc",
        "cpu": "512",
        "memory": "2048",
        "executionRoleArn": "ecsTaskExecutionRole",
        "containerDefinitions": [
            {
                "name": "superset-ci",
                "image": "apache/superset:latest",
                "portMappings": [{"containerPort": 8080, "hostPort": 8080}],
                "environment": [
                    {"name": "SUPERSET_PORT", "value": "8080"},
                    {"name": "SUPERSET_FEATURE_ALERTS", "value": "False"},
                    {"name": "SUPERSET_LOG_LEVEL", "value": "INFO"},
                ],
            },
            {"name": "sidecar", "image": "busybox:1"},
        ],
        **top,
    }


def build(
    source: dict[str, Any] | None = None,
    *,
    description: str = "",
    env_port: int = 8080,
    task_role_arn: str | None = None,
) -> tuple[dict[str, Any], list[str]]:
    return build_task_definition(
        template() if source is None else source,
        pr=36121,
        sha=SHA,
        image=IMAGE,
        description=description,
        env_port=env_port,
        task_role_arn=task_role_arn,
    )


def app(params: dict[str, Any]) -> dict[str, Any]:
    first: dict[str, Any] = params["containerDefinitions"][0]
    return first


def env(params: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in app(params)["environment"]}


# ----- family, image, tags ------------------------------------------------------------


def test_the_family_is_the_templates_with_the_pr_number() -> None:
    params, warnings = build()

    assert params["family"] == "superset-ci-pr-36121"
    assert warnings == []


def test_a_template_without_a_family_gets_superset_ci() -> None:
    source = template()
    del source["family"]

    assert build(source)[0]["family"] == "superset-ci-pr-36121"


def test_the_image_goes_into_the_first_container_only() -> None:
    params, _ = build()

    assert app(params)["image"] == IMAGE
    assert params["containerDefinitions"][1]["image"] == "busybox:1"


def test_the_definition_is_tagged_with_the_pr_and_short_sha() -> None:
    params, _ = build()

    assert params["tags"] == [
        {"key": "showtime_managed", "value": "true"},
        {"key": "pr", "value": "36121"},
        {"key": "sha", "value": "abc1234"},
    ]


def test_the_rest_of_the_template_is_kept() -> None:
    params, _ = build()

    assert (params["networkMode"], params["cpu"], params["memory"]) == ("awsvpc", "512", "2048")
    assert params["executionRoleArn"] == "ecsTaskExecutionRole"  # pulling and logging work


def test_the_template_itself_is_not_changed() -> None:
    source = template(taskRoleArn="ecsTaskExecutionRole")
    before = copy.deepcopy(source)

    build(source, description="FEATURE_ALERTS=true", env_port=9000)

    assert source == before


# ----- read-only keys of a described task definition -----------------------------------


def test_a_pasted_describe_task_definition_output_registers() -> None:
    described = template(
        taskDefinitionArn="arn:aws:ecs:us-west-2:123456789012:task-definition/superset-ci:7",
        revision=7,
        status="ACTIVE",
        requiresAttributes=[{"name": "com.amazonaws.ecs.capability.logging-driver.awslogs"}],
        compatibilities=["EC2", "FARGATE"],
        registeredAt="2026-01-15T12:00:00Z",
        registeredBy="arn:aws:iam::123456789012:user/ops",
        deregisteredAt="2026-01-16T12:00:00Z",
        tags=[{"key": "team", "value": "ops"}],
    )

    params, _ = build(described)

    assert not (READ_ONLY_KEYS - {"tags"}) & params.keys()
    assert {"key": "team", "value": "ops"} not in params["tags"]  # ours replace the template's


# ----- feature flags ----------------------------------------------------------------------


def test_flags_from_the_description_replace_same_named_variables() -> None:
    params, warnings = build(
        description="Adds alerts.\n\nFEATURE_ALERTS=true\nFEATURE_TAGGING_SYSTEM=1"
    )

    variables = app(params)["environment"]
    assert [v["name"] for v in variables].count("SUPERSET_FEATURE_ALERTS") == 1
    assert env(params) == {
        "SUPERSET_PORT": "8080",
        "SUPERSET_LOG_LEVEL": "INFO",
        "SUPERSET_FEATURE_ALERTS": "True",
        "SUPERSET_FEATURE_TAGGING_SYSTEM": "True",
    }
    assert warnings == []


def test_bad_flag_lines_make_one_summary_warning_and_the_good_ones_still_apply() -> None:
    params, warnings = build(description="FEATURE_ALERTS=perhaps\nFEATURE_X=no")

    assert len(warnings) == 1
    assert warnings[0].startswith("Feature flags: 1 line of the PR description needs a look")
    assert "`FEATURE_ALERTS=perhaps` skipped" in warnings[0]
    assert env(params)["SUPERSET_FEATURE_X"] == "False"
    assert env(params)["SUPERSET_FEATURE_ALERTS"] == "False"  # the template's value stays


# ----- the port the health check looks at -------------------------------------------------


def test_one_port_mapping_and_superset_port_follow_the_env_port() -> None:
    params, warnings = build(env_port=9000)

    assert app(params)["portMappings"] == [{"containerPort": 9000, "hostPort": 9000}]
    assert env(params)["SUPERSET_PORT"] == "9000"
    assert warnings == []


def test_a_mapping_without_host_port_gets_none_added() -> None:
    source = template()
    source["containerDefinitions"][0]["portMappings"] = [{"containerPort": 8088}]

    params, _ = build(source, env_port=9000)

    assert app(params)["portMappings"] == [{"containerPort": 9000}]


def test_a_mapping_already_on_the_env_port_is_left_alone() -> None:
    source = template()
    source["containerDefinitions"][0]["portMappings"] = [
        {"containerPort": 8088, "hostPort": 8088},
        {"containerPort": 9000, "hostPort": 9000},
    ]

    params, warnings = build(source, env_port=9000)

    assert app(params)["portMappings"] == source["containerDefinitions"][0]["portMappings"]
    assert env(params)["SUPERSET_PORT"] == "8080"
    assert warnings == []


def test_several_mappings_none_on_the_env_port_are_left_alone_with_a_warning() -> None:
    source = template()
    mappings = [{"containerPort": 8088, "hostPort": 8088}, {"containerPort": 5555}]
    source["containerDefinitions"][0]["portMappings"] = mappings

    params, warnings = build(source, env_port=9000)

    assert app(params)["portMappings"] == mappings
    assert warnings == [
        "the task definition maps ports [8088, 5555], none of them SHOWTIME_ENV_PORT (9000): "
        "the health check will probably fail"
    ]


def test_a_container_without_port_mappings_is_left_alone() -> None:
    source = template()
    del source["containerDefinitions"][0]["portMappings"]

    params, warnings = build(source, env_port=9000)

    assert "portMappings" not in app(params)
    assert warnings == []


# ----- the task role (SPEC §12) -------------------------------------------------------


def test_no_task_role_by_default() -> None:
    assert "taskRoleArn" not in build()[0]


def test_ecs_task_role_arn_sets_the_task_role() -> None:
    assert build(task_role_arn=ROLE)[0]["taskRoleArn"] == ROLE


def test_a_templates_own_task_role_is_dropped_with_a_log_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.adapters.ecs.taskdef")

    params, warnings = build(template(taskRoleArn="ecsTaskExecutionRole"))

    assert "taskRoleArn" not in params
    assert warnings == []  # the operator's business, not the PR thread's
    assert "ECS_TASK_ROLE_ARN" in caplog.text


def test_ecs_task_role_arn_replaces_a_templates_task_role_without_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.adapters.ecs.taskdef")

    params, _ = build(template(taskRoleArn="ecsTaskExecutionRole"), task_role_arn=ROLE)

    assert params["taskRoleArn"] == ROLE
    assert caplog.text == ""


# ----- the template file ------------------------------------------------------------------


def test_the_bundled_template_loads() -> None:
    loaded = load_template(BUNDLED_TASK_DEFINITION)

    assert loaded["family"] == "superset-ci"
    assert "taskRoleArn" not in loaded


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        ("{not json", "cannot be read as JSON"),
        (json.dumps({"family": "superset-ci"}), "has no containerDefinitions"),
        (json.dumps({"containerDefinitions": []}), "has no containerDefinitions"),
        (json.dumps(["a list"]), "has no containerDefinitions"),
    ],
)
def test_an_unusable_template_file_is_a_configuration_error_naming_it(
    tmp_path: Path, content: str, complaint: str
) -> None:
    path = tmp_path / "task-definition.json"
    path.write_text(content)

    with pytest.raises(ConfigurationError) as caught:
        load_template(path)

    assert f"ECS_TASK_DEFINITION_FILE {path} {complaint}" in str(caught.value)
    assert caught.value.next_action  # what to do about it
