"""In-memory fakes of the orchestrator's ports, on the fake clock.

For the decision and durability tests: they model what the orchestrator relies on —
labels as GitHub keeps them (and a search index that can lag), ECS's DRAINING rule and
"not idempotent" refusal, stability that takes time, a health check — with none of the
HTTP, so a test of what survives a restart runs in milliseconds. The request-budget and
DRAINING tests stay on the stand-ins over HTTP (``support.World``), which model the real
services' wire behaviour; these fakes model only what the port promises.
"""

from __future__ import annotations

import copy
import secrets
import threading
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from bot.adapters.github import PrNotFoundError
from bot.clock import Clock
from bot.domain.cost import Size
from bot.domain.events import (
    WAIT_REPORT_SECONDS,
    LogTail,
    Progress,
    Waiting,
    Warning,
    no_progress,
)
from bot.domain.labels import LabelChange, label_definition, sha_of_label
from bot.domain.naming import service_name
from bot.domain.requester import Requester
from bot.errors import RemoteError, WaitTimeoutError
from bot.orchestrator.ports import (
    AdminLogin,
    LabelledPr,
    PrState,
    PullRequest,
    Service,
    ServiceState,
)
from bot.sandbox.github import fake_sha

REPOSITORY = "apache/superset"


class FakeRemoteError(RemoteError):
    def __init__(self, service: str, operation: str, message: str) -> None:
        super().__init__(message, "press Retry", service=service, operation=operation)


@dataclass
class _Pr:
    number: int
    title: str
    body: str
    commits: list[str]
    state: str = "open"
    merged: bool = False
    labels: list[str] = field(default_factory=list)


