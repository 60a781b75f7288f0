"""The GitHub Deployments mirror: each environment on the PR page's "View deployment" (§11).

A transient, non-production deployment per environment (environment ``showtime-pr-<pr>``,
ref = the full SHA, no required checks), with statuses ``in_progress`` at the claim,
``success`` (URL and log link) or ``failure`` at the end, and ``inactive`` when the
environment is stopped, expires or is replaced by a rolling update — GitHub's
``auto_inactive`` skips transient deployments, so the bot marks the old one itself.

Best effort, and never on the requester's wait: the deployment is created in the
background while ECS works, the other statuses once the outcome is announced. An error
never fails a deploy; the thread says so once. A token without the Deployments permission
turns the mirror off for the rest of the process (said once, with what to do).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import replace
from typing import TypeVar

from bot.domain import events as ev
from bot.errors import ConfigurationError, ShowtimeError
from bot.orchestrator.context import Background, JobRun
from bot.orchestrator.jobs import JobStore, StartRecord
from bot.orchestrator.ports import DeploymentsPort

log = logging.getLogger(__name__)

T = TypeVar("T")

CREATE_WAIT_SECONDS = 30.0  # how long the end of a deploy waits for the background create
RECENT_JOBS = 50  # how far back a PR's jobs are searched for the deployment of a SHA


def environment_of(pr: int) -> str:
    return f"showtime-pr-{pr}"


class DeploymentMirror:
    """Writes through each job's own (fenced) Deployments port; ``enabled`` is the policy's
    switch, and a token that may not write deployments turns it off for the process."""

    def __init__(self, enabled: bool, background: Background, store: JobStore) -> None:
        self._enabled = enabled
        self._background = background
        self._store = store
        self._lock = threading.Lock()
        self._off_said = False  # the process-wide "turned off" warning was given

    def _port(self, run: JobRun) -> DeploymentsPort | None:
        with self._lock:
            enabled = self._enabled
        return run.deps.deployments if enabled else None

    def claimed(self, run: JobRun, record: StartRecord, *, ttl: str) -> None:
        """The deploy claimed the PR: a deployment, ``in_progress`` — made while ECS works."""
        port = self._port(run)
        if port is None:
            return
        channel, thread = run.job.channel, run.job.thread_ts
        payload = {"requester": run.job.requester.label_name, "ttl": ttl}
        if channel and thread:
            payload["slack_thread"] = (
                f"https://slack.com/archives/{channel}/p{thread.replace('.', '')}"
            )

        def create() -> int | None:
            deployment = self._create(run, record, port, payload)
            if deployment is not None:
                self._attempt(
                    run,
                    "mark the deployment in progress",
                    lambda: port.set_deployment_status(
                        deployment, "in_progress", description=f"deploying {record.sha7}"
                    ),
                )
            return deployment

        run.deployment = self._background.submit("create the GitHub deployment", create)

    def succeeded(self, run: JobRun, record: StartRecord, url: str) -> None:
        port = self._port(run)
        if port is None:
            return
        deployment = self._deployment(run, record, port)
        if deployment is not None:
            # Kept with the job: the rolling update or stop that retires this environment
            # finds it here, with no request to list deployments.
            run.step(run.job.step or "labels_running", replace(record, deployment_id=deployment))
            self._attempt(
                run,
                "mark the deployment successful",
                lambda: port.set_deployment_status(
                    deployment,
                    "success",
                    description=_described(record),
                    environment_url=url,
                    log_url=record.logs_url or None,
                ),
            )

    def checked(self, run: JobRun, record: StartRecord, url: str) -> None:
        """Check again ran on an environment: its deployment (as its start recorded it) says
        what the check found now — degraded, or not any more. One write; none when no start
        recorded a deployment for it (the CLI's, or the mirror was off)."""
        port = self._port(run)
        if port is None:
            return
        for deployment in self._recorded(run.pr, {record.sha7}):
            self._attempt(
                run,
                "update the deployment",
                lambda deployment=deployment: port.set_deployment_status(  # type: ignore[misc]
                    deployment,
                    "success",
                    description=_described(record),
                    environment_url=url,
                    log_url=record.logs_url or None,
                ),
            )

    def failed(self, run: JobRun, record: StartRecord, reason: str) -> None:
        port = self._port(run)
        if port is None:
            return
        deployment = self._deployment(run, record, port)
        if deployment is not None:
            self._attempt(
                run,
                "mark the deployment failed",
                lambda: port.set_deployment_status(
                    deployment,
                    "failure",
                    description=reason,
                    log_url=record.logs_url or None,
                ),
            )

    def inactive(self, run: JobRun, shas: set[str]) -> None:
        """The environments of these SHAs are gone (stopped, expired, replaced): their
        deployments, as the starts that made them recorded, are marked inactive."""
        port = self._port(run)
        if port is None or not shas:
            return
        for deployment in self._recorded(run.pr, shas):
            self._attempt(
                run,
                "mark the deployment inactive",
                lambda deployment=deployment: port.set_deployment_status(  # type: ignore[misc]
                    deployment, "inactive", description="environment removed"
                ),
            )

    def _recorded(self, pr: int, shas: set[str]) -> list[int]:
        """The newest recorded deployment of each of ``shas`` (from the job store)."""
        found: dict[str, int] = {}
        for job in self._store.recent(limit=RECENT_JOBS, pr=pr):  # newest first
            record = job.record
            if (
                isinstance(record, StartRecord)
                and record.deployment_id is not None
                and record.sha7 in shas
            ):
                found.setdefault(record.sha7, record.deployment_id)
        return list(found.values())

    def _deployment(self, run: JobRun, record: StartRecord, port: DeploymentsPort) -> int | None:
        """This deploy's deployment: made in the background at the claim, or (a job resumed
        after a restart) found among the environment's, or made now."""
        future: Future[object] | None = run.deployment
        if future is not None:
            try:
                made = future.result(timeout=CREATE_WAIT_SECONDS)
            except FutureTimeout:
                made = None
            return made if isinstance(made, int) else None
        found = self._attempt(
            run,
            "read the deployments",
            lambda: port.environment_deployments(environment_of(run.pr)),
        )
        for deployment, sha in found or []:
            if sha == record.sha:
                return deployment
        return self._create(run, record, port, {"requester": run.job.requester.label_name})

    def _create(
        self, run: JobRun, record: StartRecord, port: DeploymentsPort, payload: dict[str, str]
    ) -> int | None:
        return self._attempt(
            run,
            "create the deployment",
            lambda: port.create_deployment(
                sha=record.sha,
                environment=environment_of(run.pr),
                description=f"{record.mode.headline} {record.sha7}",
                payload=payload,
            ),
        )

    def _attempt(self, run: JobRun, what: str, call: Callable[[], T]) -> T | None:
        """One best-effort call: errors are said once and never raised."""
        try:
            return call()
        except ConfigurationError as exc:  # the token may not write deployments
            with self._lock:
                self._enabled = False
                first = not self._off_said
                self._off_said = True
            log.warning("GitHub Deployments mirror off: could not %s: %s", what, exc)
            if first:
                run.say(
                    ev.Warning(
                        f"GitHub Deployments: could not {what} ({exc.message}); the environment "
                        "works all the same. Give the bot's token `deployments: write`, or set "
                        "SHOWTIME_GITHUB_DEPLOYMENTS=false. The mirror is off until a restart."
                    )
                )
        except ShowtimeError as exc:
            log.warning("GitHub Deployments: could not %s: %s", what, exc)
            if run.note_once("deployments"):
                run.say(
                    ev.Warning(
                        f"GitHub Deployments: could not {what} ({exc.message}); "
                        "the environment works all the same"
                    )
                )
        return None


def _described(record: StartRecord) -> str:
    """A running environment's deployment status, in GitHub's 140 characters."""
    if record.degraded:
        return f"{record.sha7} runs, degraded: {record.degraded}"[:140]
    return f"{record.sha7} runs"
