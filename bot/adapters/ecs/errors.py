"""What can go wrong talking to ECS, told so a person knows what to do next (SPEC §6, §7).

AWS answers with an error code; whether that code means "try again later"
(throttling, 5xx) or "this will never work" (access denied, unknown cluster,
invalid parameters) decides between a retry on the clock and failing at once. A
misconfiguration must fail fast with the AWS code and a next step that names the
setting or IAM action to fix — never look like a ten-minute wait. This module
holds that classification and wording; ``calls`` applies it to each call.
"""

from __future__ import annotations

from typing import Any

from bot.errors import RemoteError, StoppedTaskError, WaitTimeoutError

# Error codes that mean "try again later", whichever AWS service sent them.
TRANSIENT_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "SlowDown",
        "ServerException",
        "InternalFailure",
        "InternalError",
        "InternalServerError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "Unavailable",
        "RequestTimeout",
        "RequestTimeoutException",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)
_ACCESS_CODES = frozenset(
    {"AccessDeniedException", "AccessDenied", "UnauthorizedOperation", "UnauthorizedException"}
)
_CREDENTIAL_CODES = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "ExpiredTokenException",
        "ExpiredToken",
        "AuthFailure",
        "IncompleteSignature",
    }
)

# Both messages ECS gives when a same-name service is still ACTIVE or DRAINING.
_NAME_TAKEN_MESSAGES = ("creation of service was not idempotent", "still draining")


class EcsError(RemoteError):
    """An AWS call failed for good. ``transient`` means retries ran out, not that it is broken."""

    def __init__(
        self,
        message: str,
        next_action: str = "",
        *,
        operation: str,
        code: str = "",
        resource: str = "",
        aws_message: str = "",
        transient: bool = False,
    ) -> None:
        super().__init__(
            message,
            next_action,
            service="AWS",
            operation=operation,
            code=code,
            resource=resource,
        )
        self.aws_message = aws_message
        self.transient = transient


class NotIdempotentError(EcsError):
    """CreateService still said the name is taken right after the name was cleared."""


class TasksStoppedError(EcsError, StoppedTaskError):
    """A task of the service's current deployment stopped; ``stopped_reason`` quotes ECS,
    ``task`` is its ARN (its log is the one to show) and ``started`` says whether its
    container ever ran."""

    def __init__(
        self,
        message: str,
        next_action: str = "",
        *,
        resource: str,
        stopped_reason: str,
        image: str | None,
        image_missing: bool,
        task: str = "",
        started: bool = True,
    ) -> None:
        super().__init__(
            message,
            next_action,
            operation="DescribeTasks",
            code="TaskStopped",
            resource=resource,
            aws_message=stopped_reason,
        )
        self.stopped_reason = stopped_reason
        self.image = image
        self.image_missing = image_missing
        self.task = task
        self.started = started and not image_missing

    @classmethod
    def of_task(cls, name: str, task: dict[str, Any]) -> TasksStoppedError:
        """The error for ``task`` (as DescribeTasks describes it) of service ``name``.

        A missing image is the common case — CI has not built the PR's image yet —
        and gets its own wording (SPEC §6), with the image named.
        """
        reason = str(task.get("stoppedReason") or "")
        containers = task.get("containers") or []
        container_reasons = [str(c["reason"]) for c in containers if c.get("reason")]
        extra = [r for r in container_reasons if r not in reason]
        quoted = "; ".join([r for r in [reason, *extra] if r]) or "no reason given"
        images = [str(c["image"]) for c in containers if c.get("image")]
        image = images[0] if images else None
        arn = str(task.get("taskArn") or "")
        # A task that failed to start (image pull, ENI, secrets) never ran its container.
        started = task.get("stopCode") != "TaskFailedToStart"
        if "CannotPullContainerError" in quoted:
            shown = f"`{image}`" if image else "the image"
            return cls(
                f"image not built yet — CI builds {shown}; press Retry when it exists ({quoted})",
                "",
                resource=name,
                stopped_reason=quoted,
                image=image,
                image_missing=True,
                task=arn,
                started=False,
            )
        # "Next:" names only what the failed card offers: Logs only when there is a log.
        if started:
            next_step = "read its log in the thread (or press Logs), push a fix or press Retry"
        else:
            next_step = "its container never started, so it wrote no log: fix what the reason says, then press Retry"
        return cls(
            f"a task of {name} stopped: {quoted}",
            next_step,
            resource=name,
            stopped_reason=quoted,
            image=image,
            image_missing=False,
            task=arn,
            started=started,
        )


class DrainTimeoutError(WaitTimeoutError):
    """The old service still holds the name after SHOWTIME_DRAIN_TIMEOUT_SECONDS."""

    def __init__(self, message: str, next_action: str, *, name: str, state: str) -> None:
        super().__init__(message, next_action)
        self.name = name
        self.state = state


class StableTimeoutError(WaitTimeoutError):
    """The service did not reach its desired count in SHOWTIME_STABLE_TIMEOUT_SECONDS."""


class Transient(Exception):
    """A call failed in a way worth retrying; ``error`` is what to raise if retries run out.

    Not an ``EcsError`` on purpose: code that handles failures (``except EcsError``)
    must never catch one that is still being retried.
    """

    def __init__(self, error: EcsError) -> None:
        super().__init__(str(error))
        self.error = error


def is_transient(code: str, http_status: int) -> bool:
    return code in TRANSIENT_CODES or http_status >= 500


def next_action(code: str, *, iam_action: str, transient: bool, cluster: str, region: str) -> str:
    """What a person should do about ``code``; ``iam_action`` is e.g. ``ecs:DescribeServices``."""
    if transient:
        return "AWS is busy; press Retry in a minute"
    if code in _ACCESS_CODES:
        return f"check that the bot's IAM policy allows {iam_action}"
    if code in _CREDENTIAL_CODES:
        return "check the bot's AWS credentials"
    if code == "ClusterNotFoundException":
        return f"check ECS_CLUSTER ({cluster}) and AWS_REGION ({region})"
    if code in ("InvalidParameterException", "ClientException"):
        return (
            "check ECS_TASK_DEFINITION_FILE, ECS_SUBNETS and ECS_SECURITY_GROUPS, then press Retry"
        )
    return "press Retry; if it fails again, check the service in the ECS console"


def name_taken(error: EcsError) -> bool:
    """CreateService refused because a same-name service is still ACTIVE or DRAINING."""
    message = error.aws_message.lower()
    return error.code == "InvalidParameterException" and any(
        text in message for text in _NAME_TAKEN_MESSAGES
    )
