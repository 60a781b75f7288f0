"""An environment's own log, read from CloudWatch Logs where ECS's awslogs driver writes it
(SPEC §14), and the console link for people who can open it.

Where: the driver writes container ``<name>`` of task ``<id>`` to the stream
``<awslogs-stream-prefix>/<name>/<id>`` of ``awslogs-group``, in ``awslogs-region``. Those
options are read from the template the bot registers every environment from
(ECS_TASK_DEFINITION_FILE; the app is its first container, as in ``taskdef``), so reading
them costs no DescribeTaskDefinition call. Which task: the one the caller names (a job
knows the task that stopped), else the service's running task — one ListTasks, and a
DescribeTasks only while a redeploy runs an old and a new task side by side (the newest
is the current deployment's). Then one GetLogEvents, from the end of the stream.

Nothing here may fail or delay what a person waits for: what cannot be read becomes the
``LogTail.problem`` sentence, and each call is one request (``AwsCalls.request``: no
retries of the bot's own) on clients with short timeouts (``make_quick_clients``).
"""

from __future__ import annotations

import copy
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Self

from bot.adapters.ecs.calls import AwsCalls, AwsRecorder, make_quick_clients
from bot.adapters.ecs.console import EcsConsole
from bot.adapters.ecs.errors import EcsError, Transient
from bot.adapters.ecs.taskdef import load_template
from bot.clock import SYSTEM_CLOCK, Clock
from bot.config import Settings
from bot.domain.events import LogTail
from bot.errors import ConfigurationError

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_logs import CloudWatchLogsClient

log = logging.getLogger(__name__)

MAX_LINES = 200  # the most one answer reads (`logs <pr> 200`)
MAX_LINE_CHARS = 2000  # a longer line is cut here already: callers show far less
_ACCESS_CODES = frozenset({"AccessDeniedException", "AccessDenied", "UnauthorizedOperation"})


@dataclass(frozen=True)
class LogPlace:
    """Where the app container's log goes, from the task definition's awslogs options."""

    group: str
    prefix: str
    container: str
    region: str

    def stream(self, task_id: str) -> str:
        return f"{self.prefix}/{self.container}/{task_id}"


