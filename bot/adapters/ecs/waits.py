"""The engine's two long waits on a service: for ECS to release a name (DRAINING), and for a
new deployment to run (stable).

Both poll with ``AwsCalls.request`` — one call, no retries of its own — and back off through
``poll_delay`` while AWS answers with transient errors, on the calls' clock (a job's: a
cancel, a lost job or SIGTERM ends the wait at once). Both report through
``bot.adapters.waiting``: an event at each change, a heartbeat a minute, the last look at
the deadline.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from bot.adapters.ecs.calls import AwsCalls
from bot.adapters.ecs.errors import (
    DrainTimeoutError,
    EcsError,
    StableTimeoutError,
    TasksStoppedError,
    Transient,
)
from bot.adapters.ecs.services import (
    EPOCH,
    describe_params,
    described_state,
    only_service,
    state_of,
    utc,
)
from bot.adapters.waiting import Wait, WaitText, duration, phrased
from bot.domain.events import Progress, format_elapsed
from bot.orchestrator.ports import ServiceState

log = logging.getLogger(__name__)

STOPPED_CHECK_SECONDS = 30.0  # look for stopped tasks this often even without failedTasks


# ----- DRAINING ------------------------------------------------------------------------------


def wait_released(
    aws: AwsCalls, name: str, state: ServiceState, timeout: float, progress: Progress
) -> None:
    """Until ECS calls ``name`` INACTIVE or MISSING (free for CreateService), or
    ``DrainTimeoutError`` after ``timeout`` seconds."""
    wait = Wait(aws.clock, timeout, "clear_name", progress, _released_text(name, timeout))
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
        wait.pause(aws.poll_delay(failures))
        try:
            response = aws.request("DescribeServices", name, **describe_params(aws, name))
        except Transient as exc:
            failures += 1
            log.info("still waiting for %s; AWS answered %s", name, exc.error.code)
            continue
        failures = 0
        current = described_state(response, name)
        if current in (ServiceState.INACTIVE, ServiceState.MISSING):
            log.info("%s is %s after %s", name, current, format_elapsed(wait.elapsed))
            return
        wait.observe(current.value)


def _released_text(name: str, timeout: float) -> WaitText:
    return phrased(
        f"{name} is {{state}}; waiting for ECS to release the name (up to {duration(timeout)})",
        f"{name} is now {{state}}, {{elapsed}}",
        "still {state}, {elapsed}",
    )


# ----- stability -----------------------------------------------------------------------------


@dataclass
class _StoppedTasks:
    """What the stability wait remembers about stopped tasks from one poll to the next."""

    checked_at: float  # monotonic: when ListTasks was last asked for stopped tasks
    failed_seen: int = 0  # the deployment's failedTasks at that look
    seen: set[str] = field(default_factory=set)  # stopped task ARNs already described


def wait_stable(aws: AwsCalls, name: str, timeout: float, progress: Progress) -> None:
    """Until the service runs its desired count on its newest deployment.

    Stable means runningCount == desiredCount and the PRIMARY deployment's rolloutState is
    COMPLETED (or, without rollout states, it is the only deployment and runs every task). A
    stopped task of the *current* deployment fails the wait at once, quoting ECS's
    stoppedReason: tasks are matched on ``startedBy`` (the deployment id) because a
    re-created service name still lists its predecessor's stopped tasks. Stopped tasks are
    looked up when the deployment counts failed tasks, and every 30 s otherwise, to keep the
    AWS calls of a healthy start to one DescribeServices per poll.
    """
    wait = Wait(aws.clock, timeout, "wait_stable", progress, _starting_text(name))
    stopped = _StoppedTasks(checked_at=aws.clock.monotonic())
    failures = 0
    counts = "no answer from ECS yet"
    # A service just created or updated cannot be stable yet: the first look waits a poll.
    wait.pause(aws.poll_delay(0))
    while True:
        try:
            raw = _describe_starting(aws, name, wait)
        except Transient as exc:
            failures += 1
            log.info("waiting for %s to be stable; AWS answered %s", name, exc.error.code)
        else:
            failures = 0
            if raw is not None:
                judged = _judge_rollout(aws, name, raw, wait, stopped)
                if judged is None:
                    log.info("%s is stable after %s", name, format_elapsed(wait.elapsed))
                    return
                counts = judged
        if wait.expired:
            raise StableTimeoutError(
                f"{name} did not become stable in {duration(timeout)} ({counts})",
                "read the log in the thread (or press Logs) for why the task does not start, then press Retry",
            )
        wait.pause(aws.poll_delay(failures))


def _starting_text(name: str) -> WaitText:
    return phrased(
        f"waiting for {name} to start ({{detail}})",
        f"{name}: {{detail}}, {{elapsed}}",
        f"still starting {name} ({{detail}}), {{elapsed}}",
    )


def _describe_starting(aws: AwsCalls, name: str, wait: Wait) -> dict[str, Any] | None:
    """The service as DescribeServices says (one request: ``Transient`` is the caller's);
    None while a service just created is not visible yet (ECS reads are eventually
    consistent). ``EcsError`` when it is no longer ACTIVE: someone else stopped it."""
    response = aws.request("DescribeServices", name, **describe_params(aws, name))
    raw = only_service(response, name)
    status = (raw or {}).get("status") or ""
    if raw is None and wait.elapsed < STOPPED_CHECK_SECONDS and not wait.expired:
        return None
    if raw is None or state_of(status, name) is not ServiceState.ACTIVE:
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
    aws: AwsCalls, name: str, raw: dict[str, Any], wait: Wait, stopped: _StoppedTasks
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
    now = aws.clock.monotonic()
    failed = int(primary.get("failedTasks") or 0)
    if deployment_id and (
        rollout == "FAILED"
        or failed > stopped.failed_seen  # only new failures are worth a look
        or now - stopped.checked_at >= STOPPED_CHECK_SECONDS
    ):
        stopped.failed_seen = failed
        stopped.checked_at = now
        _fail_if_tasks_stopped(aws, name, deployment_id, stopped.seen)
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


def _fail_if_tasks_stopped(aws: AwsCalls, name: str, deployment_id: str, seen: set[str]) -> None:
    """Raise TasksStoppedError if a task started by ``deployment_id`` has stopped."""
    ours: list[dict[str, Any]] = []
    token: str | None = None
    try:
        while True:  # every page: a predecessor's stopped tasks may fill the first
            params: dict[str, Any] = {
                "cluster": aws.cluster,
                "serviceName": name,
                "desiredStatus": "STOPPED",
            }
            if token:
                params["nextToken"] = token
            listed = aws.request("ListTasks", name, **params)
            fresh = [arn for arn in listed.get("taskArns") or [] if arn not in seen][:100]
            if fresh:
                described = aws.request("DescribeTasks", name, cluster=aws.cluster, tasks=fresh)
                seen.update(fresh)
                ours.extend(
                    t for t in described.get("tasks") or [] if t.get("startedBy") == deployment_id
                )
            token = listed.get("nextToken")
            if not token:
                break
    except Transient as exc:
        log.info("could not look at stopped tasks of %s (%s); next time", name, exc.error.code)
        return
    if not ours:
        return
    task = max(ours, key=lambda t: utc(t.get("stoppedAt")) or EPOCH)
    raise TasksStoppedError.of_task(name, task)


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
