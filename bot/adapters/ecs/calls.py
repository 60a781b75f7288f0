"""Calling AWS: the clients, and the one place the ECS adapter meets botocore (and the
logs reader: CloudWatch Logs goes through the same error translation).

Two layers retry a call, and they are kept apart on purpose. botocore retries a
couple of times at once (throttling, 5xx, timeouts); then ``AwsCalls.call``
retries a few more times with backoff on the injected clock, so a SIGTERM or a
test's FakeClock governs the wait. Waits that poll anyway use ``request`` —
exactly one call — and back off through ``poll_delay`` instead. Either way a
botocore exception leaves here as an ``EcsError`` (or ``Transient`` while it is
worth retrying), classified and worded by ``errors``.

Clients made here can tell an ``AwsRecorder`` (the operators' metrics) of every call they
make, through botocore's own ``after-call`` events: whoever makes the call — the engine,
the logs reader, a wait's poll — it is counted once, after botocore's retries.
"""

from __future__ import annotations

import copy
import functools
import logging
import random
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Self

import boto3
import botocore.loaders
import botocore.session
from botocore import xform_name
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

from bot.adapters.ecs.errors import EcsError, Transient, is_transient, next_action
from bot.clock import Clock
from bot.config import Settings

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_logs import CloudWatchLogsClient

log = logging.getLogger(__name__)

CALL_ATTEMPTS = 4  # ``call`` tries this often (each with botocore's own retries) before failing
_EC2_OPERATIONS = frozenset({"DescribeNetworkInterfaces"})
_LOGS_OPERATIONS = frozenset({"GetLogEvents"})
_STS_OPERATIONS = frozenset({"GetCallerIdentity"})

# (service, operation, outcome), e.g. ("ecs", "DescribeServices", "ok"): see ``record_calls``.
AwsRecorder = Callable[[str, str, str], None]
_ERROR_CODE = re.compile(r"[A-Za-z][A-Za-z0-9._]{0,63}")


def record_calls(client: Any, recorder: AwsRecorder) -> None:
    """Tell ``recorder`` of each call ``client`` makes, once it is answered or given up.

    The outcome is ``ok``, AWS's error code (``ThrottlingException``, ``AccessDenied``…;
    ``4xx``/``5xx`` when the answer has none), or the exception that kept AWS from
    answering (``EndpointConnectionError``, ``ReadTimeoutError``). ``service`` is the API's
    name (``ecs``, ``ec2``, ``logs``).
    """
    service = str(client.meta.service_model.service_name)

    def answered(event_name: str, http_response: Any, parsed: Mapping[str, Any], **_: Any) -> None:
        recorder(service, event_name.rsplit(".", 1)[-1], _outcome(http_response, parsed))

    def unanswered(event_name: str, exception: BaseException, **_: Any) -> None:
        recorder(service, event_name.rsplit(".", 1)[-1], type(exception).__name__)

    client.meta.events.register("after-call", answered)
    client.meta.events.register("after-call-error", unanswered)


def _outcome(http_response: Any, parsed: Mapping[str, Any]) -> str:
    status = int(getattr(http_response, "status_code", 0) or 0)
    if 200 <= status < 300:
        return "ok"
    code = str((parsed.get("Error") or {}).get("Code") or "")
    return code if _ERROR_CODE.fullmatch(code) else f"{status // 100}xx"


def make_clients(
    settings: Settings,
    *,
    max_attempts: int = 2,
    recorder: AwsRecorder | None = None,
) -> tuple[ECSClient, EC2Client]:
    """ECS and EC2 clients with botocore's standard retries (throttling, 5xx, timeouts).

    Only a couple of quick retries here: ``AwsCalls.call``, and every wait's polling,
    retry transient failures again on the injected clock, and two deep layers would
    multiply one call into dozens of requests under throttling.

    A session per call: boto3's default session is not thread-safe to create clients
    from, and jobs run in threads; the API models (megabytes of JSON) are still read
    only once per process. ``AWS_ENDPOINT_URL`` (sandbox, LocalStack) is honoured.
    """
    config = Config(
        region_name=settings.aws_region,
        retries={"mode": "standard", "max_attempts": max_attempts},
        connect_timeout=10,
        read_timeout=30,
        # One connection per job that may call at once (botocore's default is 10).
        max_pool_connections=max(10, settings.showtime_job_workers + 16),
    )
    session = new_session()
    endpoint = settings.aws_endpoint_url or None
    ecs = session.client(
        "ecs", region_name=settings.aws_region, endpoint_url=endpoint, config=config
    )
    ec2 = session.client(
        "ec2", region_name=settings.aws_region, endpoint_url=endpoint, config=config
    )
    if recorder is not None:
        record_calls(ecs, recorder)
        record_calls(ec2, recorder)
    return ecs, ec2


def make_quick_clients(
    settings: Settings, *, log_region: str | None = None, recorder: AwsRecorder | None = None
) -> tuple[ECSClient, CloudWatchLogsClient]:
    """ECS and CloudWatch Logs clients for reading an environment's log (SPEC §14).

    Short timeouts and a single botocore retry (throttling, 5xx only — AccessDenied and
    ResourceNotFound are never retried): a log line is never worth delaying a deploy's
    failure or a heartbeat. ``log_region`` is the task definition's awslogs-region.
    """
    config = Config(
        region_name=settings.aws_region,
        retries={"mode": "standard", "max_attempts": 2},
        connect_timeout=3,
        read_timeout=5,
    )
    session = new_session()
    endpoint = settings.aws_endpoint_url or None
    ecs = session.client(
        "ecs", region_name=settings.aws_region, endpoint_url=endpoint, config=config
    )
    logs = session.client(
        "logs",
        region_name=log_region or settings.aws_region,
        endpoint_url=endpoint,
        config=config,
    )
    if recorder is not None:
        record_calls(ecs, recorder)
        record_calls(logs, recorder)
    return ecs, logs


