"""GitHub adapter: PR reads and 🎪 label writes through PyGithub, within SPEC §10's budgets.

Labels are the shared state (SPEC §8), so every write here is shaped by what a
request costs: PyGithub paces writes about a second apart, so labels go on in
one POST, a PR's labels are read from the PR object already fetched, and label
definitions are created once per process and never PATCHed.

Errors leave as the bot's own exceptions: ``PrNotFoundError`` for a PR that is
not there, ``GitHubAuthError`` for credentials or permissions an admin must fix,
``GitHubError`` for everything else. 5xx answers and secondary rate limits are
retried first, by PyGithub's ``GithubRetry`` (waits through an injectable clock).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests
from github import Auth, Github, GithubException, GithubRetry, RateLimitExceededException
from github.Repository import Repository
from github.Requester import Requester

from bot.clock import SYSTEM_CLOCK, Clock
from bot.config import Settings
from bot.domain.labels import MAX_LABEL_LENGTH, label_definition, sha_of_label, ttl_label
from bot.domain.ttl import TTL_VALUES
from bot.errors import (
    ConfigurationError,
    RemoteError,
    ShowtimeError,
    UserInputError,
)

log = logging.getLogger(__name__)

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
}


# ----- results ---------------------------------------------------------------------


@dataclass(frozen=True)
class PullRequestInfo:
    number: int
    state: str  # "open" | "closed"
    merged: bool
    head_sha: str  # 40 hex
    title: str
    body: str
    author: str
    html_url: str
    labels: tuple[str, ...]  # read inline from the PR object: no extra request


@dataclass(frozen=True)
class LabelledPr:
    """A PR found by label search, with its labels inline."""

    number: int
    state: str
    title: str
    html_url: str
    labels: tuple[str, ...]


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


# ----- retries ---------------------------------------------------------------------


class ClockedRetry(GithubRetry):
    """``GithubRetry`` whose waits go through ``sleep`` (a ``Clock``'s, in tests a fake one).

    urllib3 sleeps with ``time.sleep`` itself; this keeps its decisions (Retry-After
    first, else the backoff GithubRetry sets for rate limits) and only swaps the sleep.
    """

    def __init__(self, *, sleep: Callable[[float], None] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sleep_function = sleep or SYSTEM_CLOCK.sleep

    def new(self, **kw: Any) -> ClockedRetry:
        retry = super().new(**kw)
        retry.sleep_function = self.sleep_function
        return retry

    def sleep(self, response: Any = None) -> None:
        seconds = 0.0
        if self.respect_retry_after_header and response is not None:
            seconds = self.get_retry_after(response) or 0.0
        if seconds <= 0:
            seconds = self.get_backoff_time()
        if seconds > 0:
            self.sleep_function(seconds)


def default_retry(clock: Clock = SYSTEM_CLOCK) -> ClockedRetry:
    """4 retries, waiting 0, 1, 2, 4 s (or Retry-After); a secondary rate limit waits 60 s.

    A primary rate limit that resets more than 2 minutes away fails instead of
    blocking a job for up to an hour. ``raise_on_status=False`` lets the last answer
    through, so the error shows GitHub's status and message rather than "too many
    retries".
    """
    return ClockedRetry(
        total=4,
        backoff_factor=0.5,
        backoff_max=30,
        secondary_rate_wait=60,
        max_rate_limit_wait=120,
        raise_on_status=False,
        sleep=clock.sleep,
    )


# ----- the adapter -----------------------------------------------------------------


class GitHubAdapter:
    """One repository's PRs and labels. Thread-safe; keep one per process (its cache)."""

    def __init__(
        self,
        settings: Settings,
        *,
        github: Github | None = None,
        retry: GithubRetry | int | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        """``retry``: None → ``default_retry(clock)``; an int or a Retry as PyGithub takes it."""
        self._settings = settings
        self._repository = settings.github_repository
        if github is None:
            pace = settings.github_seconds_between_writes
            github = Github(
                base_url=settings.github_api_url,
                auth=_auth(settings),
                per_page=100,
                seconds_between_requests=min(0.25, pace),
                seconds_between_writes=pace,
                retry=default_retry(clock) if retry is None else retry,
                user_agent="showtime-bot",
                lazy=True,
            )
        self._github = github
        # Lazy objects cost no request until an attribute is read: get_repo and
        # get_pull are free, and the first attribute of a PR is its one GET.
        self._requester: Requester = github.requester.withLazy(True)
        self._repo = Repository(self._requester, url=f"/repos/{self._repository}")
        self._repo_url = f"/repos/{self._repository}"
        self._defined: set[str] = set()  # label definitions known to exist
        self._definitions_lock = threading.Lock()  # taken before _request_lock, never after
        self._request_lock = threading.RLock()

    @property
    def repository(self) -> str:
        return self._repository

    def close(self) -> None:
        """Release PyGithub's pooled connections (at shutdown)."""
        self._github.close()

    # ----- pull requests ---------------------------------------------------------

    def get_pr(self, number: int) -> PullRequestInfo:
        """The PR with its labels: one GET /repos/{o}/{r}/pulls/{n}."""
        with self._call("read PR", self._ref(number), pr=number):
            pull = self._repo.get_pull(number)
            return PullRequestInfo(
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

    def pr_commit_shas(self, number: int) -> list[str]:
        """Full SHAs of the PR's commits, oldest first (one request per 100)."""
        with self._call("list PR commits", self._ref(number), pr=number):
            return [commit.sha for commit in self._repo.get_pull(number).get_commits()]

    # ----- labels ----------------------------------------------------------------

    def add_labels(self, number: int, names: Sequence[str]) -> tuple[str, ...]:
        """Add ``names`` in one POST; returns the PR's labels afterwards.

        Labels with a CLI colour (static, ⌛, 🚦) get their definition created
        first, once per process; the rest are left to GitHub's creation on first use.
        """
        wanted = self._prepare(names)
        if not wanted:
            return ()
        with self._call("add labels", f"{self._ref(number)} {wanted}", pr=number):
            _, data = self._requester.requestJsonAndCheck(
                "POST", f"{self._issue_url(number)}/labels", input=wanted
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
        with self._call("set labels", f"{self._ref(number)} +{wanted} -{sorted(gone)}", pr=number):
            _, data = self._requester.requestJsonAndCheck(
                "PUT", f"{self._issue_url(number)}/labels", input={"labels": final}
            )
        return tuple(label["name"] for label in data)

    def _prepare(self, names: Sequence[str]) -> list[str]:
        """Names to send, once each: none too long for GitHub, coloured definitions made."""
        wanted = list(dict.fromkeys(names))
        for name in wanted:
            if len(name) > MAX_LABEL_LENGTH:
                raise LabelTooLongError(name)
        self._ensure_definitions(wanted)
        return wanted

    def remove_label(self, number: int, name: str) -> None:
        """Remove one label; a label the PR does not carry is fine (404)."""
        if len(name) > MAX_LABEL_LENGTH:
            return  # GitHub cannot hold it, so it is not on the PR
        # PyGithub's remove_from_labels leaves "/" unescaped; quote everything.
        url = f"{self._issue_url(number)}/labels/{_segment(name)}"
        with self._call("remove label", f"{self._ref(number)} {name!r}"):
            if self._request_unless_404("DELETE", url) is None:
                log.debug("label %r was not on %s", name, self._ref(number))

    def remove_labels(self, number: int, names: Sequence[str]) -> None:
        """One DELETE per label (GitHub has no bulk removal short of replacing all)."""
        for name in dict.fromkeys(names):
            self.remove_label(number, name)

    def delete_label_definitions(self, names: Sequence[str]) -> None:
        """Delete repository label definitions (per-SHA ones would pile up); 404 is fine."""
        for name in dict.fromkeys(names):
            with self._definitions_lock:
                self._defined.discard(name)
            if len(name) > MAX_LABEL_LENGTH:
                continue
            url = f"{self._repo_url}/labels/{_segment(name)}"
            with self._call("delete label definition", f"{self._repository} {name!r}"):
                if self._request_unless_404("DELETE", url) is None:
                    log.debug("label definition %r was already gone", name)

    def sha_label_definitions(self) -> list[str]:
        """Names of the repository's label definitions that carry a SHA (one request per 100)."""
        with self._call("read labels", f"{self._repository} label definitions"):
            return [label.name for label in self._repo.get_labels() if sha_of_label(label.name)]

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
            with self._call("read labels", f"{self._repository} issues labelled {name!r}"):
                _, data = self._requester.requestJsonAndCheck(
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
        found: dict[int, LabelledPr] = {}
        with self._call("search PRs", query):
            results = self._github.search_issues(query)
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
        return sorted(found.values(), key=lambda pr: pr.number)

    # ----- other -----------------------------------------------------------------

    def comment(self, number: int, text: str) -> None:
        """Comment on the PR when SHOWTIME_PR_COMMENTS is on; otherwise no request at all."""
        if not self._settings.showtime_pr_comments:
            return
        with self._call("comment", self._ref(number), pr=number):
            self._repo.get_issue(number).create_comment(text)

    def collaborator_permission(self, login: str) -> str:
        """admin, maintain, write, triage, read or none (also for unknown users)."""
        resource = f"{login} on {self._repository}"
        url = f"{self._repo_url}/collaborators/{_segment(login)}/permission"
        with self._call("read collaborator permission", resource):
            data = self._request_unless_404("GET", url)
        if data is None:  # not a GitHub user at all
            return "none"
        role = data.get("role_name")
        if role in ROLES:
            return str(role)
        # A custom role: its base permission is in the legacy field.
        permission = data.get("permission")
        return str(permission) if permission in ROLES else "none"

    # ----- internals -------------------------------------------------------------

    def _request_unless_404(self, verb: str, url: str) -> dict[str, Any] | None:
        """One request whose 404 means "not there", which the caller may accept: None."""
        try:
            _, data = self._requester.requestJsonAndCheck(verb, url)
        except GithubException as exc:
            if exc.status != 404:
                raise
            return None
        return data if isinstance(data, dict) else {}

    def _pr_labels(self, number: int) -> tuple[str, ...]:
        with self._call("read labels", self._ref(number), pr=number):
            _, data = self._requester.requestJsonAndCheck(
                "GET", f"{self._issue_url(number)}/labels", parameters={"per_page": 100}
            )
        return tuple(label["name"] for label in data)

    def _ensure_definitions(self, names: Sequence[str]) -> None:
        """Create the coloured definitions not yet known; "already_exists" counts as known.

        The lock makes concurrent jobs share one create per label rather than race.
        """
        with self._definitions_lock:
            for name in names:
                definition = label_definition(name)
                if definition is None or name in self._defined:
                    continue
                colour, description = definition
                with self._call("create label definition", f"{self._repository} {name!r}"):
                    try:
                        self._repo.create_label(name, colour, description)
                        log.info("created label definition %r in %s", name, self._repository)
                    except GithubException as exc:
                        if not _already_exists(exc):
                            raise
                self._defined.add(name)

    def _issue_url(self, number: int) -> str:
        return f"{self._repo_url}/issues/{number}"

    def _ref(self, number: int) -> str:
        return f"{self._repository}#{number}"

    @contextmanager
    def _call(self, operation: str, resource: str, *, pr: int | None = None) -> Iterator[None]:
        """One GitHub exchange at a time; PyGithub's exceptions become the bot's.

        PyGithub's Requester keeps a single connection object whose request() and
        getresponse() share state, and paces writes with unlocked timestamps: two
        threads inside it at once can swap URLs, bodies and answers (PyGithub #2052)
        and burst writes together. GitHub asks clients to send requests serially
        anyway, so every request of every job and Slack thread goes through this lock.
        """
        try:
            with self._request_lock:
                yield
        except GithubException as exc:
            raise self._github_error(exc, operation, resource, pr) from exc
        except requests.exceptions.RetryError as exc:  # a Retry with raise_on_status=True
            raise GitHubError(
                f"GitHub kept failing to {operation} ({resource}) after retries",
                "retry in a minute; if it persists, see https://www.githubstatus.com",
                operation=operation,
                resource=resource,
            ) from exc
        except requests.RequestException as exc:
            raise GitHubError(
                f"could not reach GitHub at {self._settings.github_api_url} to {operation} "
                f"({resource}): {type(exc).__name__}",
                "check GITHUB_API_URL and the network, then retry",
                operation=operation,
                resource=resource,
            ) from exc

    def _github_error(
        self, exc: GithubException, operation: str, resource: str, pr: int | None
    ) -> ShowtimeError:
        status = exc.status
        message = _message(exc)
        if status == 404 and pr is not None:
            return PrNotFoundError(pr, self._repository)
        if isinstance(exc, RateLimitExceededException):
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
        key = settings.github_app_private_key.get_secret_value()
        if "\\n" in key and "\n" not in key:
            key = key.replace("\\n", "\n")  # PEM pasted into a one-line env var
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
