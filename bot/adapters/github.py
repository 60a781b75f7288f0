"""GitHub adapter: PR reads and 🎪 label writes through PyGithub, within SPEC §10's budgets.

Labels are the shared state (SPEC §8), so every write here is shaped by what a
request costs: PyGithub paces writes about a second apart, so labels go on in
one POST, a PR's labels are read from the PR object already fetched, and label
definitions are created once per process and never PATCHed.

Errors leave as the bot's own exceptions: ``PrNotFoundError`` for a PR that is
not there, ``GitHubAuthError`` for credentials or permissions an admin must fix,
``GitHubError`` for everything else. 5xx answers, lost connections and rate limits
are retried first (``RetryPolicy``), waiting on the injected clock — the job's
interruptible one, so SIGTERM cuts a 60-second secondary-rate-limit wait short —
and never while holding anything another thread needs: each call borrows its own
PyGithub client, and the write pacing GitHub asks for reserves a time slot under a
lock but sleeps outside it. One caller's wait never stalls another's deploy.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

import requests
from github import Auth, Github, GithubException, GithubIntegration, RateLimitExceededException
from github.Deployment import Deployment
from github.GithubObject import NotSet
from github.Repository import Repository
from github.Requester import Requester

from bot.clock import SYSTEM_CLOCK, Clock
from bot.config import Settings
from bot.domain.labels import (
    MAX_LABEL_LENGTH,
    LabelChange,
    label_definition,
    sha_of_label,
    ttl_label,
)
from bot.domain.ttl import TTL_VALUES
from bot.errors import (
    ConfigurationError,
    RemoteError,
    ShowtimeError,
    UserInputError,
)
from bot.orchestrator.ports import LabelledPr, PullRequest

log = logging.getLogger(__name__)

T = TypeVar("T")

ROLES = ("admin", "maintain", "write", "triage", "read", "none")

# What a token needs for each operation, named as GitHub's fine-grained permissions.
_PERMISSION_NEEDED = {
    "read PR": "pull-requests: read",
    "list PR commits": "pull-requests: read",
    "search PRs": "pull-requests: read",
    "read labels": "issues: read",
    "add labels": "issues: write",
    "remove label": "issues: write",
    "create label definition": "issues: write",
    "delete label definition": "issues: write",
    "comment": "issues: write",
    "read collaborator permission": "metadata: read",
    "read the token's user": "metadata: read",
    "create deployment": "deployments: write",
    "set deployment status": "deployments: write",
    "read deployments": "deployments: read",
}


# ----- errors ----------------------------------------------------------------------


class GitHubError(RemoteError):
    """A GitHub call failed; ``code`` is the HTTP status ("" when GitHub was unreachable)."""

    def __init__(
        self,
        message: str,
        next_action: str = "",
        *,
        operation: str,
        code: str = "",
        resource: str = "",
    ) -> None:
        super().__init__(
            message,
            next_action,
            service="GitHub",
            operation=operation,
            code=code,
            resource=resource,
        )


class PrNotFoundError(UserInputError):
    def __init__(self, number: int, repository: str) -> None:
        super().__init__(
            f"PR #{number} does not exist in {repository}",
            f"check the number: https://github.com/{repository}/pull/{number}",
        )
        self.number = number
        self.repository = repository


class GitHubAuthError(ConfigurationError):
    """GitHub refused the credentials (401) or the permission (403)."""


class LabelTooLongError(ShowtimeError, ValueError):
    """A label name over GitHub's 50 characters: a bug in whoever built it, never sent."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"label {name!r} has {len(name)} characters; GitHub allows {MAX_LABEL_LENGTH}",
            "shorten it before writing (bot.domain.labels shortens the requester part)",
        )
        self.name = name


