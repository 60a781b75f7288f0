"""ECS test support: a service created or deployed as the orchestrator does it, and a task
definition registered the way the superset-showtime CLI does (straight through boto3)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws

from bot.adapters.ecs import EcsEngine
from bot.clock import Clock
from bot.config import Settings
from bot.domain.events import Progress, no_progress
from bot.domain.naming import service_name
from bot.domain.requester import Requester
from bot.orchestrator.ports import EcsPort, Service
from bot.sandbox.aws import EcsStandIn, Network

REQUESTER = Requester.slack("U1")

EcsSettingsFactory = Callable[..., Settings]  # (network, **overrides) → settings
EngineFactory = Callable[..., EcsEngine]  # (**setting overrides) → an engine


@contextmanager
def ecs_on_moto(clock: Clock, **standin: Any) -> Iterator[tuple[EcsStandIn, Network]]:
    """moto in this process made to behave like ECS on ``clock``, and a network for the
    environments (use it under the ``aws_env`` fixture: fake credentials only)."""
    with mock_aws(), EcsStandIn(clock=clock, **standin) as ecs:
        yield ecs, ecs.setup_network()


def settings_on(network: Network, **overrides: Any) -> Settings:
    """Settings that point the bot at ``network`` (and nothing from the environment)."""
    values: dict[str, Any] = {
        "_env_file": None,
        "showtime_poll_seconds": 5.0,
        **network.settings(),
        **overrides,
    }
    return Settings(**values)


def create(
    ecs: EcsPort,
    pr: int,
    sha: str,
    *,
    arn: str | None = None,
    token: str | None = None,
    expires: Any = None,
    requested_by: Requester = REQUESTER,
    progress: Progress = no_progress,
) -> Service:
    """CreateService for ``pr``/``sha`` (on a task definition registered for it, unless
    ``arn`` names one); ``token`` is the job's idempotency token (one per PR and SHA)."""
    if arn is None:
        arn = ecs.register_task_definition(pr, sha, "", progress)
    return ecs.create_service(
        pr=pr,
        sha=sha,
        task_definition_arn=arn,
        requested_by=requested_by,
        expires=expires,
        client_token=token or f"job-{pr}-{sha[:7]}",
        progress=progress,
    )


def deploy(
    ecs: EcsPort,
    pr: int,
    sha: str,
    *,
    token: str | None = None,
    description: str = "",
    progress: Progress = no_progress,
) -> Service:
    """The orchestrator's ECS steps of a deploy, in its order (SPEC §6): register, clear the
    name, create, wait until stable, take the address."""
    arn = ecs.register_task_definition(pr, sha, description, progress)
    name = service_name(pr, sha)
    ecs.clear_name(name, progress)
    service = create(ecs, pr, sha, arn=arn, token=token, progress=progress)
    ecs.wait_stable(name, progress)
    ecs.address(name)
    return service


def template_file(directory: Path, template: dict[str, Any]) -> Path:
    """``template`` written where ECS_TASK_DEFINITION_FILE can name it."""
    path = directory / "task-definition.json"
    path.write_text(json.dumps(template))
    return path


def cli_revision(
    *,
    family: str = "superset-ci",
    cpu: str = "512",
    memory: str = "2048",
    container: dict[str, Any] | None = None,
) -> str:
    """A task definition registered by the superset-showtime CLI: the engine never saw it."""
    ecs = boto3.client("ecs", region_name="us-west-2")
    return str(
        ecs.register_task_definition(
            family=family,
            cpu=cpu,
            memory=memory,
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            containerDefinitions=[container or {"name": family, "image": "apache/superset:cli"}],
        )["taskDefinition"]["taskDefinitionArn"]
    )