class FakeGitHub:
    """``GitHubPort`` in memory: PRs, their labels, label definitions, comments."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._prs: dict[int, _Pr] = {}
        self._index: dict[int, _Pr] | None = None  # a paused (lagging) search index
        self.definitions: set[str] = set()
        self.comments: dict[int, list[str]] = {}
        self.permissions: dict[str, str] = {}
        self.calls: Counter[str] = Counter()
        self.writes: list[str] = []
        self._failures: dict[str, list[Exception]] = {}

    def with_clock(self, clock: Clock) -> FakeGitHub:
        return self  # it never waits

    # ----- set-up and inspection (what a test would check on GitHub) -------------------

    def add_pr(self, number: int, title: str = "", body: str = "") -> str:
        sha = fake_sha("fake", number, 0)
        with self._lock:
            self._prs[number] = _Pr(number, title or f"PR {number}", body, [sha])
        return sha

    def push_commit(self, number: int) -> str:
        with self._lock:
            pr = self._prs[number]
            sha = fake_sha("fake", number, len(pr.commits))
            pr.commits.append(sha)
            return sha

    def close_pr(self, number: int, *, merged: bool = False) -> None:
        with self._lock:
            self._prs[number].state = "closed"
            self._prs[number].merged = merged

    def head_sha(self, number: int) -> str:
        return self._prs[number].commits[-1]

    def labels(self, number: int) -> list[str]:
        with self._lock:
            return list(self._prs[number].labels)

    def set_labels(self, number: int, names: Sequence[str]) -> None:
        with self._lock:
            self._prs[number].labels = list(names)

    def pause_search_index(self) -> None:
        with self._lock:
            self._index = {n: replace(p, labels=list(p.labels)) for n, p in self._prs.items()}

    def fail_next(self, operation: str, error: Exception) -> None:
        with self._lock:
            self._failures.setdefault(operation, []).append(error)

    # ----- the port ----------------------------------------------------------------------

    def get_pr(self, number: int) -> PullRequest:
        self._call("get_pr")
        with self._lock:
            pr = self._prs.get(number)
            if pr is None:
                raise PrNotFoundError(number, REPOSITORY)
            return PullRequest(
                number=number,
                state=PrState(pr.state),
                merged=pr.merged,
                head_sha=pr.commits[-1],
                title=pr.title,
                body=pr.body,
                author="contributor",
                html_url=f"https://github.com/{REPOSITORY}/pull/{number}",
                labels=tuple(pr.labels),
            )

    def pr_commit_shas(self, number: int) -> list[str]:
        self._call("pr_commit_shas")
        return list(self._prs[number].commits)

    def apply_labels(
        self, number: int, change: LabelChange, current: Sequence[str]
    ) -> tuple[str, ...]:
        self._call("apply_labels", write=True)
        with self._lock:
            pr = self._prs[number]
            kept = [n for n in pr.labels if n not in change.remove]
            pr.labels = kept + [n for n in change.add if n not in kept]
            self.definitions.update(change.add)
            return tuple(pr.labels)

    def ensure_label_definitions(self, names: Sequence[str]) -> None:
        """The CLI's shared ones are made if missing; a per-SHA one is only coloured if it
        exists (one that is gone would be a definition nobody carries); a label the CLI does
        not colour is left to GitHub."""
        self._call("ensure_label_definitions", write=True)
        with self._lock:
            self.definitions.update(
                n for n in names if label_definition(n) is not None and sha_of_label(n) is None
            )

    def rename_label(self, old: str, new: str) -> bool:
        self._call("rename_label", write=True)
        with self._lock:
            if old not in self.definitions or new in self.definitions:
                return False  # GitHub: 404, or 422 already_exists
            self.definitions.discard(old)
            self.definitions.add(new)
            for pr in self._prs.values():
                pr.labels = [new if name == old else name for name in pr.labels]
        return True

    def delete_label_definitions(self, names: Sequence[str]) -> None:
        self._call("delete_label_definitions", write=True)
        with self._lock:
            for name in names:
                self.definitions.discard(name)
                for pr in self._prs.values():  # GitHub takes a deleted label off every PR
                    pr.labels = [n for n in pr.labels if n != name]

    def find_labelled_prs(self) -> Sequence[LabelledPr]:
        self._call("find_labelled_prs")
        with self._lock:
            prs = self._prs if self._index is None else self._index
            return [
                LabelledPr(
                    p.number, PrState(p.state), p.title, f"https://x/{p.number}", tuple(p.labels)
                )
                for p in sorted(prs.values(), key=lambda p: p.number)
                if any(name.startswith("🎪 ⌛ ") for name in p.labels)
            ]

    def sha_label_definitions(self) -> list[str]:
        self._call("sha_label_definitions")
        return sorted(n for n in self.definitions if sha_of_label(n))

    def attached_labels(self, names: Sequence[str]) -> set[str]:
        self._call("attached_labels")
        with self._lock:
            carried = {n for p in self._prs.values() for n in p.labels}
        return {n for n in names if n in carried}

    def comment(self, number: int, text: str) -> None:
        self._call("comment", write=True)
        self.comments.setdefault(number, []).append(text)

    def collaborator_permission(self, login: str) -> str:
        self._call("collaborator_permission")
        return self.permissions.get(login, "none")

    def own_login(self) -> str:
        return "showtime-bot"

    def _call(self, operation: str, *, write: bool = False) -> None:
        with self._lock:
            self.calls[operation] += 1
            if write:
                self.writes.append(operation)
            queued = self._failures.get(operation)
            error = queued.pop(0) if queued else None
        if error is not None:
            raise error


@dataclass
class _Service:
    name: str
    pr: int
    sha: str
    requested_by: Requester
    created: datetime
    status: str = "ACTIVE"
    drains_at: float | None = None  # monotonic time it becomes INACTIVE
    deployments: int = 1
    task_definition: str = ""


class FakeEcs:
    """``EcsPort`` in memory, on the clock: DRAINING lasts ``drain_seconds``; a service is
    stable ``stable_seconds`` after it was created or redeployed."""

    def __init__(self, clock: Clock, *, drain_seconds: float = 120, stable_seconds: float = 20):
        self.clock = clock
        self._lock = threading.RLock()
        self._services: dict[str, _Service] = {}
        self._ready_at: dict[str, float] = {}
        self.drain_seconds = drain_seconds
        self.stable_seconds = stable_seconds
        self.calls: Counter[str] = Counter()
        self.ip = "203.0.113.10"
        self._failures: dict[str, list[Exception]] = {}
        self._always_failing: set[str] = set()
        self.task_definitions: list[tuple[int, str]] = []
        # The bundled template's size; a test may register others (the CLI's, bigger).
        self.size = Size(512, 2048)
        self.sizes: dict[str, Size] = {}
        self.passwords: dict[str, str] = {}  # each registered revision's ADMIN_PASSWORD
        self.deregistered: list[str] = []

    def with_clock(self, clock: Clock) -> FakeEcs:
        """The same ECS (shared state), waiting on ``clock``."""
        bound = copy.copy(self)
        bound.clock = clock
        return bound

    # ----- set-up and inspection ---------------------------------------------------------

    def services(self, status: str | None = "ACTIVE") -> list[_Service]:
        with self._lock:
            self._tick()
            return [s for s in self._services.values() if status in (None, s.status)]

    def fail_next(self, operation: str, error: Exception) -> None:
        with self._lock:
            self._failures.setdefault(operation, []).append(error)

    def keep_failing(self, operation: str, failing: bool = True) -> None:
        with self._lock:
            (self._always_failing.add if failing else self._always_failing.discard)(operation)

    # ----- the port ----------------------------------------------------------------------

    def find_services(self, pr: int | None = None) -> Sequence[Service]:
        self._call("find_services")
        return [
            Service(
                s.name,
                ServiceState(s.status),
                s.pr,
                s.sha,
                s.requested_by,
                s.created,
                s.task_definition,
                True,
            )
            for s in self.services()
            if pr is None or s.pr == pr
        ]

    def environment_names(self) -> set[str]:
        self._call("environment_names")
        return {s.name for s in self.services()}

    def clear_name(self, name: str, progress: Progress = no_progress) -> None:
        self._call("clear_name")
        with self._lock:
            self._tick()
            service = self._services.get(name)
            if service is None or service.status == "INACTIVE":
                return
            if service.status == "ACTIVE":
                self._delete(service)
        started = self.clock.monotonic()
        progress(Waiting("clear_name", "DRAINING", 0, f"{name} is DRAINING"))
        while self._status(name) == "DRAINING":
            if self.clock.monotonic() - started > 600:
                raise WaitTimeoutError(f"{name} is still DRAINING", "press Retry later")
            self.clock.sleep(5)

    def register_task_definition(
        self, pr: int, sha: str, description: str, progress: Progress = no_progress
    ) -> str:
        self._call("register_task_definition")
        self.task_definitions.append((pr, sha))
        number = len(self.task_definitions)
        arn = f"arn:aws:ecs:us-west-2:000000000000:task-definition/superset-ci-pr-{pr}:{number}"
        self.sizes[arn] = self.size
        self.passwords[arn] = secrets.token_urlsafe(24)
        return arn

    def admin_login(self, task_definition_arn: str) -> AdminLogin:
        self._call("admin_login")
        password = self.passwords.get(task_definition_arn)
        if password is None:  # not one of ours: the CLI's admin/admin
            return AdminLogin("admin", "admin", generated=False, examples=True)
        return AdminLogin("admin", password, generated=True, examples=True)

    def create_service(
        self,
        *,
        pr: int,
        sha: str,
        task_definition_arn: str,
        requested_by: Requester,
        expires: datetime | None,
        client_token: str,
        progress: Progress = no_progress,
    ) -> Service:
        self._call("create_service")
        name = service_name(pr, sha)
        if self._status(name) in ("ACTIVE", "DRAINING"):
            # As the engine does when ECS refuses a name still taken: clear it once more.
            progress(
                Warning(
                    f"ECS says {name} is still taken (Creation of service was not "
                    "idempotent.); clearing it again"
                )
            )
            self.clear_name(name, progress)
        with self._lock:
            self._tick()
            existing = self._services.get(name)
            if existing is not None and existing.status in ("ACTIVE", "DRAINING"):
                raise FakeRemoteError(
                    "AWS", "CreateService", "Creation of service was not idempotent."
                )
            service = _Service(
                name,
                pr,
                sha[:7],
                requested_by,
                self.clock.now(),
                task_definition=task_definition_arn,
            )
            self._services[name] = service
            self._ready_at[name] = self.clock.monotonic() + self.stable_seconds
            return Service(
                name,
                ServiceState.ACTIVE,
                pr,
                service.sha,
                requested_by,
                service.created,
                task_definition_arn,
            )

    def deregister_task_definition(self, arn: str) -> None:
        self._call("deregister_task_definition")
        self.deregistered.append(arn)

    def redeploy(
        self, name: str, task_definition_arn: str, progress: Progress = no_progress
    ) -> None:
        self._call("redeploy")
        with self._lock:
            self._services[name].deployments += 1
            self._services[name].task_definition = task_definition_arn
            self._ready_at[name] = self.clock.monotonic() + self.stable_seconds

    def wait_stable(self, name: str, progress: Progress = no_progress) -> None:
        self._call("wait_stable")
        while self.clock.monotonic() < self._ready_at.get(name, 0):
            if self._status(name) != "ACTIVE":
                raise FakeRemoteError("AWS", "DescribeServices", f"{name} is gone")
            progress(Waiting("wait_stable", "PENDING", 0, f"waiting for {name}"))
            self.clock.sleep(5)

    def address(self, name: str) -> str:
        self._call("address")
        return self.ip

    def delete_service(self, name: str) -> bool:
        self._call("delete_service")
        with self._lock:
            self._tick()
            service = self._services.get(name)
            if service is None or service.status == "INACTIVE":
                return False
            if service.status == "ACTIVE":
                self._delete(service)
            return True  # it is DRAINING now (ECS answers so for one already DRAINING too)

    def delete_pr_environments(self, pr: int) -> list[str]:
        self._call("delete_pr_environments")
        deleted = []
        for service in self.services():
            if service.pr == pr and self.delete_service(service.name):
                deleted.append(service.name)
        return deleted

    def task_sizes(self, arns: Collection[str]) -> Mapping[str, Size]:
        self._call("task_sizes")
        return {arn: self.sizes[arn] for arn in arns if arn in self.sizes}

    def template_size(self) -> Size | None:
        return self.size

    # ----- internals --------------------------------------------------------------------

    def _delete(self, service: _Service) -> None:
        service.status = "DRAINING"
        service.drains_at = self.clock.monotonic() + self.drain_seconds

    def _status(self, name: str) -> str:
        with self._lock:
            self._tick()
            service = self._services.get(name)
            return service.status if service else "MISSING"

    def _tick(self) -> None:
        now = self.clock.monotonic()
        for service in self._services.values():
            if service.status == "DRAINING" and (service.drains_at or 0) <= now:
                service.status = "INACTIVE"

    def _call(self, operation: str) -> None:
        with self._lock:
            self.calls[operation] += 1
            queued = self._failures.get(operation)
            error = queued.pop(0) if queued else None
            always = operation in self._always_failing
        if error is not None:
            raise error
        if always:
            raise FakeRemoteError("AWS", operation, f"{operation} is throttled")


class FakeHealth:
    """``HealthProbe``: answers with ``status(url)`` each poll until 200 or the timeout,
    reporting a ``Waiting`` event on the first miss and then once a minute, as the real
    probe's wait does."""

    def __init__(self, clock: Clock, status: Callable[[str], int] = lambda url: 200) -> None:
        self.clock = clock
        self.status = status
        self.urls: list[str] = []

    def with_clock(self, clock: Clock) -> FakeHealth:
        bound = copy.copy(self)
        bound.clock = clock
        return bound

    def wait_healthy(self, url: str, progress: Progress = no_progress) -> None:
        started = self.clock.monotonic()
        reported: float | None = None
        while True:
            self.urls.append(url)
            status = self.status(url)
            if status == 200:
                return
            now = self.clock.monotonic()
            if reported is None or now - reported >= WAIT_REPORT_SECONDS:
                reported = now
                elapsed = now - started
                progress(Waiting("health_check", f"HTTP {status}", elapsed, f"still {status}"))
            if now - started >= 900:
                raise WaitTimeoutError(
                    f"{url} did not answer 200 within 15m", "push a fix, then press Retry"
                )
            self.clock.sleep(5)


class FakeLogs:
    """``LogsPort`` in memory: ``lines`` per service (or per task, when one is named), or
    ``problem`` for all; every ``tail`` asked is kept in ``reads``."""

    def __init__(self) -> None:
        self.lines: dict[str, list[str]] = {}  # service name or task → its log so far
        self.problem = ""
        self.reads: list[tuple[str, int, str | None]] = []
        self.fail: Exception | None = None  # a port that breaks its promise not to raise

    def with_clock(self, clock: Clock) -> FakeLogs:
        return self  # it never waits

    def console_url(self, service: str) -> str:
        return f"https://console.example/{service}/logs"

    def tail(self, service: str, lines: int, task: str | None = None) -> LogTail:
        self.reads.append((service, lines, task))
        if self.fail is not None:
            raise self.fail
        if self.problem:
            return LogTail(problem=self.problem)
        found = self.lines.get(task or "", self.lines.get(service, []))
        if not found:
            return LogTail(problem=f"no log yet: {service} has written nothing")
        return LogTail(tuple(found[-lines:]), truncated=len(found) > lines, stream=f"s/{service}")
