"""An AWS stand-in that behaves like ECS where the bot depends on it (SPEC §6), on moto.

moto alone gets the deploy flow wrong in exactly the ways that caused the bug
this project fixes, so ``EcsStandIn`` patches moto's ECS request handlers:

- ``DeleteService`` makes a service DRAINING for ``drain_seconds``, then INACTIVE
  (moto goes straight to INACTIVE, so the DRAINING wait could never be tested).
- ``ListServices`` names only ACTIVE services, in pages of ``maxResults`` (default
  10) with a ``nextToken`` (moto returns every service in one page).
- ``CreateService`` refuses a name whose service is ACTIVE or DRAINING with ECS's
  ``InvalidParameterException: Creation of service was not idempotent.`` — except
  the same ``clientToken`` that created the ACTIVE service, which gets that
  service back (moto silently replaces the existing service).
- ``DescribeServices`` refuses more than 10 names, like ECS.
- A deployment starts a PENDING task (``startedBy`` = the deployment id, group
  ``service:<name>``) that runs after ``stable_seconds``, with an ENI whose public
  IP is ``public_ip`` (tests: a documentation address such as 203.0.113.10); then
  runningCount and rolloutState COMPLETED follow. With ``loopback_addresses`` (the
  sandbox's mode) each task gets an address of its own, 127.0.0.2, 127.0.0.3, … (Linux
  routes all of 127/8 to loopback), public and private, and ``on_task`` listeners hear
  when a task runs and when it stops (``TaskChange``: its address, PR, SHA, task
  definition and the app container's environment) — the sandbox's Superset fleet
  starts and stops that environment's own Superset there.
  ``UpdateService(forceNewDeployment)`` starts a new deployment the same way and
  stops the old deployment's task once the new one runs (moto starts no tasks).
- A task whose image was marked missing stops with ECS's ``CannotPullContainerError``
  reason, ``failedTasks`` counts it, and a circuit breaker (when the service asked
  for one) fails the rollout after 3 failures.
- Each task writes its log to moto's CloudWatch Logs where the task definition's
  ``awslogs`` options say (``<prefix>/<container>/<task id>`` in ``awslogs-group``,
  both created as ECS's ``awslogs-create-group`` would): a Superset-like boot sequence
  when the task starts. Injected failures write what they would: a missing image no
  stream at all (the container never started); ``crash_on_boot`` a traceback, then the
  task stops with exit code 1 ("Essential container in task exited"); ``crash_loop``
  keeps the task running while gunicorn's workers fail to boot, a few lines every
  ``LOOP_SECONDS`` (the sandbox's Superset then answers 503: the health check never
  passes). ``GetLogEvents`` of a stream that does not exist says so, as CloudWatch does.
- ``ListTasks`` filters by ``serviceName`` and defaults to desiredStatus RUNNING
  (moto ignores ``serviceName``); tasks keep their status (moto's advance a
  lifecycle step on every DescribeTasks).
- Fault injection: a throttling probability per operation, and one-shot errors
  (``fail_next``), answered before the request reaches moto, as AWS would.
- Time comes from an injectable ``Clock``, so a test's ``FakeClock`` drives
  DRAINING and stability together with the engine that sleeps on it.
- ``calls`` counts requests per operation (each retry counts), for AWS budgets — ECS,
  EC2 and CloudWatch Logs alike (``fail_next("GetLogEvents", …)`` works too);
  ``injected`` counts the faults answered instead.

The patches sit on moto's response classes, so they hold for in-process
``mock_aws`` and for ``ThreadedMotoServer`` alike (the server shares the
in-process backends). Services created before ``install`` keep moto's behaviour.
"""

from __future__ import annotations

import base64
import json
import logging
import random
import threading
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Literal
from xml.sax.saxutils import escape

from botocore.config import Config
from moto.core.responses import ActionResult, BaseResponse
from moto.ec2.models import ec2_backends
from moto.ec2.responses import EC2Response
from moto.ecs.exceptions import ECSException, InvalidParameterException
from moto.ecs.models import Cluster, EC2ContainerServiceBackend, Service, Task
from moto.ecs.responses import EC2ContainerServiceResponse
from moto.logs.exceptions import ResourceNotFoundException
from moto.logs.models import LogGroup, logs_backends
from moto.logs.responses import LogsResponse
from moto.server import ThreadedMotoServer

from bot.adapters.ecs import new_session
from bot.clock import SYSTEM_CLOCK, Clock

DEFAULT_REGION = "us-west-2"
FAKE_KEY = "testing"  # moto accepts any credentials; never a real-looking one
NOT_IDEMPOTENT = "Creation of service was not idempotent."
INSPECTION_AGENT = "showtime-standin-inspection"  # marks requests that are not the bot's
CIRCUIT_BREAKER_FAILURES = 3  # ECS's minimum threshold, which applies to 1-task services
LOOP_SECONDS = 10.0  # a crash-looping environment logs a failed worker this often
ESSENTIAL_EXITED = "Essential container in task exited"