# ----- retries and pacing ---------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long a failed GitHub call waits before it is tried again.

    ``attempts`` tries in all. 5xx answers and lost connections back off 0, 1, 2, 4 s… (capped
    at ``backoff_max``); a secondary rate limit waits ``Retry-After`` or
    ``secondary_wait``; a primary rate limit waits for its reset when that is at most
    ``max_rate_limit_wait`` away and fails at once otherwise (an hour's wait inside a job
    helps nobody). Requests that are not safe to repeat (a comment) are retried only
    when GitHub refused them unread (rate limits).
    """

    attempts: int = 5
    backoff_factor: float = 0.5
    backoff_max: float = 30.0
    secondary_wait: float = 60.0
    max_rate_limit_wait: float = 120.0

    def delay(self, attempt: int, exc: Exception, *, repeatable: bool, now: float) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or None to give up."""
        if attempt >= self.attempts:
            return None
        if isinstance(exc, GithubException):
            headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
            if exc.status in (403, 429):
                if headers.get("x-ratelimit-remaining") == "0" and "retry-after" not in headers:
                    reset = _number(headers.get("x-ratelimit-reset"))
                    wait = (reset - now) if reset is not None else None
                    if wait is None or wait > self.max_rate_limit_wait:
                        return None
                    return max(wait, 0.0) + 1.0
                if "retry-after" in headers or _secondary_limit(exc):
                    after = _number(headers.get("retry-after"))
                    return after if after is not None else self.secondary_wait
                return None  # a plain permission refusal
            if exc.status < 500 or not repeatable:
                return None
        elif not repeatable:
            return None
        return min(
            self.backoff_factor * 2.0 ** (attempt - 1) if attempt > 1 else 0.0, self.backoff_max
        )


NO_RETRIES = RetryPolicy(attempts=1)


class Pacer:
    """GitHub's advice against secondary rate limits, for the whole process: requests a
    little apart, writes a second apart (GITHUB_SECONDS_BETWEEN_WRITES).

    A caller reserves the next free slot under a lock and sleeps until it outside the lock,
    so waiting callers queue in order without one holding others up.
    """

    def __init__(self, clock: Clock, between_requests: float, between_writes: float) -> None:
        self._clock = clock
        self._between_requests = between_requests
        self._between_writes = between_writes
        self._lock = threading.Lock()
        self._last_request = float("-inf")
        self._last_write = float("-inf")

    def wait_turn(self, *, write: bool) -> None:
        with self._lock:
            now = self._clock.monotonic()
            slot = max(now, self._last_request + self._between_requests)
            if write:
                slot = max(slot, self._last_write + self._between_writes)
                self._last_write = slot
            self._last_request = slot
        if slot > now:
            self._clock.sleep(slot - now)


@dataclass
class _Client:
    """One PyGithub client: a Github object, its lazy requester and repository."""

    github: Github
    requester: Requester
    repo: Repository


# ----- the adapter -----------------------------------------------------------------


