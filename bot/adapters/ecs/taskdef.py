"""The task definition an environment runs: the operator's template, made this PR's (SPEC §6).

Pure — a template in, ``RegisterTaskDefinition`` parameters and warnings for the
thread out — so each rule below is tested on its own, without AWS. The rules
decide what PR code runs with: its image, its feature flags, the port the health
check looks at, its own admin password (SPEC §15), the region its log goes to and the
execution role the settings name (SPEC §17), and (SPEC §12) no AWS credentials unless an
operator grants a role. ``load_template`` is the one part that reads a file.
"""

from __future__ import annotations

import copy
import json
import logging
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bot.domain.features import parse_feature_flags
from bot.errors import ConfigurationError

log = logging.getLogger(__name__)

# Keys a described task definition carries but RegisterTaskDefinition refuses,
# dropped so an operator can paste `aws ecs describe-task-definition` output as a template.
READ_ONLY_KEYS = frozenset(
    {
        "taskDefinitionArn",
        "revision",
        "status",
        "requiresAttributes",
        "compatibilities",
        "registeredAt",
        "registeredBy",
        "deregisteredAt",
        "tags",
    }
)

ADMIN_PASSWORD = "ADMIN_PASSWORD"  # read by Superset's docker/docker-init.sh (default: admin)
LOAD_EXAMPLES = "SUPERSET_LOAD_EXAMPLES"  # "yes": docker-init.sh loads the examples
PASSWORD_BYTES = 24  # secrets.token_urlsafe(24): 32 URL-safe characters (SPEC: at least 20)


def new_admin_password() -> str:
    """A fresh random admin password: URL-safe, so it survives a shell, a URL or JSON."""
    return secrets.token_urlsafe(PASSWORD_BYTES)


def app_environment(definition: Mapping[str, Any]) -> dict[str, str]:
    """The app container's (the first one's) environment, as name → value."""
    containers = definition.get("containerDefinitions") or [{}]
    return {
        str(entry.get("name")): str(entry.get("value", ""))
        for entry in containers[0].get("environment") or []
        if entry.get("name")
    }


def load_template(path: Path) -> dict[str, Any]:
    """The template in ``path`` (ECS_TASK_DEFINITION_FILE), with at least one container."""
    try:
        template = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(
            f"ECS_TASK_DEFINITION_FILE {path} cannot be read as JSON: {exc}",
            "fix the file or unset ECS_TASK_DEFINITION_FILE to use the bundled template",
        ) from exc
    containers = template.get("containerDefinitions") if isinstance(template, dict) else None
    if not containers or not isinstance(containers, list):
        raise ConfigurationError(
            f"ECS_TASK_DEFINITION_FILE {path} has no containerDefinitions",
            "add the Superset container to the template",
        )
    return template


def build_task_definition(
    template: Mapping[str, Any],
    *,
    pr: int,
    sha: str,
    image: str,
    description: str,
    env_port: int,
    task_role_arn: str | None,
    admin_password: str | None = None,
    log_region: str | None = None,
    execution_role_arn: str | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """RegisterTaskDefinition parameters for this PR, and warnings for its thread.

    ``template`` is what ``load_template`` returns; it is not changed. The family is
    ``<template family>-pr-<pr>`` (``superset-ci-pr-36121``), so the revisions of one
    PR line up together instead of interleaving every PR's images in one family. The
    image goes into the first container (the app); feature flags from the
    description replace any same-named variable of the template.

    ``admin_password`` becomes the app's ``ADMIN_PASSWORD``, replacing the template's, set
    last so nothing a PR description says can replace it. ``log_region`` replaces every
    container's ``awslogs-region`` (the log lives where the bot runs, whatever the template
    was copied from); ``execution_role_arn`` replaces ``executionRoleArn``. None leaves the
    template's own.
    """
    body = {k: v for k, v in copy.deepcopy(dict(template)).items() if k not in READ_ONLY_KEYS}
    body["family"] = f"{template.get('family') or 'superset-ci'}-pr-{pr}"
    _set_task_role(body, task_role_arn)
    body["tags"] = [
        {"key": "showtime_managed", "value": "true"},
        {"key": "pr", "value": str(pr)},
        {"key": "sha", "value": sha[:7]},
    ]
    app = body["containerDefinitions"][0]
    app["image"] = image

    warnings: list[str] = []
    flags = parse_feature_flags(description)
    if summary := flags.warning_summary():
        warnings.append(summary)  # one reply for them all, however many lines
    replaced = {entry["name"]: entry for entry in flags.environment()}
    if admin_password is not None:  # last: nothing a PR description says replaces it
        replaced[ADMIN_PASSWORD] = {"name": ADMIN_PASSWORD, "value": admin_password}
    kept = [e for e in app.get("environment") or [] if e.get("name") not in replaced]
    app["environment"] = kept + list(replaced.values())
    if log_region is not None:
        _log_to(body["containerDefinitions"], log_region)
    if execution_role_arn is not None:
        body["executionRoleArn"] = execution_role_arn

    if port_warning := _serve_on(app, env_port):
        warnings.append(port_warning)
    return body, warnings


def _set_task_role(body: dict[str, Any], task_role_arn: str | None) -> None:
    """No task role unless ECS_TASK_ROLE_ARN names one (SPEC §12): the role's credentials
    are served to every process of the task, which runs PR code, so whoever opens a PR could
    read them from the task metadata endpoint. A role in the template is dropped as well:
    templates copied from the CLI (or this bot's own, once) name the execution role there,
    and one setting whose default is "none" is easier to audit than a file that may say
    otherwise."""
    if body.pop("taskRoleArn", None) and not task_role_arn:
        log.warning(
            "ECS_TASK_DEFINITION_FILE names a task role; "
            "environments get none unless ECS_TASK_ROLE_ARN is set"
        )
    if task_role_arn:
        body["taskRoleArn"] = task_role_arn


def _log_to(containers: list[dict[str, Any]], region: str) -> None:
    """Send every ``awslogs`` container's log to ``region`` (AWS_REGION, SPEC §17)."""
    for container in containers:
        config = container.get("logConfiguration") or {}
        if config.get("logDriver") == "awslogs":
            config.setdefault("options", {})["awslogs-region"] = region


def _serve_on(app: dict[str, Any], port: int) -> str | None:
    """Make the app container serve on ``port`` (SHOWTIME_ENV_PORT), where the health check looks.

    With one port mapping (the bundled template) the mapping and ``SUPERSET_PORT``
    follow the setting; a template with several mappings, none of them on that
    port, is left alone, and the warning returned.
    """
    mappings = app.get("portMappings") or []
    if not mappings or any(m.get("containerPort") == port for m in mappings):
        return None
    if len(mappings) > 1:
        ports = [m.get("containerPort") for m in mappings]
        return (
            f"the task definition maps ports {ports}, none of them SHOWTIME_ENV_PORT "
            f"({port}): the health check will probably fail"
        )
    mappings[0]["containerPort"] = port
    if "hostPort" in mappings[0]:
        mappings[0]["hostPort"] = port  # awsvpc requires hostPort == containerPort
    for entry in app.get("environment") or []:
        if entry.get("name") == "SUPERSET_PORT":
            entry["value"] = str(port)
    return None