# What a task's container writes (the stand-in's Superset). ``{port}`` is its port.
BOOT_LINES = (
    "Loading configuration from /app/pythonpath/superset_config.py",
    "Running database migrations",
    "INFO  [alembic.runtime.migration] Context impl SQLiteImpl.",
    "INFO  [alembic.runtime.migration] Will assume non-transactional DDL.",
    "Init step 1/4 [Starting] -- Applying DB migrations",
    "Init step 2/4 [Starting] -- Setting up admin user",
    "Init step 3/4 [Starting] -- Setting up roles and perms",
    "Init step 4/4 [Starting] -- Loading examples",
    "Starting gunicorn 23.0.0",
    "Listening at: http://0.0.0.0:{port} (1)",
    "Booting worker with pid: 7",
)
CRASH_LINES = (
    "Loading configuration from /app/pythonpath/superset_config.py",
    "Running database migrations",
    "Traceback (most recent call last):",
    '  File "/usr/local/bin/superset", line 8, in <module>',
    "    sys.exit(superset())",
    '  File "/app/superset/cli/main.py", line 41, in superset',
    "    create_app()",
    '  File "/app/superset/app.py", line 40, in create_app',
    "    app_initializer.init_app()",
    '  File "/app/superset/initialization/__init__.py", line 462, in init_app',
    "    self.configure_feature_flags()",
    "ModuleNotFoundError: No module named 'superset.utils.feature_flag_manager'",
)
LOOP_LINES = (
    "[7] [ERROR] Exception in worker process",
    "ImportError: cannot import name 'create_app' from 'superset.app'",
    "[1] [ERROR] Worker (pid:7) exited with code 3",
    "[1] [INFO] Booting worker with pid: 7",
)

_RECORD_ATTR = "_showtime_standin_record"
_SERVER_FAULT_CODES = frozenset(
    {"ServerException", "InternalError", "InternalFailure", "ServiceUnavailable"}
)
_THROTTLE = {
    "json": ("ThrottlingException", "Rate exceeded"),
    "ec2": ("RequestLimitExceeded", "Request limit exceeded."),
}
_MISSING = object()  # marks "the class did not define this attribute itself"
_installed: EcsStandIn | None = None
_install_lock = threading.Lock()


class ServiceNotActiveException(ECSException):
    code = "ServiceNotActiveException"
    message = "Service was not ACTIVE."


class _ServiceTask(Task):
    """A task whose status changes only when the stand-in says so.

    moto's tasks advance one lifecycle step each time DescribeTasks sees them, so a
    running environment would read as DEACTIVATING on the second look.
    """

    @property
    def status(self) -> str | None:
        return self._status

    @status.setter
    def status(self, value: str) -> None:
        self._status = value


@dataclass
class _Deployment:
    id: str
    task_definition: str
    desired: int
    created_at: datetime
    updated_at: datetime
    status: str = "PRIMARY"
    rollout: str = "IN_PROGRESS"
    reason: str = ""
    failed: int = 0
    tasks: list[_ServiceTask] = field(default_factory=list)
    ready_at: dict[str, float] = field(default_factory=dict)  # task ARN → runs (or fails) at


_Crash = tuple[Literal["boot", "loop", "chatter"], tuple[str, ...]]


@dataclass
class _TaskLog:
    """Where one task's container writes, and how far a crash loop has got."""

    group: LogGroup
    stream: str
    loop: tuple[str, ...] = ()  # what a crash-looping task logs every LOOP_SECONDS
    next_loop_at: float = 0.0


@dataclass
class _Record:
    """What the stand-in knows about a service beyond moto's model of it."""

    backend: EC2ContainerServiceBackend
    cluster: Cluster
    service: Service
    client_token: str
    circuit_breaker: bool
    deployments: list[_Deployment] = field(default_factory=list)
    deleted_at: float | None = None


@dataclass
class _Fault:
    code: str
    message: str
    status: int
    skip: int = 0  # requests of the operation to let through first


@dataclass(frozen=True)
class TaskChange:
    """A task started running, or stopped: what an environment's stand-in Superset needs."""

    running: bool
    task_arn: str
    address: str | None  # the address its network interface has (public, else private)
    pr: int | None
    sha: str | None
    task_definition_arn: str
    environment: dict[str, str] = field(repr=False)  # the app container's: has the password
    crash_looping: bool = False  # its workers keep failing: Superset answers 503


TaskListener = Callable[[TaskChange], None]


@dataclass(frozen=True)
class Network:
    """What ``setup_network`` created, and the settings that point the bot at it."""

    region: str
    vpc_id: str
    subnet_id: str
    security_group_id: str
    cluster: str
    cluster_arn: str

    def env(self) -> dict[str, str]:
        return {
            "AWS_REGION": self.region,
            "ECS_CLUSTER": self.cluster,
            "ECS_SUBNETS": self.subnet_id,
            "ECS_SECURITY_GROUPS": self.security_group_id,
        }

    def settings(self) -> dict[str, Any]:
        """The same, as ``Settings`` fields (for a bot built in the same process)."""
        return {
            "aws_region": self.region,
            "ecs_cluster": self.cluster,
            "ecs_subnets": [self.subnet_id],
            "ecs_security_groups": [self.security_group_id],
        }


