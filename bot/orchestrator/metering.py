"""The record of when each environment ran, kept where ECS is told to create and delete.

This month's estimated spend counts stopped environments too (SPEC §13), so the job store
keeps a period per environment: opened when ECS accepts the service (Fargate bills from the
moment it provisions the task, so a deploy that fails later has cost something too), closed
when it is deleted — by a stop, the sweeper's expiry, the retirement of the previous SHA in a
rolling update, a failed deploy's undo, cleanup, or ``clear_name`` freeing the name. A
redeploy onto a new task definition closes one period and opens the next (its size may
differ). Every one of those is an ECS port write, which this listens to (``guard``), so no
path that creates or deletes can forget the record; the sweeper mends what happens outside
the bot (the CLI's services, a deletion in the console).

Recording is best effort: a store that fails here is logged, never fails a deploy (the
sweeper records what is missing on its next round).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from bot.clock import Clock
from bot.domain.cost import Period
from bot.domain.labels import PrLabels
from bot.domain.naming import parse_service_name
from bot.orchestrator.guard import PortCall
from bot.orchestrator.jobs import JobStore
from bot.orchestrator.ports import EcsPort, Service, ServiceState

log = logging.getLogger(__name__)

# A period opened this close to the sweeper's look at ECS may belong to a service ECS did
# not list yet (replicas' clocks differ a little): it is not taken for gone.
MEND_MARGIN = timedelta(minutes=2)


class Metering:
    """Listens to the ECS port's writes (``guard``'s observer) and records each environment's
    running periods in the job store."""

    def __init__(self, ecs: EcsPort, store: JobStore, clock: Clock, *, public_ip: bool) -> None:
        self._ecs = ecs  # for task definition sizes (a read, once per revision)
        self._store = store
        self._clock = clock
        self._public_ip = public_ip  # the policy's, when ECS does not say

    def __call__(self, call: PortCall) -> None:
        args = call.arguments
        if call.method == "create_service":
            service: Service = call.result
            public_ip = self._public_ip if service.public_ip is None else service.public_ip
            arn = args["task_definition_arn"]
            self._started(
                service.name, args["pr"], args["sha"][:7], arn, public_ip, args["expires"]
            )
        elif call.method == "redeploy":
            self._redeployed(args["name"], args["task_definition_arn"])
        elif call.method in ("delete_service", "clear_name"):
            # Deleted now, or already gone, or its name freed: it runs no more.
            self._stopped([args["name"]])
        elif call.method == "delete_pr_environments":
            # Every ACTIVE service of the PR was deleted; what the record still has open is gone.
            pr = args["pr"]
            self._stopped([*call.result, *(p.service for p in self._open_periods() if p.pr == pr)])

    def _redeployed(self, name: str, task_definition_arn: str) -> None:
        previous = self._open(name)
        parsed = parse_service_name(name)
        pr = previous.pr if previous else (parsed[0] if parsed else 0)
        sha = previous.sha if previous else ((parsed[1] or "") if parsed else "")
        public_ip = previous.size.public_ip if previous else self._public_ip
        expires = previous.expires if previous else None
        self._started(name, pr, sha, task_definition_arn, public_ip, expires)

    # ----- the store, best effort -------------------------------------------------------------

    def _started(
        self,
        name: str,
        pr: int,
        sha: str,
        task_definition: str,
        public_ip: bool,
        expires: datetime | None,
    ) -> None:
        try:
            size = self._ecs.task_sizes([task_definition]).get(task_definition)
            if size is None:
                log.warning(
                    "%s: size of %s unknown; its running time is not recorded",
                    name,
                    task_definition,
                )
                return
            period = Period(
                name,
                pr,
                sha,
                replace(size, public_ip=public_ip),
                self._clock.now(),
                expires=expires,
            )
            self._store.environment_started(period)
        except Exception:
            log.warning("could not record that %s runs (the sweeper will)", name, exc_info=True)

    def _stopped(self, names: Sequence[str]) -> None:
        now = self._clock.now()
        for name in dict.fromkeys(names):
            try:
                self._store.environment_stopped(name, now)
            except Exception:
                log.warning(
                    "could not record that %s stopped (the sweeper will)", name, exc_info=True
                )

    def _open_periods(self) -> list[Period]:
        try:
            return [p for p in self._store.environment_periods(self._clock.now()) if p.running]
        except Exception:
            log.warning("could not read the running periods", exc_info=True)
            return []

    def _open(self, name: str) -> Period | None:
        return next((p for p in self._open_periods() if p.service == name), None)


def mend(
    store: JobStore,
    ecs: EcsPort,
    *,
    services: Sequence[Service],
    labels: Mapping[int, PrLabels],
    live: Collection[int],
    listed_at: datetime,
    default_ttl: str,
    public_ip: bool,
) -> None:
    """The sweeper's round on the record, from what ECS listed at ``listed_at``.

    A period whose service ECS no longer runs is closed (deleted by the CLI or in the
    console); a running service with no period is recorded from its creation (the CLI's,
    or one whose record failed); a running period follows its PR's ⌛ (a TTL the CLI or a
    person changed). PRs with a live job are left to the job, which records as it goes.
    """
    running = {p.service: p for p in store.environment_periods(listed_at) if p.running}
    active = {s.name: s for s in services if s.status is ServiceState.ACTIVE and s.pr not in live}
    for name, period in running.items():
        if period.pr in live:
            continue
        if name not in active and period.started < listed_at - MEND_MARGIN:
            store.environment_stopped(name, listed_at)
            log.info("%s is gone from ECS: its running time ends", name)
            continue
        pr_labels = labels.get(period.pr)
        show = pr_labels.show(period.sha) if pr_labels else None
        if pr_labels and show and show.created_at:
            expected = pr_labels.expiry(show, default_ttl)
            if expected != period.expires:
                store.set_environment_expiry(name, expected)
    unrecorded = [s for name, s in active.items() if name not in running and s.pr is not None]
    arns = [s.task_definition for s in unrecorded if s.task_definition]
    sizes = ecs.task_sizes(arns) if arns else {}
    for service in unrecorded:
        size = sizes.get(service.task_definition or "")
        if size is None or service.pr is None:
            continue
        sha = (service.sha or "")[:7]
        pr_labels = labels.get(service.pr)
        show = pr_labels.show(sha) if pr_labels else None
        expires = pr_labels.expiry(show, default_ttl) if pr_labels and show else None
        ip = public_ip if service.public_ip is None else service.public_ip
        period = Period(
            service.name,
            service.pr,
            sha,
            replace(size, public_ip=ip),
            service.created or listed_at,
            expires=expires,
        )
        if store.environment_started(period, replace=False):
            log.info("%s runs with no record of it (made elsewhere): recorded", service.name)
