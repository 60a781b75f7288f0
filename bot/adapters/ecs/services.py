"""What ECS says of the services: which exist, in which state, and where one answers.

Finding services is two APIs on purpose. ``ListServices`` names only ACTIVE services (what
"exists" means to a listing, and to the capacity limit); ``DescribeServices`` also sees
DRAINING and INACTIVE ones, so only it can say whether a name is free (the DRAINING rule,
``engine.EcsEngine.clear_name``). A described service becomes the orchestrator's
``Service`` here, from its tags (this bot's and the superset-showtime CLI's) and its name.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bot.adapters.ecs.calls import AwsCalls
from bot.adapters.ecs.errors import EcsError
from bot.domain.naming import parse_service_name
from bot.domain.requester import Requester
from bot.orchestrator.ports import Service, ServiceState

log = logging.getLogger(__name__)

DESCRIBE_BATCH = 10  # DescribeServices accepts at most 10 services per call
LIST_PAGE = 100  # ListServices' largest page
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# ----- asking ECS ----------------------------------------------------------------------------


def describe_params(aws: AwsCalls, name: str) -> dict[str, Any]:
    return {"cluster": aws.cluster, "services": [name]}


def service_state(aws: AwsCalls, name: str) -> ServiceState:
    """State of exactly this name (DescribeServices sees DRAINING; ListServices does not)."""
    return described_state(aws.call("DescribeServices", name, **describe_params(aws, name)), name)


def find_services(aws: AwsCalls, pr: int | None = None) -> list[Service]:
    """Every ACTIVE showtime service (of one PR when ``pr`` is given), from ECS itself.

    ListServices is paged and only names ACTIVE services, which is what "exists" means
    here; only names shaped like ours (``pr-<n>-…``) are described, 10 per DescribeServices
    call, and only services tagged ``showtime_managed=true`` — as both this bot and the
    superset-showtime CLI tag them — are returned.
    """
    prefix = f"pr-{pr}-" if pr is not None else "pr-"
    candidates = [n for n in _listed_names(aws) if n.startswith(prefix)]
    found: list[Service] = []
    for start in range(0, len(candidates), DESCRIBE_BATCH):
        batch = candidates[start : start + DESCRIBE_BATCH]
        response = aws.call(
            "DescribeServices",
            ", ".join(batch),
            cluster=aws.cluster,
            services=batch,
            include=["TAGS"],
        )
        for raw in response.get("services") or []:
            tags = tags_of(raw)
            if tags.get("showtime_managed") != "true":
                continue
            service = service_of(raw, tags)
            if pr is None or service.pr == pr:
                found.append(service)
    return found


def environment_names(aws: AwsCalls) -> set[str]:
    """Names of the ACTIVE services named like environments, for SHOWTIME_MAX_ENVIRONMENTS.

    ListServices pages only (no DescribeServices): the limit protects the cluster's
    capacity, so every running ``pr-<n>-…-service`` counts, whoever made it.
    """
    return {name for name in _listed_names(aws) if parse_service_name(name) is not None}


def _listed_names(aws: AwsCalls) -> list[str]:
    names: list[str] = []
    token: str | None = None
    while True:
        params: dict[str, Any] = {"cluster": aws.cluster, "maxResults": LIST_PAGE}
        if token:
            params["nextToken"] = token
        response = aws.call("ListServices", f"cluster {aws.cluster}", **params)
        names.extend(arn.rsplit("/", 1)[-1] for arn in response.get("serviceArns") or [])
        token = response.get("nextToken")
        if not token:
            return names


def address(aws: AwsCalls, name: str, *, public: bool) -> str:
    """The IP of the service's newest running task: task → ENI → public IP (``public``) or
    private IP (the bot then runs inside the VPC)."""
    listed = aws.call(
        "ListTasks", name, cluster=aws.cluster, serviceName=name, desiredStatus="RUNNING"
    )
    arns = (listed.get("taskArns") or [])[:100]
    if not arns:
        raise _no_address(
            f"{name} has no running task to take an address from",
            "press Retry; if it repeats, check the service's events in the ECS console",
            "ListTasks",
            "NoRunningTask",
            name,
        )
    tasks = aws.call("DescribeTasks", name, cluster=aws.cluster, tasks=arns).get("tasks")
    running = [t for t in tasks or [] if t.get("lastStatus") == "RUNNING"] or list(tasks or [])
    if not running:
        raise _no_address(
            f"{name}'s tasks could not be described",
            "press Retry",
            "DescribeTasks",
            "NoRunningTask",
            name,
        )
    # During a rolling update the old deployment's task may still run: take the newest.
    task = max(running, key=lambda t: utc(t.get("startedAt") or t.get("createdAt")) or EPOCH)
    eni = eni_of(task)
    if not eni:
        raise _no_address(
            f"task {task.get('taskArn', '?')} of {name} has no network interface",
            "the task definition's networkMode must be awsvpc",
            "DescribeTasks",
            "NoNetworkInterface",
            name,
        )
    described = aws.call("DescribeNetworkInterfaces", eni, NetworkInterfaceIds=[eni])
    interface = (described.get("NetworkInterfaces") or [{}])[0]
    ip = (
        (interface.get("Association") or {}).get("PublicIp")
        if public
        else interface.get("PrivateIpAddress")
    )
    if not ip:
        raise _no_address(
            f"{name}'s network interface {eni} has no {'public' if public else 'private'} IP address",
            "check ECS_ASSIGN_PUBLIC_IP and that ECS_SUBNETS are public subnets",
            "DescribeNetworkInterfaces",
            "NoAddress",
            eni,
        )
    return str(ip)


def _no_address(message: str, action: str, operation: str, code: str, resource: str) -> EcsError:
    return EcsError(message, action, operation=operation, code=code, resource=resource)


# ----- reading its answers -------------------------------------------------------------------


def state_of(status: str, name: str) -> ServiceState:
    """ECS's status as a state; one it did not give or we do not know counts as ACTIVE.

    Treating the unknown as "the name is taken" is the safe side: clearing an ACTIVE
    name deletes and waits, which also works for a service that is really DRAINING.
    """
    if status in (ServiceState.ACTIVE, ServiceState.DRAINING, ServiceState.INACTIVE):
        return ServiceState(status)
    log.warning("ECS reported status %r for %s; treating the name as taken", status, name)
    return ServiceState.ACTIVE


def described_state(response: dict[str, Any], name: str) -> ServiceState:
    """The state of ``name`` in a DescribeServices answer; MISSING when ECS does not know it.

    A failure other than MISSING (ECS could not look) raises rather than read as free.
    """
    raw = only_service(response, name)
    if raw is not None:
        return state_of(raw.get("status") or "", name)
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


def only_service(response: dict[str, Any], name: str) -> dict[str, Any] | None:
    """``name`` in a DescribeServices answer about it alone; None when it is not there."""
    services = response.get("services") or []
    chosen = [s for s in services if _name_of(s) == name] or (
        # a reply that omits the name still answers the one we asked
        services if len(services) == 1 else []
    )
    return chosen[0] if chosen else None


def tags_of(raw: dict[str, Any]) -> dict[str, str]:
    return {t["key"]: t["value"] for t in raw.get("tags") or [] if "key" in t}


def service_of(raw: dict[str, Any], tags: dict[str, str]) -> Service:
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
        status=state_of(raw.get("status") or "", name),
        pr=pr,
        sha=tags.get("sha") or (parsed[1] if parsed else None),
        requested_by=_requester(tags),
        created=_epoch(tags.get("showtime_created")) or utc(raw.get("createdAt")),
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


def eni_of(task: dict[str, Any]) -> str | None:
    for attachment in task.get("attachments") or []:
        for detail in attachment.get("details") or []:
            if detail.get("name") == "networkInterfaceId" and detail.get("value"):
                return str(detail["value"])
    return None


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


def utc(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return None