class EcsStandIn:
    """Makes moto's ECS behave like ECS while installed (see the module docstring)."""

    def __init__(
        self,
        *,
        clock: Clock = SYSTEM_CLOCK,
        drain_seconds: float = 20.0,
        stable_seconds: float = 3.0,
        public_ip: str | None = None,
        private_ip: str | None = None,
        loopback_addresses: bool = False,
        seed: int | None = None,
    ) -> None:
        self.clock = clock
        self.drain_seconds = drain_seconds
        self.stable_seconds = stable_seconds
        self.public_ip = public_ip
        self.private_ip = private_ip
        self.calls: Counter[str] = Counter()
        self.injected: Counter[str] = Counter()
        self._random = random.Random(seed)
        self._lock = threading.RLock()
        self._records: list[_Record] = []
        self._missing_images: set[str] = set()
        self._crashing: dict[str, _Crash] = {}  # image → how it fails, and what it logs
        self._task_logs: dict[str, _TaskLog] = {}  # task ARN → its log
        self._throttle: dict[str, float] = {}
        self._faults: dict[str, deque[_Fault]] = {}
        self._patches: list[tuple[type, str, object]] = []
        self._loopback = loopback_addresses
        self._addresses = iter(loopback_addresses_from())
        self._listeners: list[TaskListener] = []
        self._changes: list[TaskChange] = []  # told to the listeners once the lock is free

    # ----- lifecycle ------------------------------------------------------

    def install(self) -> EcsStandIn:
        global _installed
        with _install_lock:
            if _installed is not None:
                raise RuntimeError("another EcsStandIn is installed; uninstall it first")
            for cls, protocol in (
                (EC2ContainerServiceResponse, "json"),
                (EC2Response, "ec2"),
                (LogsResponse, "json"),
            ):
                self._patch(cls, "call_action", self._dispatcher(cls.call_action, protocol))
            self._patch(
                LogsResponse,
                "get_log_events",
                _bind(self._get_log_events, LogsResponse.get_log_events),
            )
            handlers: dict[str, Callable[[BaseResponse, Callable[..., Any]], Any]] = {
                "create_service": self._create_service,
                "delete_service": self._delete_service,
                "update_service": self._update_service,
                "list_services": self._list_services,
                "describe_services": self._describe_services,
                "list_tasks": self._list_tasks,
            }
            for name, handler in handlers.items():
                original = getattr(EC2ContainerServiceResponse, name)
                self._patch(EC2ContainerServiceResponse, name, _bind(handler, original))
            _installed = self
        return self

    def uninstall(self) -> None:
        global _installed
        with _install_lock:
            for cls, name, saved in reversed(self._patches):
                if saved is _MISSING:
                    delattr(cls, name)
                else:
                    setattr(cls, name, saved)
            self._patches.clear()
            if _installed is self:
                _installed = None

    def __enter__(self) -> EcsStandIn:
        return self.install()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.uninstall()

    def _patch(self, cls: type, name: str, value: object) -> None:
        self._patches.append((cls, name, cls.__dict__.get(name, _MISSING)))
        setattr(cls, name, value)

    # ----- knobs for tests and the sandbox ---------------------------------

    def on_task(self, listener: TaskListener) -> Callable[[], None]:
        """Call ``listener`` when a task starts running or stops; returns the unsubscribe.

        Listeners run on the request thread that moved the task, after the stand-in's lock
        is released and before that request is answered: a caller that sees a task RUNNING
        finds whatever the listener started already there.
        """
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def _tell(self) -> None:
        with self._lock:
            changes, self._changes = self._changes, []
            listeners = list(self._listeners)
        for change in changes:
            for listener in listeners:
                listener(change)

    def reset(self) -> None:
        """Forget the call counts (e.g. after setting up a scenario)."""
        with self._lock:
            self.calls.clear()
            self.injected.clear()

    def mark_image_missing(self, image: str) -> None:
        with self._lock:
            self._missing_images.add(image)

    def mark_image_present(self, image: str) -> None:
        with self._lock:
            self._missing_images.discard(image)

    def crash_on_boot(self, image: str, lines: Sequence[str] = CRASH_LINES) -> None:
        """Tasks of ``image`` log ``lines`` (a traceback) and stop with exit code 1 as soon
        as they start. (Each line is one log event; a line may hold newlines.)"""
        with self._lock:
            self._crashing[image] = ("boot", tuple(lines))

    def crash_loop(self, image: str, lines: Sequence[str] = LOOP_LINES) -> None:
        """Tasks of ``image`` boot and keep running while they log ``lines`` (workers failing
        to boot) every ``LOOP_SECONDS``."""
        with self._lock:
            self._crashing[image] = ("loop", tuple(lines))

    def chatter(self, image: str, lines: Sequence[str]) -> None:
        """Tasks of ``image`` boot and serve, and log ``lines`` every ``LOOP_SECONDS`` (an
        environment that keeps printing what it should not)."""
        with self._lock:
            self._crashing[image] = ("chatter", tuple(lines))

    def fix(self, image: str) -> None:
        """Tasks of ``image`` started from now on boot normally."""
        with self._lock:
            self._crashing.pop(image, None)

    def log_lines(self, task_arn: str) -> list[str]:
        """What the task's container has logged so far (inspection: not counted)."""
        with self._lock:
            self._tick()
            written = self._task_logs.get(task_arn)
            lines = (
                [e.message for e in written.group.streams[written.stream].events]
                if written is not None and written.stream in written.group.streams
                else []
            )
        self._tell()
        return lines

    def throttle(self, operation: str, probability: float) -> None:
        """Answer ``operation`` (e.g. "DescribeServices") with throttling this often."""
        with self._lock:
            self._throttle[operation] = probability

    def fail_next(
        self,
        operation: str,
        code: str,
        message: str,
        status: int | None = None,
        *,
        after: int = 0,
    ) -> None:
        """Answer one ``operation`` request with this AWS error (queued, one-shot).

        ``after`` lets that many requests of the operation through first, to aim at a
        poll inside a wait rather than the call that starts it.
        """
        if status is None:
            status = 500 if code in _SERVER_FAULT_CODES else 400
        with self._lock:
            queue = self._faults.setdefault(operation, deque())
            queue.append(_Fault(code, message, status, after))

    def setup_network(
        self,
        *,
        region: str = DEFAULT_REGION,
        cluster: str = "superset-ci",
        endpoint_url: str | None = None,
    ) -> Network:
        """A VPC, a subnet, a security group and a cluster for environments; not counted."""
        ec2 = inspection_client("ec2", region, endpoint_url)
        ecs = inspection_client("ecs", region, endpoint_url)
        vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        # As in VPCs for public Fargate tasks; moto's ECS also needs it to build a
        # task's ENI (it reads the ENI's private DNS name, set only with hostnames on).
        ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
        subnet_id = ec2.create_subnet(
            VpcId=vpc_id, CidrBlock="10.0.1.0/24", AvailabilityZone=f"{region}a"
        )["Subnet"]["SubnetId"]
        group_id = ec2.create_security_group(
            GroupName="showtime-environments",
            Description="Superset PR environments",
            VpcId=vpc_id,
        )["GroupId"]
        cluster_arn = ecs.create_cluster(clusterName=cluster)["cluster"]["clusterArn"]
        return Network(region, vpc_id, subnet_id, group_id, cluster, cluster_arn)

    # ----- request entry ---------------------------------------------------------

    def _dispatcher(
        self, original: Callable[[BaseResponse], Any], protocol: str
    ) -> Callable[[BaseResponse], Any]:
        def call_action(response: BaseResponse) -> Any:
            try:
                return answer(response)
            finally:
                self._tell()

        def answer(response: BaseResponse) -> Any:
            action = response._get_action()
            if INSPECTION_AGENT in str(response.headers.get("User-Agent", "")):
                # Set-up and inspection by tests, the sandbox console or benchmarks: not
                # the bot's traffic, so neither counted nor subject to injected faults.
                # (Marked per request, not per thread: moto's server answers on its own.)
                with self._lock:
                    self._tick()
                    return original(response)
            with self._lock:
                self.calls[action] += 1
                fault = self._fault_for(action, protocol)
                if fault is not None:
                    self.injected[action] += 1
                    return _render_fault(fault, protocol)
                self._tick()
                return original(response)

        return call_action

    def _fault_for(self, action: str, protocol: str) -> _Fault | None:
        queued = self._faults.get(action)
        if queued:
            if queued[0].skip > 0:
                queued[0].skip -= 1
                return None
            return queued.popleft()
        probability = self._throttle.get(action, 0.0)
        if probability and self._random.random() < probability:
            code, message = _THROTTLE[protocol]
            return _Fault(code, message, 400)
        return None

    # ----- ECS handlers (run inside moto's call_action, so its errors serialize) --

    def _create_service(self, response: BaseResponse, original: Callable[..., Any]) -> Any:
        backend = _backend(response)
        cluster = backend._get_cluster(response._get_param("cluster", "default"))
        name = str(response._get_param("serviceName"))
        token = str(response._get_param("clientToken") or "")
        existing = backend.services.get(f"{cluster.name}:{name}")
        if existing is not None and existing.status in ("ACTIVE", "DRAINING"):
            record = _record_of(existing)
            if existing.status == "ACTIVE" and token and record and record.client_token == token:
                return ActionResult({"service": existing})
            raise InvalidParameterException(NOT_IDEMPOTENT)
        result = original(response)
        service = backend.services[f"{cluster.name}:{name}"]
        deployment_config = response._get_param("deploymentConfiguration") or {}
        breaker = deployment_config.get("deploymentCircuitBreaker") or {}
        record = _Record(
            backend=backend,
            cluster=cluster,
            service=service,
            client_token=token,
            circuit_breaker=bool(breaker.get("enable")),
        )
        setattr(service, _RECORD_ATTR, record)
        service.created_at = self.clock.now()  # type: ignore[attr-defined]
        first_id = (
            str(service.deployments[0]["id"]) if service.deployments else self._deployment_id()
        )
        self._start_deployment(record, first_id)
        self._records.append(record)
        self._publish(record)
        return result

    def _delete_service(self, response: BaseResponse, original: Callable[..., Any]) -> Any:
        service, record = _named_service(response)
        if record is None:
            return original(response)
        if service.status != "ACTIVE":
            return ActionResult({"service": service})  # ECS answers with it as it is
        if service.desired_count > 0 and not response._get_param("force", False):
            raise InvalidParameterException(
                "The service cannot be stopped while it is scaled above 0."
            )
        now = self.clock.monotonic()
        service.status = "DRAINING"
        service.desired_count = 0
        record.deleted_at = now
        for deployment in record.deployments:
            deployment.desired = 0
            for task in _live(deployment.tasks):
                self._stop(record, task, f"Service {service.name} was deleted", "ServiceDeleted")
        self._publish(record)
        return ActionResult({"service": service})

    def _update_service(self, response: BaseResponse, original: Callable[..., Any]) -> Any:
        service, record = _named_service(response)
        if record is None:
            return original(response)
        if service.status != "ACTIVE":
            raise ServiceNotActiveException()
        requested = response._get_param("taskDefinition")
        task_definition = (
            _backend(response).describe_task_definition(requested).arn
            if requested
            else service.task_definition
        )
        desired = response._get_param("desiredCount")
        if desired is not None:
            service.desired_count = int(desired)
        changed = task_definition != service.task_definition
        service.task_definition = task_definition
        if changed or response._get_param("forceNewDeployment", False):
            for deployment in record.deployments:
                deployment.status = "ACTIVE"
            self._start_deployment(record, self._deployment_id())
        else:
            primary = record.deployments[0]
            primary.desired = service.desired_count
            primary.rollout = "IN_PROGRESS"
        self._tick()
        return ActionResult({"service": service})

    def _list_services(self, response: BaseResponse, original: Callable[..., Any]) -> Any:
        backend = _backend(response)
        cluster = backend._get_cluster(response._get_param("cluster", "default"))
        launch_type = response._get_param("launchType")
        strategy = response._get_param("schedulingStrategy")
        arns = sorted(
            service.arn
            for service in backend.services.values()
            if service.cluster_name == cluster.name
            and service.status == "ACTIVE"
            and (launch_type is None or service.launch_type == launch_type)
            and (strategy is None or service.scheduling_strategy == strategy)
        )
        page_size = int(response._get_param("maxResults") or 10)
        if not 1 <= page_size <= 100:
            raise InvalidParameterException("maxResults must be between 1 and 100.")
        start = _decode_token(response._get_param("nextToken"))
        result: dict[str, Any] = {"serviceArns": arns[start : start + page_size]}
        if start + page_size < len(arns):
            result["nextToken"] = _encode_token(start + page_size)
        return ActionResult(result)

    def _describe_services(self, response: BaseResponse, original: Callable[..., Any]) -> Any:
        if len(response._get_param("services", []) or []) > 10:
            raise InvalidParameterException("services can have at most 10 items.")
        return original(response)

    def _list_tasks(self, response: BaseResponse, original: Callable[..., Any]) -> Any:
        backend = _backend(response)
        tasks = backend.list_tasks(
            response._get_param("cluster", "default"),
            response._get_param("containerInstance"),
            response._get_param("family"),
            response._get_param("startedBy"),
            None,
            response._get_param("desiredStatus") or "RUNNING",
        )
        name = response._get_param("serviceName")
        if name:
            group = f"service:{str(name).rsplit('/', 1)[-1]}"
            tasks = [task for task in tasks if task.group == group]
        return ActionResult({"taskArns": [task.task_arn for task in tasks]})

    # ----- time passing --------------------------------------------------------------

    def _tick(self) -> None:
        """Bring every service up to the clock: drains end, tasks start or fail."""
        now = self.clock.monotonic()
        for record in list(self._records):
            service = record.service
            if service.status == "DRAINING":
                if record.deleted_at is not None and now >= record.deleted_at + self.drain_seconds:
                    service.status = "INACTIVE"
                    self._records.remove(record)
                continue
            if service.status != "ACTIVE":
                self._records.remove(record)
                continue
            self._advance(record, now)
            self._publish(record)
        for arn, written in list(self._task_logs.items()):
            if not written.loop:
                continue
            task = self._task_of(arn)
            if task is None or task.status != "RUNNING":
                written.loop = ()
            else:
                self._loop(written, now)

    def _advance(self, record: _Record, now: float) -> None:
        primary = record.deployments[0]
        while primary.rollout == "IN_PROGRESS":
            due = sorted(
                (primary.ready_at[t.task_arn], t)
                for t in primary.tasks
                if t.status == "PENDING" and primary.ready_at[t.task_arn] <= now
            )
            if not due:
                break
            when, task = due[0]
            image = self._missing_image_of(record, task)
            crash = self._crash_of(record, task)
            if image is None:
                task.started_at = self._wall(when, now)  # type: ignore[attr-defined]
                for container in task.containers:
                    container.last_status = "RUNNING"
                self._write_log(record, task, when, now, crash)
            if image is None and (crash is None or crash[0] in ("loop", "chatter")):
                task.status = "RUNNING"
                looping = crash is not None and crash[0] == "loop"
                self._changed(record, task, running=True, crash_looping=looping)
            else:
                if image is not None:
                    self._stop(record, task, _pull_error(image), "TaskFailedToStart", when, now)
                else:
                    self._stop(
                        record, task, ESSENTIAL_EXITED, "EssentialContainerExited", when, now
                    )
                    for container in task.containers:
                        container.exitCode = 1
                primary.failed += 1
                if record.circuit_breaker and primary.failed >= CIRCUIT_BREAKER_FAILURES:
                    primary.rollout = "FAILED"
                    primary.reason = "ECS deployment circuit breaker: tasks failed to start."
                    break
                # ECS relaunches, backing off after repeated failures.
                backoff = self.stable_seconds * 2 ** max(primary.failed - 3, 0)
                self._launch(record, primary, when + min(backoff, 600.0))
            self._complete_if_running(record, primary)
        if primary.rollout == "IN_PROGRESS":
            self._scale(record, primary, now)

    def _crash_of(self, record: _Record, task: _ServiceTask) -> _Crash | None:
        definition = record.backend.describe_task_definition(task.task_definition_arn)
        for container in definition.container_definitions:
            crash = self._crashing.get(str(container.get("image")))
            if crash is not None:
                return crash
        return None

    # ----- the containers' logs ------------------------------------------------------

    def _write_log(
        self,
        record: _Record,
        task: _ServiceTask,
        when: float,
        now: float,
        crash: _Crash | None,
    ) -> None:
        """The container started: its stream appears with what it logs while it boots."""
        found = self._log_group(record, task)
        if found is None:
            return
        group, prefix, app = found
        task_id = task.task_arn.rsplit("/", 1)[-1]
        stream = f"{prefix}/{app.get('name')}/{task_id}" if prefix else task_id
        if stream not in group.streams:
            group.create_log_stream(stream)
        # A looping task fails its first worker a second after the boot lines.
        loop = crash[1] if crash and crash[0] in ("loop", "chatter") else ()
        written = _TaskLog(group, stream, loop=loop, next_loop_at=when + 1.0)
        self._task_logs[task.task_arn] = written
        port = next((m.get("containerPort") for m in app.get("portMappings") or []), 8088)
        boot = [line.format(port=port) for line in BOOT_LINES]
        self._append(written, list(crash[1]) if crash and crash[0] == "boot" else boot, when, now)
        if written.loop:
            self._loop(written, now)

    def _log_group(
        self, record: _Record, task: _ServiceTask
    ) -> tuple[LogGroup, str, dict[str, Any]] | None:
        """The task's awslogs group (made if missing, as ``awslogs-create-group`` does —
        without it ECS would not start the task), its stream prefix and its app container."""
        definition = record.backend.describe_task_definition(task.task_definition_arn)
        app: dict[str, Any] = definition.container_definitions[0]
        config: dict[str, Any] = app.get("logConfiguration") or {}
        options: dict[str, Any] = config.get("options") or {}
        name = options.get("awslogs-group")
        if config.get("logDriver") != "awslogs" or not name:
            return None
        region = str(options.get("awslogs-region") or record.backend.region_name)
        backend = logs_backends[record.backend.account_id][region]
        if name not in backend.groups:
            backend.create_log_group(str(name), {})
        return backend.groups[str(name)], str(options.get("awslogs-stream-prefix") or ""), app

    def _loop(self, written: _TaskLog, now: float) -> None:
        """A crash-looping task's failed workers up to ``now`` (bounded after a long jump)."""
        rounds = 0
        while written.next_loop_at <= now and rounds < 20:
            self._append(written, list(written.loop), written.next_loop_at, now)
            written.next_loop_at += LOOP_SECONDS
            rounds += 1
        if written.next_loop_at <= now:
            written.next_loop_at = now + LOOP_SECONDS

    def _append(self, written: _TaskLog, lines: list[str], when: float, now: float) -> None:
        stream = written.group.streams.get(written.stream)
        if stream is None:
            return
        start = int(self._wall(when, now).timestamp() * 1000)
        stream.put_log_events(
            [{"timestamp": start + index, "message": line} for index, line in enumerate(lines)]
        )

    def _get_log_events(self, response: BaseResponse, original: Callable[..., Any]) -> Any:
        assert isinstance(response, LogsResponse)
        backend = response.logs_backend
        group = backend.groups.get(str(response._get_param("logGroupName")))
        if group is not None and response._get_param("logStreamName") not in group.streams:
            # moto says "log group" for a missing stream too; CloudWatch says which.
            raise ResourceNotFoundException("The specified log stream does not exist.")
        return original(response)

    def _scale(self, record: _Record, primary: _Deployment, now: float) -> None:
        live = _live(primary.tasks)
        for _ in range(primary.desired - len(live)):
            self._launch(record, primary, now + self.stable_seconds)
        for task in live[primary.desired :]:
            self._stop(record, task, "Scaling activity initiated by (deployment)", "ScaledIn")
        self._complete_if_running(record, primary)

    def _complete_if_running(self, record: _Record, primary: _Deployment) -> None:
        running = [t for t in primary.tasks if t.status == "RUNNING"]
        if primary.rollout != "IN_PROGRESS" or len(running) < primary.desired:
            return
        primary.rollout = "COMPLETED"
        primary.reason = f"ECS deployment {primary.id} completed."
        for old in record.deployments[1:]:
            for task in _live(old.tasks):
                self._stop(
                    record,
                    task,
                    f"Scaling activity initiated by (deployment {primary.id})",
                    "ServiceSchedulerInitiated",
                )
        record.deployments = [primary]

    def _start_deployment(self, record: _Record, deployment_id: str) -> None:
        service = record.service
        now = self.clock.now()
        deployment = _Deployment(
            id=deployment_id,
            task_definition=str(service.task_definition),
            desired=service.desired_count,
            created_at=now,
            updated_at=now,
        )
        record.deployments.insert(0, deployment)
        for _ in range(deployment.desired):
            self._launch(record, deployment, self.clock.monotonic() + self.stable_seconds)
        self._complete_if_running(record, deployment)

    def _launch(self, record: _Record, deployment: _Deployment, ready_at: float) -> None:
        service = record.service
        backend = record.backend
        task_definition = backend.describe_task_definition(deployment.task_definition)
        network = service.network_configuration or None
        task = _ServiceTask(
            cluster=record.cluster,
            task_definition=task_definition,
            container_instance_arn=None,
            resource_requirements=None,
            backend=backend,
            group=f"service:{service.name}",
            launch_type="FARGATE",
            started_by=deployment.id,
            tags=list(service.tags) if service.propagate_tags == "SERVICE" else [],
            networking_configuration=network,
        )
        task.status = "PENDING"
        task.created_at = self.clock.now()  # type: ignore[attr-defined]
        eni = _eni(task, backend)
        if eni is not None and self._loopback:
            address = next(self._addresses)  # the environment's own: public and private
            eni.private_ip_address = address
            eni.public_ip = address
        elif eni is not None:
            vpc = (network or {}).get("awsvpcConfiguration") or {}
            if vpc.get("assignPublicIp") == "ENABLED":
                eni.public_ip = self.public_ip or f"203.0.113.{self._random.randint(1, 254)}"
            if self.private_ip:
                eni.private_ip_address = self.private_ip
        backend.tasks.setdefault(record.cluster.name, {})[task.task_arn] = task
        self._log_group(record, task)  # the stream only comes once its container starts
        deployment.tasks.append(task)
        deployment.ready_at[task.task_arn] = ready_at

    def _stop(
        self,
        record: _Record,
        task: _ServiceTask,
        reason: str,
        code: str,
        when: float | None = None,
        now: float | None = None,
    ) -> None:
        current = self.clock.monotonic() if now is None else now
        if task.status == "RUNNING":
            self._changed(record, task, running=False)
        task.status = "STOPPED"
        task.desired_status = "STOPPED"
        task.stopped_reason = reason
        task.stop_code = code  # type: ignore[attr-defined]
        task.stopped_at = self._wall(current if when is None else when, current)  # type: ignore[attr-defined]
        for container in task.containers:
            container.last_status = "STOPPED"
            if code == "TaskFailedToStart":
                container.reason = reason  # type: ignore[attr-defined]
        eni = _eni(task, record.backend)
        if eni is not None:
            ec2_backends[record.backend.account_id][
                record.backend.region_name
            ].delete_network_interface(eni.id)

    def _changed(
        self, record: _Record, task: _ServiceTask, *, running: bool, crash_looping: bool = False
    ) -> None:
        """Queue what the ``on_task`` listeners hear (told once the lock is released)."""
        eni = _eni(task, record.backend)
        address = (eni.public_ip or eni.private_ip_address) if eni is not None else None
        tags = {tag.get("key"): tag.get("value") for tag in record.service.tags or []}
        definition = record.backend.describe_task_definition(task.task_definition_arn)
        app: dict[str, Any] = definition.container_definitions[0]
        environment = {
            str(e.get("name")): str(e.get("value", "")) for e in app.get("environment") or []
        }
        pr = tags.get("pr")
        self._changes.append(
            TaskChange(
                running=running,
                task_arn=task.task_arn,
                address=str(address) if address else None,
                pr=int(pr) if pr and str(pr).isdigit() else None,
                sha=tags.get("sha"),
                task_definition_arn=str(task.task_definition_arn),
                environment=environment,
                crash_looping=crash_looping,
            )
        )

    def _task_of(self, arn: str) -> _ServiceTask | None:
        for record in self._records:
            for deployment in record.deployments:
                for task in deployment.tasks:
                    if task.task_arn == arn:
                        return task
        return None

    def _missing_image_of(self, record: _Record, task: _ServiceTask) -> str | None:
        definition = record.backend.describe_task_definition(task.task_definition_arn)
        for container in definition.container_definitions:
            if container.get("image") in self._missing_images:
                return str(container["image"])
        return None

    def _publish(self, record: _Record) -> None:
        """Copy the stand-in's view into what moto serializes for DescribeServices."""
        service = record.service
        running = pending = 0
        deployments = []
        for deployment in record.deployments:
            dep_running = sum(1 for t in deployment.tasks if t.status == "RUNNING")
            dep_pending = sum(1 for t in deployment.tasks if t.status == "PENDING")
            running += dep_running
            pending += dep_pending
            deployments.append(
                {
                    "id": deployment.id,
                    "status": deployment.status,
                    "taskDefinition": deployment.task_definition,
                    "desiredCount": deployment.desired,
                    "pendingCount": dep_pending,
                    "runningCount": dep_running,
                    "failedTasks": deployment.failed,
                    "createdAt": deployment.created_at,
                    "updatedAt": self.clock.now(),
                    "launchType": service.launch_type,
                    "networkConfiguration": service.network_configuration or None,
                    "rolloutState": deployment.rollout,
                    "rolloutStateReason": deployment.reason,
                }
            )
        service.running_count = running
        service.pending_count = pending
        service.deployments = deployments

    def _deployment_id(self) -> str:
        return f"ecs-svc/{self._random.randint(10**18, 10**19 - 1)}"

    def _wall(self, when: float, now: float) -> datetime:
        """Wall-clock time of monotonic instant ``when`` (ticks are lazy, so it may be past)."""
        return self.clock.now() - timedelta(seconds=max(now - when, 0.0))


