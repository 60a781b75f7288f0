"""The ECS engine: per-PR services on Fargate, and the DRAINING rule (SPEC §6).

Why this module exists: after ``DeleteService`` a service stays DRAINING for
minutes, and ``CreateService`` with the same name fails with "Creation of service
was not idempotent." until it is INACTIVE. So before a service is created its name
is looked up with ``DescribeServices`` — not ``ListServices``, which only returns
ACTIVE services and would report a DRAINING name as free — and an ACTIVE
occupant is deleted, a DRAINING one waited out (``clear_name``).

The engine also creates, redeploys, deletes and finds the services (by name and
tag, in ECS itself), waits for stability — judging stopped tasks only by the
current deployment's ``startedBy`` — and finds the address (task → ENI → IP).

Its waits (draining, stability) poll on an injected ``Clock`` and report through
``bot.adapters.waiting``. Every AWS call goes through ``calls.AwsCalls``: transient
errors (throttling, 5xx, connection trouble — also after botocore's own retries
gave up) are retried with backoff on that clock; permanent ones (access denied,
unknown cluster, invalid parameters) raise ``EcsError`` at once, naming the AWS
error code, the operation and the resource, so a misconfiguration never looks
like a ten-minute wait. The task definition's rules are in ``taskdef``; registering
revisions, their admin passwords and what never changes about them in ``revisions``.
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from hashlib import sha256
from typing import TYPE_CHECKING, Any, Self

from bot.adapters.ecs.calls import AwsCalls, make_clients, make_sts_client
from bot.adapters.ecs.errors import (
    DrainTimeoutError,
    EcsError,
    NotIdempotentError,
    StableTimeoutError,
    TasksStoppedError,
    Transient,
    name_taken,
)
from bot.adapters.ecs.revisions import TaskDefinitions
from bot.adapters.waiting import Reason, Wait, WaitText, duration
from bot.clock import SYSTEM_CLOCK, Clock
from bot.config import Settings
from bot.domain.cost import Size
from bot.domain.events import Progress, Warning, format_elapsed, no_progress
from bot.domain.naming import parse_service_name, service_name
from bot.domain.requester import Requester
from bot.orchestrator.ports import AdminLogin, Service, ServiceState

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ecs import ECSClient

log = logging.getLogger(__name__)

DESCRIBE_BATCH = 10  # DescribeServices accepts at most 10 services per call
LIST_PAGE = 100  # ListServices' largest page
MAX_CLIENT_TOKEN = 36  # CreateService's clientToken: up to 36 ASCII characters
STOPPED_CHECK_SECONDS = 30.0  # look for stopped tasks this often even without failedTasks

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
        self._aws = AwsCalls(
            ecs_client,
            ec2_client,
            clock,
            cluster=settings.ecs_cluster,
            region=settings.aws_region,
            poll_seconds=settings.showtime_poll_seconds,
        )
        self._clock = clock
        self._cluster = settings.ecs_cluster

        def sts() -> AwsCalls:
            client = sts_client or make_sts_client(settings)
            return AwsCalls(
                ecs_client,
                None,
                clock,
                cluster=settings.ecs_cluster,
                region=settings.aws_region,
                poll_seconds=settings.showtime_poll_seconds,
                sts=client,
            )

        self._definitions = TaskDefinitions(settings, self._aws, clock, sts=sts)

    def with_clock(self, clock: Clock) -> Self:
        """This engine (same clients, same caches) waiting and retrying on ``clock``."""
        bound = copy.copy(self)
        bound._aws = self._aws.with_clock(clock)
        bound._clock = clock
        return bound

    # ----- names ------------------------------------------------------------

    def image(self, pr: int, sha: str) -> str:
        return self._settings.showtime_image_template.format(pr=pr, sha=sha[:7])

    # ----- reading ECS ----------------------------------------------------

    def service_state(self, name: str) -> ServiceState:
        """State of exactly this name (DescribeServices sees DRAINING; ListServices does not)."""
        response = self._aws.call("DescribeServices", name, **self._describe_params(name))
        return _described_state(response, name)

    def find_services(self, pr: int | None = None) -> list[Service]:
        """Every ACTIVE showtime service (of one PR when ``pr`` is given), from ECS itself.

        ListServices is paged and only names ACTIVE services, which is what "exists"
        means here; only names shaped like ours (``pr-<n>-…``) are described, 10 per
        DescribeServices call, and only services tagged ``showtime_managed=true`` —
        as both this bot and the superset-showtime CLI tag them — are returned.
        """
        prefix = f"pr-{pr}-" if pr is not None else "pr-"
        names = [arn.rsplit("/", 1)[-1] for arn in self._list_service_arns()]
        candidates = [n for n in names if n.startswith(prefix)]
        found: list[Service] = []
        for start in range(0, len(candidates), DESCRIBE_BATCH):
            batch = candidates[start : start + DESCRIBE_BATCH]
            response = self._aws.call(
                "DescribeServices",
                ", ".join(batch),
                cluster=self._cluster,
                services=batch,
                include=["TAGS"],
            )
            for raw in response.get("services") or []:
                tags = _tags_of(raw)
                if tags.get("showtime_managed") != "true":
                    continue
                service = _service(raw, tags)
                if pr is None or service.pr == pr:
                    found.append(service)
        return found

    def environment_names(self) -> set[str]:
        """Names of the ACTIVE services named like environments, for SHOWTIME_MAX_ENVIRONMENTS.

        ListServices pages only (no DescribeServices): the limit protects the cluster's
        capacity, so every running ``pr-<n>-…-service`` counts, whoever made it.
        """
        names = (arn.rsplit("/", 1)[-1] for arn in self._list_service_arns())
        return {name for name in names if parse_service_name(name) is not None}

    def _list_service_arns(self) -> list[str]:
        arns: list[str] = []
        token: str | None = None
        while True:
            params: dict[str, Any] = {"cluster": self._cluster, "maxResults": LIST_PAGE}
            if token:
                params["nextToken"] = token
            response = self._aws.call("ListServices", f"cluster {self._cluster}", **params)
            arns.extend(response.get("serviceArns") or [])
            token = response.get("nextToken")
            if not token:
                return arns

    def _describe_params(self, name: str) -> dict[str, Any]:
        return {"cluster": self._cluster, "services": [name]}

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
        self._wait_released(name, state, progress)

    def _wait_released(self, name: str, state: ServiceState, progress: Progress) -> None:
        timeout = self._settings.showtime_drain_timeout_seconds

        def text(state: str, detail: str, elapsed: float, reason: Reason) -> str:
            if reason == "first":
                return (
                    f"{name} is {state}; waiting for ECS to release the name "
                    f"(up to {duration(timeout)})"
                )
            if reason == "changed":
                return f"{name} is now {state}, {format_elapsed(elapsed)}"
            return f"still {state}, {format_elapsed(elapsed)}"

        wait = Wait(self._clock, timeout, "clear_name", progress, text)
        wait.observe(state.value)
        failures = 0
        while True:
            if wait.expired:
                last = wait.state or state.value
                raise DrainTimeoutError(
                    f"{name} is still {last} after {duration(timeout)}",
                    "press Retry later; it will work once ECS finishes draining the old service",
                    name=name,
                    state=last,
                )
            wait.pause(self._aws.poll_delay(failures))
            try:
                response = self._aws.request(
                    "DescribeServices", name, **self._describe_params(name)
                )
            except Transient as exc:
                failures += 1
                log.info("still waiting for %s; AWS answered %s", name, exc.error.code)
                continue
            failures = 0
            current = _described_state(response, name)
            if current in (ServiceState.INACTIVE, ServiceState.MISSING):
                log.info("%s is %s after %s", name, current, format_elapsed(wait.elapsed))
                return
            wait.observe(current.value)

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
        return _service(created, _tags_of(created) or tags)

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
        now = self._clock.now()
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
            if _state_of(service.status, service.name) is not ServiceState.ACTIVE:
                continue  # deleted since ListServices named it
            if self.delete_service(service.name):
                deleted.append(service.name)
        return deleted

    # ----- waiting for the service to run ----------------------------------------

    def wait_stable(self, name: str, progress: Progress = no_progress) -> None:
        """Wait until the service runs its desired count on its newest deployment.

        Stable means runningCount == desiredCount and the PRIMARY deployment's
        rolloutState is COMPLETED (or, without rollout states, it is the only
        deployment and runs every task). A stopped task of the *current* deployment
        fails the wait at once, quoting ECS's stoppedReason: tasks are matched on
        ``startedBy`` (the deployment id) because a re-created service name still
        lists its predecessor's stopped tasks. Stopped tasks are looked up when the
        deployment counts failed tasks, and every 30 s otherwise, to keep the AWS
        calls of a healthy start to one DescribeServices per poll.
        """
        timeout = self._settings.showtime_stable_timeout_seconds
        wait = Wait(self._clock, timeout, "wait_stable", progress, _starting_text(name))
        stopped = _StoppedTasks(checked_at=self._clock.monotonic())
        failures = 0
        counts = "no answer from ECS yet"
        # A service just created or updated cannot be stable yet: the first look waits a poll.
        wait.pause(self._aws.poll_delay(0))
        while True:
            try:
                raw = self._describe_starting(name, wait)
            except Transient as exc:
                failures += 1
                log.info("waiting for %s to be stable; AWS answered %s", name, exc.error.code)
            else:
                failures = 0
                if raw is not None:
                    judged = self._judge_rollout(name, raw, wait, stopped)
                    if judged is None:
                        log.info("%s is stable after %s", name, format_elapsed(wait.elapsed))
                        return
                    counts = judged
            if wait.expired:
                raise StableTimeoutError(
                    f"{name} did not become stable in {duration(timeout)} ({counts})",
                    "read the log in the thread (or press Logs) for why the task does not start, then press Retry",
                )
            wait.pause(self._aws.poll_delay(failures))

    def _describe_starting(self, name: str, wait: Wait) -> dict[str, Any] | None:
        """The service as DescribeServices says (one request: ``Transient`` is the caller's);
        None while a service just created is not visible yet (ECS reads are eventually
        consistent). ``EcsError`` when it is no longer ACTIVE: someone else stopped it."""
        response = self._aws.request("DescribeServices", name, **self._describe_params(name))
        raw = _only_service(response, name)
        status = (raw or {}).get("status") or ""
        if raw is None and wait.elapsed < STOPPED_CHECK_SECONDS and not wait.expired:
            return None
        if raw is None or _state_of(status, name) is not ServiceState.ACTIVE:
            raise EcsError(
                f"{name} is {status or 'gone'} while waiting for it to start — "
                "it was stopped by someone else",
                "press Retry to deploy again",
                operation="DescribeServices",
                code="ServiceNotActive",
                resource=name,
            )
        return raw

    def _judge_rollout(
        self, name: str, raw: dict[str, Any], wait: Wait, stopped: _StoppedTasks
    ) -> str | None:
        """None when the service is stable; else the task counts, reported on ``wait``.

        Raises when the current deployment's task stopped or ECS gave up the rollout.
        """
        primary = _primary_deployment(raw)
        running = int(raw.get("runningCount") or 0)
        desired = int(raw.get("desiredCount") or 0)
        rollout = primary.get("rolloutState") or ""
        if _is_stable(raw, primary):
            return None
        deployment_id = primary.get("id", "")
        now = self._clock.monotonic()
        failed = int(primary.get("failedTasks") or 0)
        if deployment_id and (
            rollout == "FAILED"
            or failed > stopped.failed_seen  # only new failures are worth a look
            or now - stopped.checked_at >= STOPPED_CHECK_SECONDS
        ):
            stopped.failed_seen = failed
            stopped.checked_at = now
            self._fail_if_tasks_stopped(name, deployment_id, stopped.seen)
        if rollout == "FAILED":
            raise EcsError(
                f"ECS gave up deploying {name}: "
                f"{primary.get('rolloutStateReason') or 'the deployment failed'}",
                "check the Logs, then press Retry",
                operation="DescribeServices",
                code="DeploymentFailed",
                resource=name,
            )
        counts = f"{running} of {desired} tasks running"
        # PENDING until the tasks run; then the rollout's state (old tasks draining).
        wait.observe("PENDING" if running < desired else rollout or "IN_PROGRESS", counts)
        return counts

    def _fail_if_tasks_stopped(self, name: str, deployment_id: str, seen: set[str]) -> None:
        """Raise TasksStoppedError if a task started by ``deployment_id`` has stopped."""
        ours: list[dict[str, Any]] = []
        token: str | None = None
        try:
            while True:  # every page: a predecessor's stopped tasks may fill the first
                params: dict[str, Any] = {
                    "cluster": self._cluster,
                    "serviceName": name,
                    "desiredStatus": "STOPPED",
                }
                if token:
                    params["nextToken"] = token
                listed = self._aws.request("ListTasks", name, **params)
                fresh = [arn for arn in listed.get("taskArns") or [] if arn not in seen][:100]
                if fresh:
                    described = self._aws.request(
                        "DescribeTasks", name, cluster=self._cluster, tasks=fresh
                    )
                    seen.update(fresh)
                    ours.extend(
                        t
                        for t in described.get("tasks") or []
                        if t.get("startedBy") == deployment_id
                    )
                token = listed.get("nextToken")
                if not token:
                    break
        except Transient as exc:
            log.info("could not look at stopped tasks of %s (%s); next time", name, exc.error.code)
            return
        if not ours:
            return
        task = max(ours, key=lambda t: _utc(t.get("stoppedAt")) or _EPOCH)
        raise TasksStoppedError.of_task(name, task)

    # ----- reaching the environment -----------------------------------------------

    def address(self, name: str) -> str:
        """The IP of the service's newest running task: task → ENI → public IP.

        With ECS_ASSIGN_PUBLIC_IP=DISABLED the private IP (the bot then runs inside the VPC).
        """
        listed = self._aws.call(
            "ListTasks", name, cluster=self._cluster, serviceName=name, desiredStatus="RUNNING"
        )
        arns = (listed.get("taskArns") or [])[:100]
        if not arns:
            raise EcsError(
                f"{name} has no running task to take an address from",
                "press Retry; if it repeats, check the service's events in the ECS console",
                operation="ListTasks",
                code="NoRunningTask",
                resource=name,
            )
        tasks = self._aws.call("DescribeTasks", name, cluster=self._cluster, tasks=arns).get(
            "tasks"
        )
        running = [t for t in tasks or [] if t.get("lastStatus") == "RUNNING"] or list(tasks or [])
        if not running:
            raise EcsError(
                f"{name}'s tasks could not be described",
                "press Retry",
                operation="DescribeTasks",
                code="NoRunningTask",
                resource=name,
            )
        # During a rolling update the old deployment's task may still run: take the newest.
        task = max(running, key=lambda t: _utc(t.get("startedAt") or t.get("createdAt")) or _EPOCH)
        eni = _eni_of(task)
        if not eni:
            raise EcsError(
                f"task {task.get('taskArn', '?')} of {name} has no network interface",
                "the task definition's networkMode must be awsvpc",
                operation="DescribeTasks",
                code="NoNetworkInterface",
                resource=name,
            )
        described = self._aws.call("DescribeNetworkInterfaces", eni, NetworkInterfaceIds=[eni])
        interfaces = described.get("NetworkInterfaces") or [{}]
        if self._settings.ecs_assign_public_ip == "DISABLED":
            ip = interfaces[0].get("PrivateIpAddress")
        else:
            ip = (interfaces[0].get("Association") or {}).get("PublicIp")
        if not ip:
            raise EcsError(
                f"{name}'s network interface {eni} has no "
                + ("private" if self._settings.ecs_assign_public_ip == "DISABLED" else "public")
                + " IP address",
                "check ECS_ASSIGN_PUBLIC_IP and that ECS_SUBNETS are public subnets",
                operation="DescribeNetworkInterfaces",
                code="NoAddress",
                resource=eni,
            )
        return str(ip)


# ----- helpers -----------------------------------------------------------------------


@dataclass
class _StoppedTasks:
    """What the stability wait remembers about stopped tasks from one poll to the next."""

    checked_at: float  # monotonic: when ListTasks was last asked for stopped tasks
    failed_seen: int = 0  # the deployment's failedTasks at that look
    seen: set[str] = field(default_factory=set)  # stopped task ARNs already described


def _starting_text(name: str) -> WaitText:
    def text(state: str, detail: str, elapsed: float, reason: Reason) -> str:
        if reason == "first":
            return f"waiting for {name} to start ({detail})"
        if reason == "changed":
            return f"{name}: {detail}, {format_elapsed(elapsed)}"
        return f"still starting {name} ({detail}), {format_elapsed(elapsed)}"

    return text


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _state_of(status: str, name: str) -> ServiceState:
    """ECS's status as a state; one it did not give or we do not know counts as ACTIVE.

    Treating the unknown as "the name is taken" is the safe side: clearing an ACTIVE
    name deletes and waits, which also works for a service that is really DRAINING.
    """
    if status in (ServiceState.ACTIVE, ServiceState.DRAINING, ServiceState.INACTIVE):
        return ServiceState(status)
    log.warning("ECS reported status %r for %s; treating the name as taken", status, name)
    return ServiceState.ACTIVE


def _described_state(response: dict[str, Any], name: str) -> ServiceState:
    """The state of ``name`` in a DescribeServices answer; MISSING when ECS does not know it.

    A failure other than MISSING (ECS could not look) raises rather than read as free.
    """
    raw = _only_service(response, name)
    if raw is not None:
        return _state_of(raw.get("status") or "", name)
    for failure in response.get("failures") or []:
        reason = failure.get("reason", "")
        if reason and reason != "MISSING":
            raise EcsError(
                f"AWS DescribeServices failed for {name}: {reason}"
                + (f": {failure['detail']}" if failure.get("detail") else ""),
                "press Retry; if it fails again, check the cluster in the ECS console",
                operation="DescribeServices",
                code=reason,
                resource=name,
            )
    return ServiceState.MISSING  # MISSING, or an empty answer


def _tags_of(raw: dict[str, Any]) -> dict[str, str]:
    return {t["key"]: t["value"] for t in raw.get("tags") or [] if "key" in t}


def _service(raw: dict[str, Any], tags: dict[str, str]) -> Service:
    """``raw`` (a described service) as the orchestrator sees it.

    PR and SHA come from the tags, else from the name; the superset-showtime CLI
    tags the requester as ``github_user`` where this bot says ``requested_by``.
    """
    name = _name_of(raw)
    parsed = parse_service_name(name)
    pr = _int_or_none(tags.get("pr"))
    if pr is None and parsed:
        pr = parsed[0]
    network = (raw.get("networkConfiguration") or {}).get("awsvpcConfiguration") or {}
    assign = network.get("assignPublicIp")
    return Service(
        name=name,
        status=_state_of(raw.get("status") or "", name),
        pr=pr,
        sha=tags.get("sha") or (parsed[1] if parsed else None),
        requested_by=_requester(tags),
        created=_epoch(tags.get("showtime_created")) or _utc(raw.get("createdAt")),
        task_definition=raw.get("taskDefinition") or None,
        public_ip=None if assign is None else assign == "ENABLED",
    )


def _requester(tags: Mapping[str, str]) -> Requester | None:
    """Who asked, as the tags say: ``requested_by`` (``slack:U…``, ``github:login``, or an
    older bot's untagged value), else the CLI's ``github_user`` — a GitHub login."""
    if value := tags.get("requested_by"):
        return Requester.parse(value)
    if login := tags.get("github_user"):
        return Requester.github(login)
    return None


def _name_of(raw: dict[str, Any]) -> str:
    return str(raw.get("serviceName") or str(raw.get("serviceArn", "")).rsplit("/", 1)[-1])


def _only_service(response: dict[str, Any], name: str) -> dict[str, Any] | None:
    """``name`` in a DescribeServices answer about it alone; None when it is not there."""
    services = response.get("services") or []
    chosen = [s for s in services if _name_of(s) == name] or (
        # a reply that omits the name still answers the one we asked
        services if len(services) == 1 else []
    )
    return chosen[0] if chosen else None


def _primary_deployment(raw: dict[str, Any]) -> dict[str, Any]:
    deployments = raw.get("deployments") or []
    for deployment in deployments:
        if deployment.get("status") == "PRIMARY":
            return dict(deployment)
    return dict(deployments[0]) if deployments else {}


def _is_stable(raw: dict[str, Any], primary: dict[str, Any]) -> bool:
    running = int(raw.get("runningCount") or 0)
    desired = int(raw.get("desiredCount") or 0)
    if running != desired or not primary:
        return False
    rollout = primary.get("rolloutState")
    if rollout:
        return bool(rollout == "COMPLETED")
    deployments = raw.get("deployments") or []
    return len(deployments) == 1 and int(primary.get("runningCount") or 0) == desired


def _eni_of(task: dict[str, Any]) -> str | None:
    for attachment in task.get("attachments") or []:
        for detail in attachment.get("details") or []:
            if detail.get("name") == "networkInterfaceId" and detail.get("value"):
                return str(detail["value"])
    return None


def _client_token(token: str) -> str:
    # ECS accepts 1-36 characters from "!" to "~"; anything else is hashed to fit.
    if token and len(token) <= MAX_CLIENT_TOKEN and all(33 <= ord(c) <= 126 for c in token):
        return token
    return sha256(token.encode("utf-8")).hexdigest()[:32]


def _tag_value(value: str) -> str:
    """ECS tag values allow letters, digits, spaces and ``_ . : / = + - @``, 256 long."""
    return _TAG_FORBIDDEN.sub("_", value)[:256]


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _epoch(value: str | None) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(value), UTC) if value else None
    except (ValueError, OverflowError, OSError):
        return None


def _utc(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return None
