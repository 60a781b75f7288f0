"""What the orchestrator needs from the outside world, and the shapes it gets back.

The adapters (``bot.adapters``) implement these; the orchestrator imports nothing of
them. Each port speaks the orchestrator's language — "apply this label change", "clear
this name", "wait until this URL is healthy" — and leaves the how (which GitHub request
costs what, which AWS call sees DRAINING) to the adapter.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol, Self, TypeVar

from bot.clock import Clock
from bot.domain.cost import Size
from bot.domain.events import LogTail, Progress
from bot.domain.labels import LabelChange
from bot.domain.requester import Requester
from bot.domain.smoke import Check, SmokeReport
from bot.orchestrator.jobs import Job

F = TypeVar("F", bound=Callable[..., Any])


def write(method: F) -> F:
    """Marks a port method that changes something outside the bot.

    The mark is read once, by ``bot.orchestrator.guard``: a job's writes are fenced on its
    ownership (checked before, re-checked after) and observed (the record of when
    environments ran listens to ECS's), with no method of any port written twice.
    """
    method.__showtime_write__ = True  # type: ignore[attr-defined]
    return method


def writes_of(port: type) -> frozenset[str]:
    """The names of ``port``'s methods marked ``@write``."""
    return frozenset(
        name
        for name in dir(port)
        if not name.startswith("_") and getattr(getattr(port, name), "__showtime_write__", False)
    )


class Waits(Protocol):
    def with_clock(self, clock: Clock) -> Self:
        """The same port (sharing its connections and caches) whose waits and retries run on
        ``clock`` — a job's own, so a cancel, a lost job or SIGTERM ends them."""
        ...


# ----- GitHub ----------------------------------------------------------------------------


class PrState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"  # merged or not (``PullRequest.merged`` says)


@dataclass(frozen=True)
class PullRequest:
    number: int
    state: PrState
    merged: bool
    head_sha: str  # 40 hex
    title: str
    body: str
    author: str
    html_url: str
    labels: tuple[str, ...]  # read with the PR: no extra request


@dataclass(frozen=True)
class LabelledPr:
    """A PR found by label search, with its labels as the (lagging) search index has them."""

    number: int
    state: PrState
    title: str
    html_url: str
    labels: tuple[str, ...]


class GitHubPort(Waits, Protocol):
    def get_pr(self, number: int) -> PullRequest: ...
    def pr_commit_shas(self, number: int) -> list[str]: ...
    @write
    def apply_labels(
        self, number: int, change: LabelChange, current: Sequence[str]
    ) -> tuple[str, ...]:
        """Make ``change`` to the PR's labels (``current`` as last seen) in as few writes as
        GitHub allows; the labels afterwards. Additions and removals land together."""
        ...

    @write
    def ensure_label_definitions(self, names: Sequence[str]) -> None:
        """The CLI's colours on the definitions of ``names`` (made if missing), once each."""
        ...

    @write
    def rename_label(self, old: str, new: str) -> bool:
        """Rename the definition ``old`` to ``new`` (with ``new``'s colour): on the PR carrying
        it, ``old`` becomes ``new`` in one write. False when ``old`` is gone already."""
        ...

    @write
    def delete_label_definitions(self, names: Sequence[str]) -> None: ...
    def find_labelled_prs(self) -> Sequence[LabelledPr]: ...
    def sha_label_definitions(self) -> list[str]: ...
    def attached_labels(self, names: Sequence[str]) -> set[str]: ...
    @write
    def comment(self, number: int, text: str) -> None: ...
    def collaborator_permission(self, login: str) -> str:
        """``admin``, ``maintain``, ``write``, ``triage``, ``read`` or ``none``."""
        ...

    def own_login(self) -> str:
        """The bot's own GitHub identity (its label writes come back as webhook events)."""
        ...


class DeploymentsPort(Waits, Protocol):
    """The PR page's "View deployment": a GitHub Deployment per environment (SPEC §11)."""

    @write
    def create_deployment(
        self, *, sha: str, environment: str, description: str, payload: dict[str, str]
    ) -> int: ...
    @write
    def set_deployment_status(
        self,
        deployment_id: int,
        state: str,
        *,
        description: str = "",
        environment_url: str | None = None,
        log_url: str | None = None,
    ) -> None: ...
    def environment_deployments(self, environment: str) -> list[tuple[int, str]]:
        """(id, full SHA) of the environment's recent deployments, newest first."""
        ...


# ----- Slack (where people see jobs) ----------------------------------------------------------


class CannotPostError(Exception):
    """Slack refused a status message (``code``: ``not_in_channel``, ``channel_not_found``…)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class Threads(Protocol):
    """Status messages: the channel's view of a job, whose thread gets the job's replies."""

    def open_thread(self, job: Job) -> str:
        """Post ``job``'s status message in ``job.channel``; its ts (the job's thread).
        ``CannotPostError`` when Slack will not take it."""
        ...

    def show_progress(self, job: Job) -> None:
        """The status message ``job.thread_ts`` (a button was pressed on it) shows the job
        is under way; best effort."""
        ...


# ----- ECS -------------------------------------------------------------------------------


class ServiceState(StrEnum):
    """What ECS says of one service name (the DRAINING rule's input)."""

    ACTIVE = "ACTIVE"
    DRAINING = "DRAINING"
    INACTIVE = "INACTIVE"
    MISSING = "MISSING"  # DescribeServices lists the name under `failures`


@dataclass(frozen=True)
class Service:
    """One showtime service in ECS, with what its name and tags say."""

    name: str
    status: ServiceState
    pr: int | None
    sha: str | None
    requested_by: Requester | None  # the requested_by tag (the CLI's github_user)
    created: datetime | None
    task_definition: str | None = None  # the ARN it runs (DescribeServices says, at no cost)
    public_ip: bool | None = None  # assignPublicIp, when ECS said


class EcsPort(Waits, Protocol):
    def find_services(self, pr: int | None = None) -> Sequence[Service]:
        """ACTIVE showtime services (of one PR), from ECS itself (not from labels)."""
        ...

    def environment_names(self) -> set[str]:
        """Names of every running ``pr-…-service``, whoever made it (the capacity limit)."""
        ...

    @write
    def clear_name(self, name: str, progress: Progress = ...) -> None:
        """The DRAINING rule: delete an ACTIVE service of that name, wait out DRAINING."""
        ...

    @write
    def register_task_definition(
        self, pr: int, sha: str, description: str, progress: Progress = ...
    ) -> str: ...
    @write
    def create_service(
        self,
        *,
        pr: int,
        sha: str,
        task_definition_arn: str,
        requested_by: Requester,
        expires: datetime | None,
        client_token: str,
        progress: Progress = ...,
    ) -> Service: ...
    @write
    def redeploy(self, name: str, task_definition_arn: str, progress: Progress = ...) -> None: ...
    def wait_stable(self, name: str, progress: Progress = ...) -> None: ...
    def address(self, name: str) -> str:
        """The IP of the service's newest running task."""
        ...

    @write
    def delete_service(self, name: str) -> bool: ...
    @write
    def delete_pr_environments(self, pr: int) -> list[str]: ...
    def task_sizes(self, arns: Collection[str]) -> Mapping[str, Size]:
        """CPU and memory of these task definitions (``public_ip`` left False): a revision
        never changes, so each is looked up once; the ones that cannot be are left out."""
        ...

    def template_size(self) -> Size | None:
        """What a new environment's task definition will ask for (the template), no AWS call."""
        ...

    def admin_login(self, task_definition_arn: str) -> AdminLogin:
        """The admin login of environments running this revision (SPEC §15), read back from
        its ``ADMIN_PASSWORD`` (the CLI's revisions have none: ``admin``/``admin``). A
        revision never changes, so each is described once per process."""
        ...

    @write
    def deregister_task_definition(self, arn: str) -> None:
        """Deregister a revision this deploy registered (a cancelled deploy's undo);
        one already deregistered is not an error."""
        ...


class HealthProbe(Waits, Protocol):
    def wait_healthy(self, url: str, progress: Progress = ...) -> None:
        """Until ``url`` answers 200 (never following a redirect), or ``HealthTimeoutError``."""
        ...


class LogsPort(Waits, Protocol):
    """An environment's own container log (SPEC §14), and where the console shows it."""

    def console_url(self, service: str) -> str:
        """Where people with AWS console access read the service's logs."""
        ...

    def tail(self, service: str, lines: int, task: str | None = None) -> LogTail:
        """The last ``lines`` lines of ``task``'s log (an ARN or id the caller knows), else
        of the service's current task. Never raises and never waits: what cannot be read
        is the ``LogTail.problem`` sentence ("no log yet: …")."""
        ...


# ----- the smoke check (SPEC §15) ---------------------------------------------------------


@dataclass(frozen=True)
class AdminLogin:
    """An environment's admin login. The password never goes into a log line, a message, a
    label or the job store: the orchestrator keeps the task definition ARN and asks
    ``EcsPort.admin_login`` whenever it needs the password again."""

    username: str
    password: str = field(repr=False)
    generated: bool  # False: no ADMIN_PASSWORD, so Superset's docker default admin/admin
    examples: bool  # the task definition sets SUPERSET_LOAD_EXAMPLES=yes


class SmokeCheckPort(Waits, Protocol):
    def wait_usable(
        self,
        url: str,
        login: AdminLogin,
        checks: Sequence[Check],
        *,
        examples: bool,
        progress: Progress = ...,
    ) -> SmokeReport:
        """Run ``checks`` against the Superset at ``url`` (``http://ip:port``), retrying the
        failing ones every 15 s until they pass or SHOWTIME_SMOKE_TIMEOUT_SECONDS is over,
        with a ``Waiting`` event at each change and a heartbeat a minute naming the check
        that still fails. Returns the latest results; failing checks are not an error
        (whether that fails or degrades the deploy is the orchestrator's call). Without
        ``examples`` the checks that look at them are skipped."""
        ...