def loopback_addresses_from(start: int = 2) -> Iterator[str]:
    """127.0.0.2, 127.0.0.3, … — Linux routes all of 127/8 to the loopback interface."""
    n = start
    while True:
        last = n & 255
        if last not in (0, 255):
            yield f"127.{(n >> 16) & 255}.{(n >> 8) & 255}.{last}"
        n += 1


def _bind(
    handler: Callable[[BaseResponse, Callable[..., Any]], Any], original: Callable[..., Any]
) -> Callable[[BaseResponse], Any]:
    def method(response: BaseResponse) -> Any:
        return handler(response, original)

    method.__name__ = getattr(original, "__name__", "method")
    return method


def _backend(response: BaseResponse) -> EC2ContainerServiceBackend:
    assert isinstance(response, EC2ContainerServiceResponse)
    return response.ecs_backend


def _named_service(response: BaseResponse) -> tuple[Service, _Record | None]:
    """The service a Delete/UpdateService request names, and the stand-in's record of it."""
    service = _backend(response)._get_service(
        response._get_param("cluster", "default"), response._get_param("service")
    )
    return service, _record_of(service)


def _record_of(service: Service) -> _Record | None:
    record = getattr(service, _RECORD_ATTR, None)
    return record if isinstance(record, _Record) else None


