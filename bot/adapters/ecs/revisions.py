"""Task definition revisions: registering them, and what never changes about them (SPEC §13, §15, §17).

A registered revision is immutable, so what the bot needs from one — its size for the cost
estimate, the admin login of the environment that runs it — is read once per process and
kept: the revisions this process registers are known without asking, one made elsewhere
(the superset-showtime CLI's, or before a restart) costs one ``DescribeTaskDefinition``.

Each registration gets a fresh admin password (``ADMIN_PASSWORD``, which Superset's
``docker-init.sh`` gives the ``admin`` user). It lives in the revision and in this cache,
never in a log line, an error text, a label or the job store: whoever needs it holds the
ARN and asks ``admin_login``. A revision without one is the CLI's, whose environments keep
Superset's default ``admin``/``admin``.

The execution role comes from ``ECS_EXECUTION_ROLE_ARN``; a bare name becomes an ARN in the
bot's own account, which ``sts:GetCallerIdentity`` tells once, at the first registration
(never at start-up: start-up makes no AWS call).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from bot.adapters.ecs.calls import AwsCalls
from bot.adapters.ecs.errors import EcsError
from bot.adapters.ecs.taskdef import (
    ADMIN_PASSWORD,
    LOAD_EXAMPLES,
    app_environment,
    build_task_definition,
    load_template,
    new_admin_password,
)
from bot.clock import Clock
from bot.config import Settings
from bot.domain.cost import Size, parse_cpu, parse_memory
from bot.domain.events import Progress, Warning, no_progress
from bot.errors import ConfigurationError
from bot.orchestrator.ports import AdminLogin

log = logging.getLogger(__name__)

RETRY_SECONDS = 600.0  # a revision that could not be described is asked again after this
DEFAULT_LOGIN = ("admin", "admin")  # docker-init.sh without ADMIN_PASSWORD


@dataclass(frozen=True)
class Revision:
    """What the bot needs from one revision; none of it changes once it is registered."""

    size: Size | None
    login: AdminLogin


class TaskDefinitions:
    """Registers, describes and deregisters revisions; keeps what it learns (thread-safe)."""

    def __init__(
        self,
        settings: Settings,
        aws: AwsCalls,
        clock: Clock,
        *,
        sts: Callable[[], AwsCalls],
    ) -> None:
        self._settings = settings
        self._aws = aws
        self._clock = clock
        self._sts = sts  # made on first use: no client, no call, until a registration
        self._known: dict[str, Revision] = {}
        self._failed: dict[str, float] = {}  # ARN → when describing it failed (monotonic)
        self._lock = threading.Lock()
        self._role_arn: str | None = None
        self._role_lock = threading.Lock()

    # ----- registering ----------------------------------------------------------------

    def register(
        self, pr: int, sha: str, image: str, description: str, progress: Progress = no_progress
    ) -> str:
        """Register this PR's revision with a new admin password; its ARN."""
        params, warnings = build_task_definition(
            load_template(self._settings.ecs_task_definition_file),
            pr=pr,
            sha=sha,
            image=image,
            description=description,
            env_port=self._settings.showtime_env_port,
            task_role_arn=self._settings.ecs_task_role_arn,
            admin_password=new_admin_password(),
            log_region=self._settings.aws_region,
            execution_role_arn=self.execution_role_arn(),
        )
        for text in warnings:
            progress(Warning(text))
        response = self._aws.call("RegisterTaskDefinition", params["family"], **params)
        registered = response["taskDefinition"]
        arn: str = registered["taskDefinitionArn"]
        revision = Revision(_size_of(registered) or _size_of(params), _login_of(params))
        with self._lock:
            self._known[arn] = revision
        return arn

    def execution_role_arn(self) -> str:
        """ECS_EXECUTION_ROLE_ARN as an ARN: a name is a role of the caller's own account."""
        role = self._settings.ecs_execution_role_arn
        if role.startswith("arn:"):
            return role
        with self._role_lock:
            if self._role_arn is None:
                caller = self._sts().call("GetCallerIdentity", "the bot's AWS identity")
                partition = str(caller.get("Arn") or "arn:aws").split(":")[1] or "aws"
                self._role_arn = f"arn:{partition}:iam::{caller['Account']}:role/{role}"
                log.info("ECS_EXECUTION_ROLE_ARN %s is %s", role, self._role_arn)
            return self._role_arn

    def deregister(self, arn: str) -> None:
        """Deregister ``arn``; one already INACTIVE, or unknown to ECS, needs nothing.

        What ECS answers for a revision deregistered before varies (it may refuse), so a
        refusal is judged by what DescribeTaskDefinition says now, not by its wording.
        """
        try:
            self._aws.call("DeregisterTaskDefinition", arn, taskDefinition=arn)
        except EcsError as refused:
            if refused.transient or not self._gone(arn):
                raise
            log.info("%s was already deregistered", arn)

    def _gone(self, arn: str) -> bool:
        try:
            described = self._aws.call("DescribeTaskDefinition", arn, taskDefinition=arn)
        except EcsError as exc:
            return exc.code == "ClientException"  # "Unable to describe": no such revision
        return (described.get("taskDefinition") or {}).get("status") == "INACTIVE"

    # ----- what never changes ---------------------------------------------------------------

    def admin_login(self, arn: str) -> AdminLogin:
        """The login of environments running ``arn``; ``EcsError`` when it cannot be read."""
        with self._lock:
            known = self._known.get(arn)
        return (known or self._describe(arn)).login

    def sizes(self, arns: Collection[str]) -> Mapping[str, Size]:
        """CPU and memory of each revision; one that cannot be described is left out, and
        asked again after ``RETRY_SECONDS`` (a cost estimate is never worth failing for)."""
        now = self._clock.monotonic()
        with self._lock:
            missing = [
                arn
                for arn in dict.fromkeys(arns)
                if arn not in self._known and now - self._failed.get(arn, -1e18) >= RETRY_SECONDS
            ]
        for arn in missing:
            try:
                self._describe(arn)
            except EcsError as exc:
                log.warning("cannot read the size of %s (%s); no cost estimate for it", arn, exc)
                with self._lock:
                    self._failed[arn] = now
        with self._lock:
            known = {arn: self._known.get(arn) for arn in arns}
        return {arn: found.size for arn, found in known.items() if found and found.size}

    def template_size(self) -> Size | None:
        """What a new environment will ask for: the template's task-level cpu and memory."""
        try:
            template = load_template(self._settings.ecs_task_definition_file)
        except ConfigurationError:
            return None
        return _size_of(template)

    def _describe(self, arn: str) -> Revision:
        described = self._aws.call("DescribeTaskDefinition", arn, taskDefinition=arn)
        definition = described.get("taskDefinition") or {}
        revision = Revision(_size_of(definition), _login_of(definition))
        with self._lock:
            self._known[arn] = revision
            self._failed.pop(arn, None)
        return revision


def _login_of(definition: Mapping[str, Any]) -> AdminLogin:
    environment = app_environment(definition)
    password = environment.get(ADMIN_PASSWORD)
    username, default = DEFAULT_LOGIN
    return AdminLogin(
        username=username,
        password=password or default,
        generated=bool(password),
        examples=environment.get(LOAD_EXAMPLES, "").strip().lower() == "yes",
    )


def _size_of(definition: Mapping[str, Any]) -> Size | None:
    """A task definition's task-level cpu and memory (Fargate requires both)."""
    cpu, memory = parse_cpu(definition.get("cpu")), parse_memory(definition.get("memory"))
    return None if cpu is None or memory is None else Size(cpu, memory)
