"""Calling GitHub: each call on a client of its own, paced and retried outside any lock.

PyGithub's Requester keeps one connection object whose request() and getresponse() share
state (PyGithub #2052), so two threads must never use one client at once; instead of a lock
around every request — where one slow answer or a 60-second rate-limit wait would stall
every job — each call borrows a client from a pool that grows to the calls in flight.
GitHub's advice against secondary rate limits (requests a little apart, writes a second
apart) is kept process-wide by ``Pacer``, which reserves a slot under a lock and sleeps
outside it. 5xx answers, lost connections and rate limits are retried (``RetryPolicy``) on
the injected clock — the job's interruptible one, so SIGTERM cuts a wait short.

Errors leave as the bot's own exceptions: ``PrNotFoundError`` for a PR that is not there,
``GitHubAuthError`` for credentials or permissions an admin must fix, ``GitHubError`` for
everything else — naming what failed and what to do, never the host (people see them).

Every request a client sends is told to a ``GitHubRecorder`` (the operators' metrics): its
method, its route as a template (``/repos/{owner}/{repo}/pulls/{number}``: no PR number,
label or login) and its outcome, and the rate limit GitHub's answer announces.
"""

from __future__ import annotations

import copy
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, Self, TypeVar
from urllib.parse import quote, urlsplit

import requests
from github import Auth, Github, GithubException, RateLimitExceededException
from github.Repository import Repository
from github.Requester import HTTPRequestsConnectionClass, HTTPSRequestsConnectionClass, Requester

