"""The ECS engine: per-PR services on Fargate, and the DRAINING rule (SPEC §6).

Why this module exists: after ``DeleteService`` a service stays DRAINING for
minutes, and ``CreateService`` with the same name fails with "Creation of service
was not idempotent." until it is INACTIVE. So before a service is created its name
is looked up with ``DescribeServices`` — not ``ListServices``, which only returns
ACTIVE services and would report a DRAINING name as free — and an ACTIVE
occupant is deleted, a DRAINING one waited out (``clear_name``).

The engine is the ``EcsPort``: it creates, redeploys and deletes the services here, and
keeps the rule in ``clear_name``. What ECS says of services — which exist (by name and tag,
in ECS itself), a name's state, a service's address (task → ENI → IP) — is read in
``services``; the two long waits, for a name to be released and for a deployment to be
stable (judging stopped tasks only by the current deployment's ``startedBy``), are
``waits``'. They poll on the injected ``Clock`` and report through ``bot.adapters.waiting``.

Every AWS call goes through ``calls.AwsCalls``: transient errors (throttling, 5xx,
connection trouble — also after botocore's own retries gave up) are retried with backoff
on that clock; permanent ones (access denied, unknown cluster, invalid parameters) raise
``EcsError`` at once, naming the AWS error code, the operation and the resource, so a
misconfiguration never looks like a ten-minute wait. The task definition's rules are in
``taskdef``; registering revisions, their admin passwords and what never changes about
them in ``revisions``.
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Collection, Mapping
from datetime import datetime
from hashlib import sha256
from typing import TYPE_CHECKING, Any, Self

from bot.adapters.ecs import services, waits
from bot.adapters.ecs.calls import AwsCalls, make_clients, make_sts_client
from bot.adapters.ecs.errors import EcsError, NotIdempotentError, name_taken
from bot.adapters.ecs.revisions import TaskDefinitions
from bot.clock import SYSTEM_CLOCK, Clock
from bot.config import Settings
from bot.domain.cost import Size
from bot.domain.events import Progress, Warning, no_progress
from bot.domain.naming import service_name
from bot.domain.requester import Requester
from bot.orchestrator.ports import AdminLogin, Service, ServiceState

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ecs import ECSClient

log = logging.getLogger(__name__)

MAX_CLIENT_TOKEN = 36  # CreateService's clientToken: up to 36 ASCII characters

_TAG_FORBIDDEN = re.compile(r"[^\w .:/=+\-@]")


# ----- the engine -------------------------------------------------------------


class EcsEngine:
    """ECS operations the orchestrator composes into start, stop, redeploy and sweep.

    Stateless apart from its clients and what never changes (the size of a task definition
    revision), so one engine serves every job thread.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        ecs_client: ECSClient | None = None,
        ec2_client: EC2Client | None = None,
        sts_client: Any = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._settings = settings
        if ecs_client is None or ec2_client is None:
            default_ecs, default_ec2 = make_clients(settings)
            ecs_client = ecs_client or default_ecs
            ec2_client = ec2_client or default_ec2

        def calls(sts: Any = None) -> AwsCalls:
            return AwsCalls(
                ecs_client,
                ec2_client,
                clock,
                cluster=settings.ecs_cluster,
                region=settings.aws_region,
                poll_seconds=settings.showtime_poll_seconds,
                sts=sts,
            )

        self._aws = calls()
        self._cluster = settings.ecs_cluster
        # The account's id (for the execution role's ARN) is asked only when first needed.
        self._definitions = TaskDefinitions(
            settings, self._aws, clock, sts=lambda: calls(sts_client or make_sts_client(settings))
        )

    def with_clock(self, clock: Clock) -> Self:
        """This engine (same clients, same caches) waiting and retrying on ``clock``."""
        bound = copy.copy(self)
        bound._aws = self._aws.with_clock(clock)
        return bound

    # ----- names ------------------------------------------------------------

    def image(self, pr: int, sha: str) -> str:
        return self._settings.showtime_image_template.format(pr=pr, sha=sha[:7])

    # ----- reading ECS (``services``) ------------------------------------------------

    def service_state(self, name: str) -> ServiceState:
        """State of exactly this name (DescribeServices sees DRAINING; ListServices does not)."""
        return services.service_state(self._aws, name)

    def find_services(self, pr: int | None = None) -> list[Service]:
        """Every ACTIVE showtime service (of one PR), from ECS itself (not from labels)."""
        return services.find_services(self._aws, pr)

    def environment_names(self) -> set[str]:
        """Names of every running ``pr-…-service``, whoever made it (the capacity limit)."""
        return services.environment_names(self._aws)

    def address(self, name: str) -> str:
        """The IP of the service's newest running task: task → ENI → public IP.

        With ECS_ASSIGN_PUBLIC_IP=DISABLED the private IP (the bot then runs inside the VPC).
        """
        public = self._settings.ecs_assign_public_ip != "DISABLED"
        return services.address(self._aws, name, public=public)

    # ----- the DRAINING rule ------------------------------------------------

    def clear_name(self, name: str, progress: Progress = no_progress) -> None:
        """Make ``name`` free for CreateService: delete an ACTIVE occupant, wait out DRAINING.

        INACTIVE and MISSING return at once. The wait ends with ``DrainTimeoutError``
        after SHOWTIME_DRAIN_TIMEOUT_SECONDS; nothing is created here.
        """
        state = self.service_state(name)
        if state in (ServiceState.INACTIVE, ServiceState.MISSING):
            return
        if state is ServiceState.ACTIVE:
            log.info("deleting %s so its name can be reused", name)
            # False means it is no longer ACTIVE: it may be DRAINING now, or gone. The
            # wait's first poll tells, and returns at once when the name is free.
            self.delete_service(name)
            state = ServiceState.DRAINING
        timeout = self._settings.showtime_drain_timeout_seconds
        waits.wait_released(self._aws, name, state, timeout, progress)

    # ----- task definitions -------------------------------------------------

    def register_task_definition(
        self, pr: int, sha: str, description: str, progress: Progress = no_progress
    ) -> str:
        """Register this PR's task definition revision, with its own admin password; its ARN.

        The rules of what goes in are ``taskdef``'s; the password and the cache of what
        each revision says are ``revisions``'.
        """
        return self._definitions.register(pr, sha, self.image(pr, sha), description, progress)

    def task_sizes(self, arns: Collection[str]) -> Mapping[str, Size]:
        """CPU and memory of each task definition (``public_ip`` False: that is the service's).

        One DescribeTaskDefinition per revision this process has not seen, ever — shared
        with ``admin_login``: the revisions this engine registered are known from registering
        them, so only an environment made elsewhere (the superset-showtime CLI) costs a
        call, once. One that cannot be described (no permission, deregistered) is left out
        and asked again after ten minutes: a cost estimate is never worth failing a listing for.
        """
        return self._definitions.sizes(arns)

    def template_size(self) -> Size | None:
        """What a new environment will ask for: the template's task-level cpu and memory."""
        return self._definitions.template_size()

    def admin_login(self, task_definition_arn: str) -> AdminLogin:
        """The environment's admin login, from its revision's ``ADMIN_PASSWORD`` (SPEC §15).

        No DescribeTaskDefinition for a revision this process registered; one otherwise, once
        per process (shared with ``task_sizes``). Without ``ADMIN_PASSWORD`` (the CLI's
        revisions): ``admin``/``admin``, ``generated`` False. ``EcsError`` when it cannot be read.
        """
        return self._definitions.admin_login(task_definition_arn)

    def deregister_task_definition(self, arn: str) -> None:
        """Deregister a revision (a cancelled deploy's undo); already INACTIVE is fine."""
        self._definitions.deregister(arn)

    # ----- creating, updating, deleting ---------------------------------------

    def create_service(
        self,
        *,
        pr: int,
        sha: str,
        task_definition_arn: str,
        requested_by: Requester,
        expires: datetime | None,
        client_token: str,
        progress: Progress = no_progress,
    ) -> Service:
        """Create ``pr-{pr}-{sha7}-service``; the caller has run ``clear_name`` first.

        ``client_token`` makes a repeated request of the same job return the service it
        already created instead of a second one (ECS idempotency; boto3 does not fill it
        in for CreateService). A token longer than ECS's 36 characters is hashed, which
        keeps it stable. ``showtime_expires`` is left out when ``expires`` is None (TTL
        "close"): the CLI reads the tag as a number, and expiry is decided by labels.

        If ECS still answers that the name is taken (someone re-created or deleted it
        between ``clear_name`` and now), the name is cleared once more and the create
        retried once; a second refusal raises ``NotIdempotentError``.
        """
        name = service_name(pr, sha)
        tags = self._service_tags(pr, sha, requested_by, expires)
        params = self._create_params(name, task_definition_arn, tags, client_token)
        response = self._create_or_clear_once(name, params, progress)
        created = response["service"]
        # ECS may answer without the tags; the ones sent are the ones the service has.
        return services.service_of(created, services.tags_of(created) or tags)

    def _create_params(
        self, name: str, task_definition_arn: str, tags: dict[str, str], client_token: str
    ) -> dict[str, Any]:
        network: dict[str, Any] = {
            "subnets": list(self._settings.ecs_subnets),
            "securityGroups": list(self._settings.ecs_security_groups),
            "assignPublicIp": self._settings.ecs_assign_public_ip,
        }
        return {
            "cluster": self._cluster,
            "serviceName": name,
            "taskDefinition": task_definition_arn,
            "desiredCount": 1,
            "launchType": "FARGATE",
            "networkConfiguration": {"awsvpcConfiguration": network},
            # Without rollback (there is nothing to roll back to): ECS stops relaunching a
            # task that cannot start instead of pulling a missing image forever.
            "deploymentConfiguration": {
                "deploymentCircuitBreaker": {"enable": True, "rollback": False}
            },
            "tags": [{"key": k, "value": v} for k, v in tags.items()],
            "enableECSManagedTags": True,
            "propagateTags": "SERVICE",  # tasks carry pr/sha too, for cost reports
            "clientToken": _client_token(client_token),
        }

    def _create_or_clear_once(
        self, name: str, params: dict[str, Any], progress: Progress
    ) -> dict[str, Any]:
        """CreateService; a name ECS still calls taken is cleared, then created once more."""
        try:
            response = self._aws.call("CreateService", name, **params)
        except EcsError as exc:
            if not name_taken(exc):
                raise
            progress(
                Warning(f"ECS says {name} is still taken ({exc.aws_message}); clearing it again")
            )
            self.clear_name(name, progress)
            try:
                response = self._aws.call("CreateService", name, **params)
            except EcsError as again:
                if not name_taken(again):
                    raise
                raise NotIdempotentError(
                    f"ECS refused to create {name} again right after the name was cleared "
                    f"({again.code}: {again.aws_message}) — another actor (the CLI or a "
                    "second job) is creating or deleting the same service",
                    "press Retry in a minute, once the other operation is finished",
                    operation="CreateService",
                    code=again.code,
                    resource=name,
                    aws_message=again.aws_message,
                ) from again
        return response

    def _service_tags(
        self, pr: int, sha: str, requested_by: Requester, expires: datetime | None
    ) -> dict[str, str]:
        now = self._aws.clock.now()
        tags = {
            "showtime_managed": "true",
            "pr": str(pr),
            "sha": sha[:7],
            "requested_by": _tag_value(requested_by.stored) or "unknown",
            "showtime_created": str(int(now.timestamp())),
        }
        if expires is not None:
            tags["showtime_expires"] = str(int(expires.timestamp()))
        return tags

    def redeploy(
        self, name: str, task_definition_arn: str, progress: Progress = no_progress
    ) -> None:
        """Roll the running service onto a new revision; no delete, so no DRAINING gap."""
        self._aws.call(
            "UpdateService",
            name,
            cluster=self._cluster,
            service=name,
            taskDefinition=task_definition_arn,
            forceNewDeployment=True,
        )

    def delete_service(self, name: str) -> bool:
        """Ask ECS to delete ``name`` (force: desired count need not be 0 first).

        True when the service is now DRAINING; False when it was already INACTIVE or
        unknown. Never waits: the next ``clear_name`` of that name does.
        """
        try:
            response = self._aws.call(
                "DeleteService", name, cluster=self._cluster, service=name, force=True
            )
        except EcsError as exc:
            if exc.code in ("ServiceNotFoundException", "ServiceNotActiveException"):
                return False
            raise
        status = (response.get("service") or {}).get("status", ServiceState.DRAINING)
        return status != ServiceState.INACTIVE

    def delete_pr_environments(self, pr: int) -> list[str]:
        """Delete every ACTIVE showtime service of ``pr``; return the names deleted.

        Found in ECS by name and tag, not through labels: a service whose labels went
        missing is deleted too. Does not wait for DRAINING (the next start does).
        """
        deleted: list[str] = []
        for service in self.find_services(pr):
            if service.status is not ServiceState.ACTIVE:
                continue  # deleted since ListServices named it
            if self.delete_service(service.name):
                deleted.append(service.name)
        return deleted

    # ----- waiting for the service to run (``waits``) ------------------------------------

    def wait_stable(self, name: str, progress: Progress = no_progress) -> None:
        """Until the service runs its desired count on its newest deployment, or
        ``TasksStoppedError`` (a task of this deployment stopped), ``EcsError`` (ECS gave
        up) or ``StableTimeoutError`` after SHOWTIME_STABLE_TIMEOUT_SECONDS."""
        timeout = self._settings.showtime_stable_timeout_seconds
        waits.wait_stable(self._aws, name, timeout, progress)


# ----- helpers -----------------------------------------------------------------------


def _client_token(token: str) -> str:
    # ECS accepts 1-36 characters from "!" to "~"; anything else is hashed to fit.
    if token and len(token) <= MAX_CLIENT_TOKEN and all(33 <= ord(c) <= 126 for c in token):
        return token
    return sha256(token.encode("utf-8")).hexdigest()[:32]


def _tag_value(value: str) -> str:
    """ECS tag values allow letters, digits, spaces and ``_ . : / = + - @``, 256 long."""
    return _TAG_FORBIDDEN.sub("_", value)[:256]