def _live(tasks: list[_ServiceTask]) -> list[_ServiceTask]:
    return [t for t in tasks if t.status in ("PENDING", "RUNNING")]


def _eni(task: Task, backend: EC2ContainerServiceBackend) -> Any:
    ec2 = ec2_backends[backend.account_id][backend.region_name]
    attachments: list[Any] = list(task.attachments)
    for attachment in attachments:
        for detail in attachment.get("details", []):
            if detail.get("name") == "networkInterfaceId" and detail["value"] in ec2.enis:
                return ec2.enis[detail["value"]]
    return None


def _pull_error(image: str) -> str:
    first = image.split("/", 1)[0]
    ref = image if "." in first or ":" in first or first == "localhost" else f"docker.io/{image}"
    return (
        "CannotPullContainerError: pull image manifest has been retried 5 time(s): "
        f"failed to resolve ref {ref}: {ref}: not found"
    )


def _render_fault(fault: _Fault, protocol: str) -> tuple[int, dict[str, str], str]:
    request_id = str(uuid.uuid4())
    if protocol == "json":
        body = json.dumps({"__type": fault.code, "message": fault.message})
        headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": request_id}
        return fault.status, headers, body
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<Response><Errors><Error><Code>{escape(fault.code)}</Code>"
        f"<Message>{escape(fault.message)}</Message></Error></Errors>"
        f"<RequestID>{request_id}</RequestID></Response>"
    )
    return fault.status, {"Content-Type": "text/xml"}, body


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def _decode_token(token: object) -> int:
    if not token:
        return 0
    try:
        offset = int(json.loads(base64.urlsafe_b64decode(str(token)))["offset"])
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidParameterException("Invalid nextToken.") from exc
    return max(offset, 0)