from bot.clock import SYSTEM_CLOCK, Clock
from bot.config import Settings
from bot.domain.labels import MAX_LABEL_LENGTH
from bot.errors import (
    ConfigurationError,
    RemoteError,
    ShowtimeError,
    UserInputError,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

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
class Client:
    """One PyGithub client: a Github object, its lazy requester and repository."""

    github: Github
    requester: Requester
    repo: Repository


# ----- what each request is told as --------------------------------------------------


class GitHubRecorder(Protocol):
    """Who hears of every request (the operators' metrics); it must not block."""

    def github_request(self, method: str, route: str, outcome: str) -> None: ...
    def github_rate_limit(self, resource: str, remaining: int, limit: int) -> None: ...


class NoRecorder:
    """A ``GitHubRecorder`` that keeps nothing."""

    def github_request(self, method: str, route: str, outcome: str) -> None:
        pass

    def github_rate_limit(self, resource: str, remaining: int, limit: int) -> None:
        pass


# After these segments comes a value (a number, a label name, a login), shown as its
# placeholder: `/pulls/36121` → `/pulls/{number}`. Names as the GitHub stand-in counts them.
_VALUE_AFTER = {
    "pulls": "{number}",
    "issues": "{number}",
    "labels": "{name}",
    "collaborators": "{login}",
    "deployments": "{deployment_id}",
    "statuses": "{status_id}",
    "comments": "{comment_id}",
    "commits": "{sha}",
    "installations": "{installation_id}",
    "users": "{login}",
}
# Fixed words of GitHub's REST paths; any other segment is a value and becomes `{value}`,
# so a route is always one of a bounded set.
_ROUTE_WORDS = frozenset(_VALUE_AFTER) | {
    "repos",
    "search",
    "user",
    "app",
    "permission",
    "access_tokens",
    "rate_limit",
    "reviews",
    "files",
    "merge",
    "events",
    "status",
}


def route_template(url: str, api_prefix: str = "") -> str:
    """The route of a request URL (relative, or absolute as GitHub's links are), with every
    value replaced by its placeholder; ``api_prefix`` is GitHub Enterprise's ``/api/v3``."""
    path = urlsplit(url).path
    if api_prefix and path.startswith(api_prefix + "/"):
        path = path[len(api_prefix) :]
    segments = [segment for segment in path.split("/") if segment]
    route: list[str] = []
    index = 0
    if segments[:1] == ["repos"]:
        route, index = ["repos", "{owner}", "{repo}"], 3
    while index < len(segments):
        word = segments[index]
        if word in _VALUE_AFTER and index + 1 < len(segments):
            route += [word, _VALUE_AFTER[word]]
            index += 2
        else:
            route.append(word if word in _ROUTE_WORDS else "{value}")
            index += 1
    return "/" + "/".join(route)


def request_outcome(status: int) -> str:
    """``ok``; a 4xx status as itself (403, 404 and 422 mean different things); ``5xx``."""
    if status < 400:
        return "ok"
    return str(status) if status < 500 else "5xx"


class RecordingRequester(Requester):
    """PyGithub's requester, telling a recorder about each request it sends.

    Every JSON request — lazy objects completing, pages of a list, ``requestJsonAndCheck``
    — goes through ``requestJson`` once (a redirect PyGithub follows is part of it), and
    the bot makes no other kind.
    """

    def __init__(self, recorder: GitHubRecorder, api_prefix: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._recorder = recorder
        self._api_prefix = api_prefix

    def requestJson(
        self,
        verb: str,
        url: str,
        parameters: dict[str, Any] | None = None,
        headers: dict[str, Any] | None = None,
        input: Any | None = None,
        cnx: HTTPRequestsConnectionClass | HTTPSRequestsConnectionClass | None = None,
        follow_302_redirect: bool = False,
    ) -> tuple[int, dict[str, Any], str]:
        route = route_template(url, self._api_prefix)
        try:
            status, answer_headers, output = super().requestJson(
                verb, url, parameters, headers, input, cnx, follow_302_redirect
            )
        except requests.RequestException:
            self._recorder.github_request(verb, route, "unreachable")
            raise
        self._recorder.github_request(verb, route, request_outcome(status))
        remaining = _number(answer_headers.get("x-ratelimit-remaining"))
        limit = _number(answer_headers.get("x-ratelimit-limit"))
        if remaining is not None and limit is not None:
            resource = str(answer_headers.get("x-ratelimit-resource") or "core")
            self._recorder.github_rate_limit(resource, int(remaining), int(limit))
        return status, answer_headers, output


# ----- calls ---------------------------------------------------------------------


class GitHubCalls:
    """One repository's calls: the client pool, the pacing, the retries, the errors.

    Thread-safe; one per process, shared by the adapter and the Deployments mirror so
    the pacing holds for every write the process makes.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        retry: RetryPolicy | None = None,
        clock: Clock = SYSTEM_CLOCK,
        recorder: GitHubRecorder | None = None,
    ) -> None:
        self._settings = settings
        self._recorder = recorder or NoRecorder()
        self._api_prefix = urlsplit(settings.github_api_url).path.rstrip("/")
        self.repository = settings.github_repository
        self.repo_url = f"/repos/{self.repository}"
        self._clock = clock
        self._retry = retry or RetryPolicy()
        pace = settings.github_seconds_between_writes
        self._pacer = Pacer(clock, min(0.25, pace), pace)
        self._auth = _auth(settings)
        self._clients: queue.LifoQueue[Client] = queue.LifoQueue()
        self._all_clients: list[Client] = []
        self._clients_lock = threading.Lock()

    def with_clock(self, clock: Clock) -> Self:
        """The same clients and pacing, retrying on ``clock`` (a job's: a cancel ends a
        rate-limit backoff at once)."""
        bound = copy.copy(self)
        bound._clock = clock
        return bound

    def close(self) -> None:
        """Release PyGithub's connections (at shutdown)."""
        with self._clients_lock:
            for client in self._all_clients:
                client.github.close()

    def ref(self, number: int) -> str:
        return f"{self.repository}#{number}"

    def issue_url(self, number: int) -> str:
        return f"{self.repo_url}/issues/{number}"

    def request(
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

        def send(client: Client) -> Any:
            _, data = client.requester.requestJsonAndCheck(verb, url, **kwargs)
            return data

        return self.call(
            operation, resource, send, pr=pr, write=verb != "GET", repeatable=repeatable
        )

    def request_unless_404(
        self, operation: str, resource: str, verb: str, url: str, **kwargs: Any
    ) -> dict[str, Any] | None:
        """One request whose 404 means "not there", which the caller may accept: None."""

        def send(client: Client) -> dict[str, Any] | None:
            try:
                _, data = client.requester.requestJsonAndCheck(verb, url, **kwargs)
            except GithubException as exc:
                if exc.status != 404:
                    raise
                return None
            return data if isinstance(data, dict) else {}

        return self.call(operation, resource, send, write=verb != "GET")

    def call(
        self,
        operation: str,
        resource: str,
        fn: Callable[[Client], T],
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

    def _borrow(self) -> Client:
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
        requester = RecordingRequester(
            self._recorder, self._api_prefix, **{**github.requester.kwargs, "lazy": True}
        )
        # PyGithub takes no requester of ours, and the Github object's own sends search and
        # /user: it is replaced (before it opened a connection) so those are told too.
        setattr(github, "_Github__requester", requester)  # noqa: B010
        assert github.requester is requester, "PyGithub renamed Github's requester"
        client = Client(github, requester, Repository(requester, url=self.repo_url))
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
            return PrNotFoundError(pr, self.repository)
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
                f"{self.repository}, then restart",
            )
        if status == 403:
            needed = _PERMISSION_NEEDED.get(operation, "issues: write")
            return GitHubAuthError(
                f"GitHub refused to {operation} ({resource}): {status} {message}",
                f"give {self._credentials} the `{needed}` permission on {self.repository}",
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
        key = pem(settings.github_app_private_key.get_secret_value())
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


def pem(key: str) -> str:
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


def segment(value: str) -> str:
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


def already_exists(exc: GithubException) -> bool:
    if exc.status != 422 or not isinstance(exc.data, dict):
        return False
    errors = exc.data.get("errors") or []
    return any(isinstance(e, dict) and e.get("code") == "already_exists" for e in errors)