class GitHubAdapter:
    """One repository's PRs and labels. Thread-safe; keep one per process (its cache)."""

    def __init__(
        self,
        settings: Settings,
        *,
        retry: RetryPolicy | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._settings = settings
        self._repository = settings.github_repository
        self._repo_url = f"/repos/{self._repository}"
        self._clock = clock
        self._retry = retry or RetryPolicy()
        pace = settings.github_seconds_between_writes
        self._pacer = Pacer(clock, min(0.25, pace), pace)
        self._auth = _auth(settings)
        # PyGithub's Requester keeps one connection object whose request() and getresponse()
        # share state (PyGithub #2052), so two threads must never use one client at once.
        # Instead of a lock around every request (one slow answer would stall every job),
        # each call borrows a client of its own; the pool grows to the calls in flight.
        self._clients: queue.LifoQueue[_Client] = queue.LifoQueue()
        self._all_clients: list[_Client] = []
        self._clients_lock = threading.Lock()
        self._own_login: str | None = None
        self._defined: set[str] = set()  # label definitions known to exist
        self._definitions_lock = threading.Lock()  # guards _name_locks only (never waits)
        self._name_locks: dict[str, threading.Lock] = {}

    @property
    def repository(self) -> str:
        return self._repository

    def close(self) -> None:
        """Release PyGithub's connections (at shutdown)."""
        with self._clients_lock:
            for client in self._all_clients:
                client.github.close()

    # ----- pull requests ---------------------------------------------------------

    def get_pr(self, number: int) -> PullRequest:
        """The PR with its labels: one GET /repos/{o}/{r}/pulls/{n}."""

        def read(client: _Client) -> PullRequest:
            pull = client.repo.get_pull(number)
            return PullRequest(
                number=pull.number,
                state=pull.state,
                merged=bool(pull.merged),
                head_sha=pull.head.sha,
                title=pull.title or "",
                body=pull.body or "",
                author=pull.user.login if pull.user else "ghost",
                html_url=pull.html_url,
                labels=tuple(label.name for label in pull.labels),
            )

        return self._call("read PR", self._ref(number), read, pr=number)

    def pr_commit_shas(self, number: int) -> list[str]:
        """Full SHAs of the PR's commits, oldest first (one request per 100)."""
        return self._call(
            "list PR commits",
            self._ref(number),
            lambda c: [commit.sha for commit in c.repo.get_pull(number).get_commits()],
            pr=number,
        )

    # ----- labels ----------------------------------------------------------------

    def apply_labels(
        self, number: int, change: LabelChange, current: Sequence[str]
    ) -> tuple[str, ...]:
        """Make ``change`` in as few writes as GitHub allows; the labels afterwards.

        Adding only: one POST. Removing one label only: one DELETE. Anything more: one
        read and one PUT of the whole set — removals and additions land together, so a
        claim never disappears before ``running`` appears.
        """
        if change.remove and (change.add or len(change.remove) > 1):
            return self.replace_labels(number, change.add, change.remove)
        if change.remove:
            self.remove_labels(number, list(change.remove))
            return tuple(n for n in current if n not in change.remove)
        if change.add:
            return self.add_labels(number, list(change.add))
        return tuple(current)

    def add_labels(self, number: int, names: Sequence[str]) -> tuple[str, ...]:
        """Add ``names`` in one POST; returns the PR's labels afterwards.

        Labels with a CLI colour (static, ⌛, 🚦) get their definition created
        first, once per process; the rest are left to GitHub's creation on first use.
        """
        wanted = self._prepare(names)
        if not wanted:
            return ()
        data = self._request(
            "add labels",
            f"{self._ref(number)} {wanted}",
            "POST",
            f"{self._issue_url(number)}/labels",
            input=wanted,
            pr=number,
        )
        return tuple(label["name"] for label in data)

    def replace_labels(
        self, number: int, add: Sequence[str], remove: Sequence[str]
    ) -> tuple[str, ...]:
        """Remove and add in one write: read the PR's labels, then PUT the whole new set.

        Two requests and one write, where single DELETEs cost one write each (and
        PyGithub paces writes a second apart). The read happens right before the PUT,
        so a label someone added meanwhile is kept; only the moment between the two
        requests is exposed. Labels the PR does not carry are simply not removed.
        """
        wanted = self._prepare(add)
        gone = set(remove)
        current = self._pr_labels(number)
        final = [name for name in current if name not in gone]
        final.extend(name for name in wanted if name not in final)
        if final == list(current):
            return current  # already as wanted: no write
        data = self._request(
            "set labels",
            f"{self._ref(number)} +{wanted} -{sorted(gone)}",
            "PUT",
            f"{self._issue_url(number)}/labels",
            input={"labels": final},
            pr=number,
        )
        return tuple(label["name"] for label in data)

    def _prepare(self, names: Sequence[str]) -> list[str]:
        """Names to send, once each: none too long for GitHub, coloured definitions made."""
        wanted = list(dict.fromkeys(names))
        for name in wanted:
            if len(name) > MAX_LABEL_LENGTH:
                raise LabelTooLongError(name)
        self.ensure_label_definitions(wanted)
        return wanted

    def remove_label(self, number: int, name: str) -> None:
        """Remove one label; a label the PR does not carry is fine (404)."""
        if len(name) > MAX_LABEL_LENGTH:
            return  # GitHub cannot hold it, so it is not on the PR
        # PyGithub's remove_from_labels leaves "/" unescaped; quote everything.
        url = f"{self._issue_url(number)}/labels/{_segment(name)}"
        if (
            self._request_unless_404("remove label", f"{self._ref(number)} {name!r}", "DELETE", url)
            is None
        ):
            log.debug("label %r was not on %s", name, self._ref(number))

    def remove_labels(self, number: int, names: Sequence[str]) -> None:
        """One DELETE per label (GitHub has no bulk removal short of replacing all)."""
        for name in dict.fromkeys(names):
            self.remove_label(number, name)

    def delete_label_definitions(self, names: Sequence[str]) -> None:
        """Delete repository label definitions (per-SHA ones would pile up); 404 is fine."""
        for name in dict.fromkeys(names):
            with self._definition_lock(name):
                self._defined.discard(name)
            if len(name) > MAX_LABEL_LENGTH:
                continue
            url = f"{self._repo_url}/labels/{_segment(name)}"
            resource = f"{self._repository} {name!r}"
            if self._request_unless_404("delete label definition", resource, "DELETE", url) is None:
                log.debug("label definition %r was already gone", name)

    def sha_label_definitions(self) -> list[str]:
        """Names of the repository's label definitions that carry a SHA (one request per 100)."""
        return self._call(
            "read labels",
            f"{self._repository} label definitions",
            lambda c: [label.name for label in c.repo.get_labels() if sha_of_label(label.name)],
        )

    def attached_labels(self, names: Sequence[str]) -> set[str]:
        """Which of ``names`` are on at least one issue or PR, open or closed; one request each.

        This asks the issues list, which reads GitHub's database, not the search index:
        search lags behind label writes, and a label wrongly thought unattached gets its
        definition deleted — which strips it from every PR. A name with a comma cannot
        be asked (the filter splits on commas), so it counts as attached and is kept.
        """
        attached: set[str] = set()
        for name in dict.fromkeys(names):
            if len(name) > MAX_LABEL_LENGTH:
                continue  # GitHub cannot hold it, so nothing carries it
            if "," in name:
                attached.add(name)
                continue
            data = self._request(
                "read labels",
                f"{self._repository} issues labelled {name!r}",
                "GET",
                f"{self._repo_url}/issues",
                parameters={"labels": name, "state": "all", "per_page": 1},
            )
            if data:
                attached.add(name)
        return attached

    def find_labelled_prs(self) -> list[LabelledPr]:
        """Every PR, open or closed, carrying a ``🎪 ⌛`` TTL label: one request per 100.

        GitHub's free-text search does not look at label names, so the TTL labels go
        in one ``label:`` qualifier, whose comma-separated values are OR-ed.
        """
        ttl_labels = ",".join(f'"{ttl_label(ttl)}"' for ttl in TTL_VALUES)
        query = f"repo:{self._repository} is:pr label:{ttl_labels}"

        def search(client: _Client) -> dict[int, LabelledPr]:
            found: dict[int, LabelledPr] = {}
            results = client.github.search_issues(query)
            for issue in results:
                found.setdefault(
                    issue.number,
                    LabelledPr(
                        number=issue.number,
                        state=issue.state,
                        title=issue.title or "",
                        html_url=issue.html_url,
                        labels=tuple(label.name for label in issue.labels),
                    ),
                )
            # Read after iterating, so these cost no request of their own.
            if results.incomplete_results or results.totalCount > len(found):
                log.warning(
                    "GitHub search returned %d of %d labelled PRs (incomplete or over 1000)",
                    len(found),
                    results.totalCount,
                )
            return found

        found = self._call("search PRs", query, search)
        return sorted(found.values(), key=lambda pr: pr.number)

    # ----- other -----------------------------------------------------------------

    def comment(self, number: int, text: str) -> None:
        """Comment on the PR (whether to is the orchestrator's call: SHOWTIME_PR_COMMENTS)."""
        self._request(
            "comment",
            self._ref(number),
            "POST",
            f"{self._issue_url(number)}/comments",
            input={"body": text},
            pr=number,
            repeatable=False,  # a 5xx may have created it: never post twice
        )

    def collaborator_permission(self, login: str) -> str:
        """admin, maintain, write, triage, read or none (also for unknown users)."""
        resource = f"{login} on {self._repository}"
        url = f"{self._repo_url}/collaborators/{_segment(login)}/permission"
        data = self._request_unless_404("read collaborator permission", resource, "GET", url)
        if data is None:  # not a GitHub user at all
            return "none"
        role = data.get("role_name")
        if role in ROLES:
            return str(role)
        # A custom role: its base permission is in the legacy field.
        permission = data.get("permission")
        return str(permission) if permission in ROLES else "none"

    def own_login(self) -> str:
        """The bot's GitHub identity, looked up once: the token's user, or ``<app>[bot]``."""
        with self._definitions_lock:
            known = self._own_login
        if known is not None:
            return known
        if self._settings.github_app_configured:
            assert self._settings.github_app_id and self._settings.github_app_private_key
            key = _pem(self._settings.github_app_private_key.get_secret_value())
            integration = GithubIntegration(
                auth=Auth.AppAuth(self._settings.github_app_id, key),
                base_url=self._settings.github_api_url,
            )
            login = self._call(
                "read the app", "the GitHub App", lambda c: f"{integration.get_app().slug}[bot]"
            )
        else:
            login = self._call(
                "read the token's user", "the token", lambda c: c.github.get_user().login
            )
        with self._definitions_lock:
            self._own_login = login
        return login

    # ----- deployments (SPEC §11: the PR page's "View deployment") ---------------------

    def create_deployment(
        self, *, sha: str, environment: str, description: str, payload: dict[str, str]
    ) -> int:
        """A transient, non-production deployment of ``sha`` that waits for no checks."""

        def create(client: _Client) -> int:
            deployment = client.repo.create_deployment(
                sha,
                auto_merge=False,
                required_contexts=[],
                payload=dict(payload),
                environment=environment,
                description=description[:140],
                transient_environment=True,
                production_environment=False,
            )
            return int(deployment.id)

        return self._call(
            "create deployment", f"{self._repository} {environment}", create, write=True
        )

    def set_deployment_status(
        self,
        deployment_id: int,
        state: str,
        *,
        description: str = "",
        environment_url: str | None = None,
        log_url: str | None = None,
    ) -> None:
        """A status on the deployment; ``log_url`` is sent as ``target_url``, which GitHub
        reads as the log URL (PyGithub has no ``log_url`` argument)."""
        url = f"{self._repo_url}/deployments/{deployment_id}"

        def post(client: _Client) -> None:
            deployment = Deployment(client.requester, url=url)  # lazy: no request
            deployment.create_status(
                state,
                description=description[:140],
                environment_url=environment_url if environment_url else NotSet,
                target_url=log_url if log_url else NotSet,
            )

        self._call(
            "set deployment status",
            f"{self._repository} deployment {deployment_id}",
            post,
            write=True,
        )

    def environment_deployments(self, environment: str) -> list[tuple[int, str]]:
        """(id, SHA) of the environment's ten newest deployments, newest first (one request)."""

        def read(client: _Client) -> list[tuple[int, str]]:
            found = client.repo.get_deployments(environment=environment)
            return [(int(d.id), str(d.sha)) for d in found.get_page(0)[:10]]

        return self._call("read deployments", f"{self._repository} {environment}", read)

    # ----- internals -------------------------------------------------------------

    def _request(
        self,
        operation: str,
        resource: str,
        verb: str,
        url: str,
        *,
        pr: int | None = None,
        repeatable: bool = True,
        **kwargs: Any,
    ) -> Any:
        """One REST request (JSON in and out) through ``_call``."""

        def send(client: _Client) -> Any:
            _, data = client.requester.requestJsonAndCheck(verb, url, **kwargs)
            return data

        return self._call(
            operation, resource, send, pr=pr, write=verb != "GET", repeatable=repeatable
        )

    def _request_unless_404(
        self, operation: str, resource: str, verb: str, url: str
    ) -> dict[str, Any] | None:
        """One request whose 404 means "not there", which the caller may accept: None."""

        def send(client: _Client) -> dict[str, Any] | None:
            try:
                _, data = client.requester.requestJsonAndCheck(verb, url)
            except GithubException as exc:
                if exc.status != 404:
                    raise
                return None
            return data if isinstance(data, dict) else {}

        return self._call(operation, resource, send, write=verb != "GET")

    def _pr_labels(self, number: int) -> tuple[str, ...]:
        data = self._request(
            "read labels",
            self._ref(number),
            "GET",
            f"{self._issue_url(number)}/labels",
            parameters={"per_page": 100},
            pr=number,
        )
        return tuple(label["name"] for label in data)

    def ensure_label_definitions(self, names: Sequence[str]) -> None:
        """Create the CLI-coloured definitions not yet known to exist, once per process.

        Shared labels (static ones, ⌛ TTLs) almost always exist already: they are looked
        up first (a read, which GitHub paces four times closer than a write) and created
        only when missing. Per-SHA 🚦 labels are new with each SHA: created straight away,
        "already_exists" counting as done. Jobs wanting the same definition wait for the one
        request; others are not held up (one lock per name).
        """
        for name in dict.fromkeys(names):
            definition = label_definition(name)
            if definition is None:
                continue
            with self._definition_lock(name):
                if name in self._defined:
                    continue
                if sha_of_label(name) is None and self._definition_exists(name):
                    self._defined.add(name)
                    continue
                colour, description = definition

                def create(
                    client: _Client,
                    name: str = name,
                    colour: str = colour,
                    description: str = description,
                ) -> None:
                    try:
                        client.repo.create_label(name, colour, description)
                        log.info("created label definition %r in %s", name, self._repository)
                    except GithubException as exc:
                        if not _already_exists(exc):
                            raise

                self._call(
                    "create label definition", f"{self._repository} {name!r}", create, write=True
                )
                self._defined.add(name)

    def _definition_exists(self, name: str) -> bool:
        url = f"{self._repo_url}/labels/{_segment(name)}"
        found = self._request_unless_404("read labels", f"{self._repository} {name!r}", "GET", url)
        return found is not None

    def _definition_lock(self, name: str) -> threading.Lock:
        with self._definitions_lock:
            return self._name_locks.setdefault(name, threading.Lock())

    def _issue_url(self, number: int) -> str:
        return f"{self._repo_url}/issues/{number}"

    def _ref(self, number: int) -> str:
        return f"{self._repository}#{number}"

    def _call(
        self,
        operation: str,
        resource: str,
        fn: Callable[[_Client], T],
        *,
        pr: int | None = None,
        write: bool = False,
        repeatable: bool = True,
    ) -> T:
        """Run ``fn`` with a client of its own, paced and retried; errors become the bot's.

        Between attempts the wait goes through the clock with no lock and no client held,
        so other jobs' calls go on meanwhile.
        """
        attempt = 0
        while True:
            attempt += 1
            self._pacer.wait_turn(write=write)
            client = self._borrow()
            try:
                return fn(client)
            except (GithubException, requests.RequestException) as exc:
                if isinstance(exc, requests.RequestException):
                    # Lost connection: the request may or may not have reached GitHub.
                    client.github.close()
                delay = self._retry.delay(
                    attempt, exc, repeatable=repeatable, now=self._clock.now().timestamp()
                )
                if delay is None:
                    raise self._translate(exc, operation, resource, pr) from exc
                log.info(
                    "GitHub %s (%s) failed (%s); trying again in %.0fs",
                    operation,
                    resource,
                    getattr(exc, "status", type(exc).__name__),
                    delay,
                )
            finally:
                self._clients.put(client)
            self._clock.sleep(delay)

    def _borrow(self) -> _Client:
        try:
            return self._clients.get_nowait()
        except queue.Empty:
            pass
        github = Github(
            base_url=self._settings.github_api_url,
            auth=self._auth,
            per_page=100,
            # Pacing and retries are ours (process-wide, and waiting outside any lock).
            seconds_between_requests=None,
            seconds_between_writes=None,
            retry=None,
            user_agent="showtime-bot",
            lazy=True,
        )
        # Lazy objects cost no request until an attribute is read: get_repo and
        # get_pull are free, and the first attribute of a PR is its one GET.
        requester = github.requester.withLazy(True)
        client = _Client(github, requester, Repository(requester, url=self._repo_url))
        with self._clients_lock:
            self._all_clients.append(client)
        return client

    def _translate(
        self, exc: Exception, operation: str, resource: str, pr: int | None
    ) -> ShowtimeError:
        if isinstance(exc, GithubException):
            return self._github_error(exc, operation, resource, pr)
        log.warning(
            "could not reach GitHub at %s to %s (%s): %s",
            self._settings.github_api_url,
            operation,
            resource,
            exc,
        )
        return GitHubError(
            f"could not reach GitHub to {operation} ({resource}): {type(exc).__name__}",
            "check GITHUB_API_URL and the network, then retry",
            operation=operation,
            resource=resource,
        )

    def _github_error(
        self, exc: GithubException, operation: str, resource: str, pr: int | None
    ) -> ShowtimeError:
        status = exc.status
        message = _message(exc)
        if status == 404 and pr is not None:
            return PrNotFoundError(pr, self._repository)
        if isinstance(exc, RateLimitExceededException) or _secondary_limit(exc):
            return GitHubError(
                f"GitHub's rate limit stopped {operation} ({resource}): {message}",
                "wait a few minutes and retry; GitHub's limits reset within the hour",
                operation=operation,
                code=str(status),
                resource=resource,
            )
        if status == 401:
            return GitHubAuthError(
                f"GitHub rejected the bot's credentials ({status} {message}) to {operation}",
                f"set {self._credentials} to valid credentials with "
                "`issues: write` and `pull-requests: read` on "
                f"{self._repository}, then restart",
            )
        if status == 403:
            needed = _PERMISSION_NEEDED.get(operation, "issues: write")
            return GitHubAuthError(
                f"GitHub refused to {operation} ({resource}): {status} {message}",
                f"give {self._credentials} the `{needed}` permission on {self._repository}",
            )
        return GitHubError(
            f"GitHub answered {status} to {operation} ({resource}): {message}",
            "retry in a minute; if it persists, see https://www.githubstatus.com"
            if status >= 500
            else "",
            operation=operation,
            code=str(status),
            resource=resource,
        )

    @property
    def _credentials(self) -> str:
        if self._settings.github_app_configured:
            return (
                "the GitHub App (GITHUB_APP_ID, GITHUB_APP_PRIVATE_KEY, GITHUB_APP_INSTALLATION_ID)"
            )
        return "GITHUB_TOKEN"


def _auth(settings: Settings) -> Auth.Auth:
    """A GitHub App installation (PyGithub refreshes its token) or a plain token."""
    if settings.github_app_configured:
        assert settings.github_app_id and settings.github_app_private_key
        assert settings.github_app_installation_id is not None
        key = _pem(settings.github_app_private_key.get_secret_value())
        app = Auth.AppAuth(settings.github_app_id, key)
        return app.get_installation_auth(settings.github_app_installation_id)
    token = settings.github_token.get_secret_value().strip() if settings.github_token else ""
    if not token:
        raise GitHubAuthError(
            "no GitHub credentials are configured",
            "set GITHUB_TOKEN (issues: write, pull-requests: read) or the three "
            "GITHUB_APP_* variables",
        )
    return Auth.Token(token)


def _pem(key: str) -> str:
    """A PEM private key, also when pasted into a one-line environment variable."""
    return key.replace("\\n", "\n") if "\\n" in key and "\n" not in key else key


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _secondary_limit(exc: GithubException) -> bool:
    message = str(_message(exc)).lower()
    return "secondary rate limit" in message or "abuse" in message


def _segment(value: str) -> str:
    """One URL path segment: emoji, spaces, ":" and "/" all percent-encoded."""
    return quote(value, safe="")


def _message(exc: GithubException) -> str:
    data = exc.data
    if isinstance(data, dict):
        message = str(data.get("message") or "")
        details = [
            str(error.get("message") or error.get("code"))
            for error in data.get("errors") or []
            if isinstance(error, dict)
        ]
        return "; ".join([message, *details]) if details else message
    return str(data or "")


def _already_exists(exc: GithubException) -> bool:
    if exc.status != 422 or not isinstance(exc.data, dict):
        return False
    errors = exc.data.get("errors") or []
    return any(isinstance(e, dict) and e.get("code") == "already_exists" for e in errors)