def make_sts_client(settings: Settings) -> Any:
    """An STS client, for the bot's own account (GetCallerIdentity needs no IAM permission)."""
    config = Config(
        region_name=settings.aws_region,
        retries={"mode": "standard", "max_attempts": 2},
        connect_timeout=10,
        read_timeout=30,
    )
    return new_session().client(
        "sts",
        region_name=settings.aws_region,
        endpoint_url=settings.aws_endpoint_url or None,
        config=config,
    )


def new_session() -> boto3.session.Session:
    """A boto3 session whose API models come from one loader shared by the process."""
    core = botocore.session.get_session()
    core.register_component("data_loader", _shared_loader())
    return boto3.session.Session(botocore_session=core)


@functools.cache
def _shared_loader() -> botocore.loaders.Loader:
    return botocore.loaders.create_loader()


class AwsCalls:
    """Makes one AWS call at a time for the engine, by operation name (``"DescribeServices"``).

    ``resource`` names what the call is about (a service name, an ENI) in errors.
    ``cluster`` and ``region`` only go into the wording of errors that point at them.
    """

    def __init__(
        self,
        ecs: ECSClient,
        ec2: EC2Client | None,
        clock: Clock,
        *,
        cluster: str,
        region: str,
        poll_seconds: float,
        logs: CloudWatchLogsClient | None = None,
        sts: Any = None,
    ) -> None:
        self._ecs = ecs
        self._ec2 = ec2
        self._logs = logs
        self._sts = sts
        self._clock = clock
        self._cluster = cluster
        self._region = region
        self._poll_seconds = poll_seconds
        self._random = random.Random()

    @property
    def clock(self) -> Clock:
        """What retries and polls wait on."""
        return self._clock

    @property
    def cluster(self) -> str:
        return self._cluster

    def with_clock(self, clock: Clock) -> Self:
        """The same clients, retrying on ``clock`` (a job's: a cancel ends its backoff)."""
        bound = copy.copy(self)
        bound._clock = clock
        return bound

    def call(self, operation: str, resource: str, **params: Any) -> dict[str, Any]:
        """One AWS call; transient failures retried a few times with backoff on the clock."""
        attempt = 0
        while True:
            try:
                return self.request(operation, resource, **params)
            except Transient as exc:
                attempt += 1
                if attempt >= CALL_ATTEMPTS:
                    raise exc.error from exc
                delay = self._jitter(min(2.0 ** (attempt - 1), 8.0))
                log.info("AWS %s answered %s; retrying in %.1fs", operation, exc.error.code, delay)
                self._clock.sleep(delay)

    def request(self, operation: str, resource: str, **params: Any) -> dict[str, Any]:
        """Exactly one call (plus botocore's own retries): ``Transient`` or ``EcsError``."""
        client: Any = (
            self._ec2
            if operation in _EC2_OPERATIONS
            else self._logs
            if operation in _LOGS_OPERATIONS
            else self._sts
            if operation in _STS_OPERATIONS
            else self._ecs
        )
        assert client is not None, f"no client for {operation}"
        try:
            result: dict[str, Any] = getattr(client, xform_name(operation))(**params)
            return result
        except ClientError as exc:
            error = self._error(exc, operation, resource)
        except (BotoConnectionError, HTTPClientError) as exc:
            error = EcsError(
                f"AWS {operation} failed for {resource}: could not reach AWS ({exc})",
                "AWS is unreachable from the bot; press Retry in a minute",
                operation=operation,
                code=type(exc).__name__,
                resource=resource,
                aws_message=str(exc),
                transient=True,
            )
        except (NoCredentialsError, PartialCredentialsError) as exc:
            raise EcsError(
                f"AWS {operation} failed for {resource}: no AWS credentials ({exc})",
                "give the bot AWS credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a role)",
                operation=operation,
                code="NoCredentials",
                resource=resource,
            ) from exc
        except BotoCoreError as exc:
            raise EcsError(
                f"AWS {operation} failed for {resource}: {exc}",
                "this looks like a bot bug or bad setting; check the log",
                operation=operation,
                code=type(exc).__name__,
                resource=resource,
                aws_message=str(exc),
            ) from exc
        if error.transient:
            raise Transient(error)
        raise error

    def poll_delay(self, failures: int) -> float:
        """The poll interval, doubled per consecutive transient failure (at most a minute)."""
        poll = self._poll_seconds
        if failures == 0:
            return poll
        return self._jitter(min(poll * 2.0**failures, max(60.0, poll)))

    def _error(self, exc: ClientError, operation: str, resource: str) -> EcsError:
        response: dict[str, Any] = dict(exc.response)
        details = response.get("Error") or {}
        code = str(details.get("Code") or "Unknown")
        message = str(details.get("Message") or "")
        status = int((response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0)
        transient = is_transient(code, status)
        prefix = (
            "ec2"
            if operation in _EC2_OPERATIONS
            else "logs"
            if operation in _LOGS_OPERATIONS
            else "sts"
            if operation in _STS_OPERATIONS
            else "ecs"
        )
        return EcsError(
            f"AWS {operation} failed for {resource}: {code}: {message}".rstrip(": "),
            next_action(
                code,
                iam_action=f"{prefix}:{operation}",
                transient=transient,
                cluster=self._cluster,
                region=self._region,
            ),
            operation=operation,
            code=code,
            resource=resource,
            aws_message=message,
            transient=transient,
        )

    def _jitter(self, seconds: float) -> float:
        # Many jobs throttled at once should not come back at the same instant.
        return seconds * self._random.uniform(0.75, 1.0)
