"""The task definition builder's password, log region and execution role, on plain dicts
(SPEC §15, §17). What ECS finally registers is in test_ecs_credentials.py.
"""

from __future__ import annotations

from typing import Any

from bot.adapters.ecs.taskdef import (
    app_environment,
    build_task_definition,
    load_template,
    new_admin_password,
)
from bot.config import BUNDLED_TASK_DEFINITION

ROLE = "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"


def template() -> dict[str, Any]:
    return {
        "family": "superset-ci",
        "executionRoleArn": "someOtherRole",
        "containerDefinitions": [
            {
                "name": "superset-ci",
                "image": "apache/superset:latest",
                "environment": [
                    {"name": "ADMIN_PASSWORD", "value": "admin"},
                    {"name": "SUPERSET_LOAD_EXAMPLES", "value": "yes"},
                ],
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {"awslogs-group": "/ecs/superset-ci", "awslogs-region": "eu-west-1"},
                },
            },
            {
                "name": "sidecar",
                "image": "busybox:1",
                "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/x"}},
            },
            {"name": "quiet", "image": "busybox:1"},
        ],
    }


def build(**options: Any) -> dict[str, Any]:
    params, _ = build_task_definition(
        template(),
        pr=36121,
        sha="abc1234def",
        image="apache/superset:pr-36121-abc1234-ci",
        description="FEATURE_DASHBOARD_RBAC=true\n",
        env_port=8080,
        task_role_arn=None,
        **options,
    )
    return params


def test_the_password_replaces_the_templates_and_comes_last() -> None:
    params = build(admin_password="fresh-password-0123456789")

    environment = params["containerDefinitions"][0]["environment"]
    assert [e for e in environment if e["name"] == "ADMIN_PASSWORD"] == [
        {"name": "ADMIN_PASSWORD", "value": "fresh-password-0123456789"}
    ]
    assert environment[-1]["name"] == "ADMIN_PASSWORD"
    assert app_environment(params)["SUPERSET_FEATURE_DASHBOARD_RBAC"] == "True"


def test_every_awslogs_container_logs_to_the_bots_region() -> None:
    params = build(log_region="us-west-2")

    containers = params["containerDefinitions"]
    assert containers[0]["logConfiguration"]["options"]["awslogs-region"] == "us-west-2"
    assert containers[1]["logConfiguration"]["options"]["awslogs-region"] == "us-west-2"
    assert "logConfiguration" not in containers[2]


def test_the_execution_role_is_the_settings() -> None:
    assert build(execution_role_arn=ROLE)["executionRoleArn"] == ROLE


def test_without_them_the_template_is_kept() -> None:
    params = build()

    assert app_environment(params)["ADMIN_PASSWORD"] == "admin"
    assert params["executionRoleArn"] == "someOtherRole"
    options = params["containerDefinitions"][0]["logConfiguration"]["options"]
    assert options["awslogs-region"] == "eu-west-1"


def test_passwords_are_long_url_safe_and_new_each_time() -> None:
    made = {new_admin_password() for _ in range(50)}

    assert len(made) == 50
    assert all(len(p) >= 20 and p.replace("-", "").replace("_", "").isalnum() for p in made)


def test_the_bundled_template_has_no_password_of_its_own() -> None:
    """Every environment's comes from the registration; a fixed one would be everyone's."""
    assert "ADMIN_PASSWORD" not in app_environment(load_template(BUNDLED_TASK_DEFINITION))