class EcsLogs:
    """``LogsPort`` on CloudWatch Logs (and ECS, to find the service's task)."""

    def __init__(
        self,
        settings: Settings,
        *,
        ecs_client: ECSClient | None = None,
        logs_client: CloudWatchLogsClient | None = None,
        clock: Clock = SYSTEM_CLOCK,
        recorder: AwsRecorder | None = None,
    ) -> None:
        self._settings = settings
        self._recorder = recorder  # told of the calls of the clients made here
        self._console = EcsConsole(settings)
        self._clock = clock
        self._given = (ecs_client, logs_client)
        self._lock = threading.Lock()
        self._calls: dict[str, AwsCalls] = {}  # per awslogs-region

    def with_clock(self, clock: Clock) -> Self:
        bound = copy.copy(self)
        bound._clock = clock
        return bound

    def console_url(self, service: str) -> str:
        return self._console.console_url(service)

    def tail(self, service: str, lines: int, task: str | None = None) -> LogTail:
        wanted = max(1, min(lines, MAX_LINES))
        try:
            place = self.place()
        except ConfigurationError as exc:
            return LogTail(problem=f"no log: {exc.message}")
        if place is None:
            return LogTail(
                problem="no log: the task definition's app container does not log through "
                "the awslogs driver (with awslogs-group and awslogs-stream-prefix), so the "
                "bot cannot find its log"
            )
        aws = self._aws(place.region)
        if task is None:
            found = self._current_task(aws, service)
            if isinstance(found, LogTail):
                return found
            task = found
        task_id = task.rsplit("/", 1)[-1]
        return self._read(aws, place, task_id, wanted)

    # ----- pieces -----------------------------------------------------------------------

    def place(self) -> LogPlace | None:
        """The app container's awslogs group, stream prefix and region; None without them."""
        template = load_template(self._settings.ecs_task_definition_file)
        app = template["containerDefinitions"][0]
        config = app.get("logConfiguration") or {}
        options = config.get("options") or {}
        group, prefix = options.get("awslogs-group"), options.get("awslogs-stream-prefix")
        if config.get("logDriver") != "awslogs" or not group or not prefix or not app.get("name"):
            return None
        region = str(options.get("awslogs-region") or self._settings.aws_region)
        return LogPlace(str(group), str(prefix), str(app["name"]), region)

    def _aws(self, region: str) -> AwsCalls:
        with self._lock:
            calls = self._calls.get(region)
            if calls is None:
                ecs, logs = self._given
                if ecs is None or logs is None:
                    made_ecs, made_logs = make_quick_clients(
                        self._settings, log_region=region, recorder=self._recorder
                    )
                    ecs, logs = ecs or made_ecs, logs or made_logs
                calls = AwsCalls(
                    ecs,
                    None,
                    self._clock,
                    cluster=self._settings.ecs_cluster,
                    region=self._settings.aws_region,
                    poll_seconds=self._settings.showtime_poll_seconds,
                    logs=logs,
                )
                self._calls[region] = calls
        return calls.with_clock(self._clock)

    def _current_task(self, aws: AwsCalls, service: str) -> str | LogTail:
        """The ARN of the service's running task (the newest, while a redeploy runs two)."""
        cluster = self._settings.ecs_cluster
        try:
            listed = aws.request(
                "ListTasks", service, cluster=cluster, serviceName=service, desiredStatus="RUNNING"
            )
            arns = [str(arn) for arn in listed.get("taskArns") or []][:100]
            if len(arns) > 1:
                described = aws.request("DescribeTasks", service, cluster=cluster, tasks=arns)
                tasks = described.get("tasks") or []
                if tasks:  # the last one launched is the current deployment's
                    return str(max(tasks, key=_created)["taskArn"])
        except (EcsError, Transient) as exc:
            error = exc.error if isinstance(exc, Transient) else exc
            log.info("could not find the task of %s: %s", service, error)
            if error.code in _ACCESS_CODES:
                return LogTail(
                    problem=f"no log: the bot may not look up the tasks of `{service}` — "
                    "add ecs:ListTasks and ecs:DescribeTasks to its IAM policy"
                )
            return LogTail(
                problem=f"could not find the task of `{service}` just now ({error.code}); "
                "try again in a minute"
            )
        if not arns:
            return LogTail(
                problem=f"no log: `{service}` runs no task now (stopped, or its deploy failed — "
                "a failed deploy's log is in its thread)"
            )
        return arns[0]

    def _read(self, aws: AwsCalls, place: LogPlace, task_id: str, wanted: int) -> LogTail:
        stream = place.stream(task_id)
        try:
            # From the end of the stream (startFromHead false): the newest ``wanted`` events.
            response = aws.request(
                "GetLogEvents",
                stream,
                logGroupName=place.group,
                logStreamName=stream,
                limit=wanted,
                startFromHead=False,
            )
        except (EcsError, Transient) as exc:
            error = exc.error if isinstance(exc, Transient) else exc
            log.info("could not read the log %s of %s: %s", stream, place.group, error)
            return LogTail(problem=_problem(error, place, stream, task_id), stream=stream)
        events = response.get("events") or []
        found: list[str] = []
        for event in events:
            message = str(event.get("message") or "").rstrip("\n")
            found.extend(line.rstrip("\r")[:MAX_LINE_CHARS] for line in message.split("\n"))
        if not found:
            return LogTail(
                problem=f"no log yet: task `{task_id}` has written nothing so far", stream=stream
            )
        return LogTail(
            lines=tuple(found[-wanted:]),
            truncated=len(events) >= wanted or len(found) > wanted,
            stream=stream,
        )


def _problem(error: EcsError, place: LogPlace, stream: str, task_id: str) -> str:
    if error.code in _ACCESS_CODES:
        return (
            "no log: the bot may not read logs — add logs:GetLogEvents on the log group "
            f"`{place.group}` to its IAM policy"
        )
    if error.code == "ResourceNotFoundException":
        if "stream" in error.aws_message.lower():
            return (
                f"no log yet: task `{task_id}` has written nothing (no stream `{stream}` in "
                f"`{place.group}`)"
            )
        return (
            f"no log: the log group `{place.group}` does not exist in {place.region} — check "
            "awslogs-group in the task definition (ECS_TASK_DEFINITION_FILE)"
        )
    return f"could not read the log just now ({error.code}); try again in a minute"


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _created(task: dict[str, Any]) -> datetime:
    value = task.get("createdAt") or task.get("startedAt")
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return _EPOCH