def inspection_client(
    service: Literal["ecs", "ec2"], region: str, endpoint_url: str | None = None
) -> Any:
    """A boto3 client whose calls the stand-in neither counts nor faults (see call_action)."""
    return new_session().client(
        service,
        region_name=region,
        endpoint_url=endpoint_url,
        aws_access_key_id=FAKE_KEY,
        aws_secret_access_key=FAKE_KEY,
        config=Config(user_agent_extra=INSPECTION_AGENT),
    )


def cli_environment(
    ecs: Any,
    network: Network,
    pr: int,
    sha: str,
    *,
    cpu: str = "512",
    memory: str = "2048",
    container: dict[str, Any] | None = None,
) -> str:
    """An environment as the superset-showtime CLI makes it, through ``ecs`` (a boto3
    client): its own task definition (no ``ADMIN_PASSWORD``), a service tagged the CLI's
    way (``github_user``), no record in the bot's job store. Returns the task definition."""
    arn = str(
        ecs.register_task_definition(
            family="superset-ci-cli",
            cpu=cpu,
            memory=memory,
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            containerDefinitions=[
                container or {"name": "superset", "image": "apache/superset:cli"}
            ],
        )["taskDefinition"]["taskDefinitionArn"]
    )
    ecs.create_service(
        cluster=network.cluster,
        serviceName=f"pr-{pr}-{sha}-service",
        taskDefinition=arn,
        desiredCount=1,
        launchType="FARGATE",
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": [network.subnet_id],
                "securityGroups": [network.security_group_id],
                "assignPublicIp": "ENABLED",
            }
        },
        tags=[
            {"key": "showtime_managed", "value": "true"},
            {"key": "pr", "value": str(pr)},
            {"key": "sha", "value": sha},
            {"key": "github_user", "value": "octocat"},
        ],
    )
    return arn


