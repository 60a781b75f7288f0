"""The record of when each environment ran, kept where ECS is told to create and delete.

This month's estimated spend counts stopped environments too (SPEC §13), so the job store
keeps a period per environment: opened when ECS accepts the service (Fargate bills from the
moment it provisions the task, so a deploy that fails later has cost something too), closed
when it is deleted — by a stop, the sweeper's expiry, the retirement of the previous SHA in a
rolling update, a failed deploy's undo, cleanup, or ``clear_name`` freeing the name. A
redeploy onto a new task definition closes one period and opens the next (its size may
differ). Every one of those goes through this wrapper of the ECS port, so no path that
creates or deletes can forget the record; the sweeper mends what happens outside the bot
(the CLI's services, a deletion in the console).

Recording is best effort: a store that fails here is logged, never fails a deploy (the
sweeper records what is missing on its next round).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from bot.clock import Clock
from bot.domain.cost import Period, Size
from bot.domain.events import Progress, no_progress
from bot.domain.labels import PrLabels
from bot.domain.naming import parse_service_name
from bot.domain.ttl import expires_at
from bot.orchestrator.jobs import JobStore
from bot.orchestrator.ports import EcsPort, Service

log = logging.getLogger(__name__)

# A period opened this close to the sweeper's look at ECS may belong to a service ECS did
# not list yet (replicas' clocks differ a little): it is not taken for gone.
MEND_MARGIN = timedelta(minutes=2)


class MeteredEcs:
    """``EcsPort`` that records each environment's running periods in the job store."""

    def __init__(self, ecs: EcsPort, store: JobStore, clock: Clock, *, public_ip: bool) -> None:
        self._ecs = ecs
        self._store = store
        self._clock = clock
        self._public_ip = public_ip  # ECS_ASSIGN_PUBLIC_IP, when ECS does not say

    # ----- what the record is about --------------------------------------------------------

    def create_service(
        self,
        *,
        pr: int,
        sha: str,
        task_definition_arn: str,
        requested_by: str,
        expires: datetime | None,
        client_token: str,
        progress: Progress = no_progress,
    ) -> Service:
        service = self._ecs.create_service(
            pr=pr,
            sha=sha,
            task_definition_arn=task_definition_arn,
            requested_by=requested_by,
            expires=expires,
            client_token=client_token,
            progress=progress,
        )
        public_ip = self._public_ip if service.public_ip is None else service.public_ip
        self._started(service.name, pr, sha[:7], task_definition_arn, public_ip, expires)
        return service

    def redeploy(
        self, name: str, task_definition_arn: str, progress: Progress = no_progress
    ) -> None:
        self._ecs.redeploy(name, task_definition_arn, progress)
        previous = self._open(name)
        parsed = parse_service_name(name)
        pr = previous.pr if previous else (parsed[0] if parsed else 0)
        sha = previous.sha if previous else ((parsed[1] or "") if parsed else "")
        public_ip = previous.size.public_ip if previous else self._public_ip
        self._started(
            name, pr, sha, task_definition_arn, public_ip, previous.expires if previous else None
        )

    def delete_service(self, name: str) -> bool:
        deleted = self._ecs.delete_service(name)
        self._stopped([name])  # deleted now, or already gone: either way it runs no more
        return deleted

    def delete_pr_environments(self, pr: int) -> list[str]:
        deleted = self._ecs.delete_pr_environments(pr)
        # Every ACTIVE service of the PR was deleted; what the record still has open is gone.
        self._stopped([*deleted, *(p.service for p in self._open_periods() if p.pr == pr)])
        return deleted

    def clear_name(self, name: str, progress: Progress = no_progress) -> None:
        self._ecs.clear_name(name, progress)
        self._stopped([name])  # the name is free: whatever had it runs no more

    # ----- the rest of the port, unchanged ----------------------------------------------------

    def find_services(self, pr: int | None = None) -> Sequence[Service]:
        return self._ecs.find_services(pr)

    def environment_names(self) -> set[str]:
        return self._ecs.environment_names()

    def register_task_definition(
        self, pr: int, sha: str, description: str, progress: Progress = no_progress
    ) -> str:
        return self._ecs.register_task_definition(pr, sha, description, progress)

    def wait_stable(self, name: str, progress: Progress = no_progress) -> None:
        self._ecs.wait_stable(name, progress)

    def address(self, name: str) -> str:
        return self._ecs.address(name)

    def task_sizes(self, arns: Collection[str]) -> Mapping[str, Size]:
        return self._ecs.task_sizes(arns)

    def template_size(self) -> Size | None:
        return self._ecs.template_size()

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
    active = {s.name: s for s in services if s.status == "ACTIVE" and s.pr not in live}
    for name, period in running.items():
        if period.pr in live:
            continue
        if name not in active and period.started < listed_at - MEND_MARGIN:
            store.environment_stopped(name, listed_at)
            log.info("%s is gone from ECS: its running time ends", name)
            continue
        pr_labels = labels.get(period.pr)
        show = pr_labels.show(period.sha) if pr_labels else None
        created = show.created_at if show else None
        if pr_labels and show and created:
            expected = expires_at(created, pr_labels.ttl_for(show) or default_ttl)
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
        created = show.created_at if show else None
        expires = (
            expires_at(created, pr_labels.ttl_for(show) or default_ttl)
            if pr_labels and show and created
            else None
        )
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