def known_services(network: Network, endpoint_url: str | None = None) -> list[dict[str, Any]]:
    """Every service ECS knows of, ACTIVE, DRAINING or INACTIVE, as DescribeServices says.

    What a person checks in the console; ListServices would hide the DRAINING ones, so
    the names come from moto's backend and the states from the stand-in's answers.
    """
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ecs.models import ecs_backends

    backend = ecs_backends[DEFAULT_ACCOUNT_ID][network.region]
    names = sorted({service.name for service in backend.services.values()})
    ecs = inspection_client("ecs", network.region, endpoint_url)
    found: list[dict[str, Any]] = []
    for start in range(0, len(names), 10):
        result = ecs.describe_services(cluster=network.cluster, services=names[start : start + 10])
        found.extend(result["services"])
    return found


def start_server(port: int = 0, host: str = "127.0.0.1") -> tuple[ThreadedMotoServer, str]:
    """A moto server on loopback (port 0: any free port); returns it and its endpoint URL."""
    # One werkzeug line per AWS request would drown the sandbox console and test logs.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    bound_host, bound_port = server.get_host_and_port()
    return server, f"http://{bound_host}:{bound_port}"


__all__ = [
    "DEFAULT_REGION",
    "FAKE_KEY",
    "NOT_IDEMPOTENT",
    "EcsStandIn",
    "Network",
    "TaskChange",
    "start_server",
]
