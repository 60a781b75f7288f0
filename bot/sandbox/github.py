"""A GitHub REST stand-in on 127.0.0.1 that PyGithub talks to unchanged.

It keeps one repository's pull requests, label definitions, PR labels, comments
and collaborator permissions in memory and answers the REST routes the bot (and
the superset-showtime CLI) use, with GitHub's JSON shapes, status codes, error
bodies and ``Link`` pagination — so the adapter's real PyGithub calls, URL
encoding of emoji label names included, are what the tests exercise.

Every request is counted per (method, route template), e.g.
``("POST", "/repos/{owner}/{repo}/issues/{number}/labels")``: tests and
benchmarks assert SPEC §10's request budgets against ``counts()``/``total()``.
``fail_next`` injects 5xx, 401 or 403 (secondary rate limit) answers.

Deliberately not modelled: issues that are not PRs, rate-limit accounting,
webhooks, GraphQL. Search ignores GitHub's ranking and returns newest PR first.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode

from bot.clock import SYSTEM_CLOCK, Clock

log = logging.getLogger(__name__)

DOCS = "https://docs.github.com/rest"
AUTO_LABEL_COLOUR = "ededed"  # what GitHub gives a label it creates on first use
MAX_LABEL_LENGTH = 50
MAX_SEARCH_RESULTS = 1000  # GitHub serves only the first 1000 search results
SECONDARY_RATE_LIMIT_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
)
ROLES = ("admin", "maintain", "write", "triage", "read", "none")
# The legacy ``permission`` field folds the finer roles into admin/write/read/none.
_LEGACY_PERMISSION = {
    "admin": "admin",
    "maintain": "write",
    "write": "write",
    "triage": "read",
    "read": "read",
    "none": "none",
}

# Route templates, as counted.
ROUTE_REPO = "/repos/{owner}/{repo}"
ROUTE_PULL = "/repos/{owner}/{repo}/pulls/{number}"
ROUTE_PULL_COMMITS = "/repos/{owner}/{repo}/pulls/{number}/commits"
ROUTE_ISSUES = "/repos/{owner}/{repo}/issues"
ROUTE_ISSUE = "/repos/{owner}/{repo}/issues/{number}"
ROUTE_ISSUE_LABELS = "/repos/{owner}/{repo}/issues/{number}/labels"
ROUTE_ISSUE_LABEL = "/repos/{owner}/{repo}/issues/{number}/labels/{name}"
ROUTE_ISSUE_COMMENTS = "/repos/{owner}/{repo}/issues/{number}/comments"
ROUTE_LABELS = "/repos/{owner}/{repo}/labels"
ROUTE_LABEL = "/repos/{owner}/{repo}/labels/{name}"
ROUTE_PERMISSION = "/repos/{owner}/{repo}/collaborators/{login}/permission"
ROUTE_SEARCH_ISSUES = "/search/issues"
ROUTE_ACCESS_TOKENS = "/app/installations/{installation_id}/access_tokens"
ROUTE_USER = "/user"
ROUTE_APP = "/app"
ROUTE_DEPLOYMENTS = "/repos/{owner}/{repo}/deployments"
ROUTE_DEPLOYMENT = "/repos/{owner}/{repo}/deployments/{deployment_id}"
ROUTE_DEPLOYMENT_STATUSES = "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses"
DEPLOYMENT_STATES = ("error", "failure", "inactive", "in_progress", "queued", "pending", "success")
ANY_ROUTE = "*"


class HttpError(Exception):
    """An answer other than success, raised by a route handler."""

    def __init__(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = dict(headers or {})


def github_error(status: int, message: str, doc: str = DOCS, **extra: Any) -> HttpError:
    """GitHub's error body: ``{"message", "documentation_url", "status"}`` (+ ``errors``)."""
    return HttpError(
        status, {"message": message, **extra, "documentation_url": doc, "status": str(status)}
    )


def not_found() -> HttpError:
    return github_error(404, "Not Found")


def validation_failed(doc: str, *errors: dict[str, Any]) -> HttpError:
    return github_error(422, "Validation Failed", doc, errors=list(errors))


@dataclass
class _Label:
    id: int
    name: str
    color: str
    description: str


@dataclass
class _Comment:
    id: int
    body: str
    author: str
    created_at: str


@dataclass
class _Pull:
    number: int
    title: str
    body: str
    author: str
    state: str
    merged: bool
    commits: list[str]
    created_at: str
    updated_at: str
    closed_at: str | None = None
    labels: list[_Label] = field(default_factory=list)
    comments: list[_Comment] = field(default_factory=list)

    @property
    def head_sha(self) -> str:
        return self.commits[-1]


@dataclass
class _Fault:
    method: str
    route: str
    status: int
    body: Any
    headers: dict[str, str]
    remaining: int


@dataclass
class _Deployment:
    id: int
    sha: str
    environment: str
    description: str
    payload: dict[str, Any]
    transient: bool
    production: bool
    created_at: str
    statuses: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class _Request:
    method: str
    path: str
    query: dict[str, str]
    params: dict[str, str]
    body: Any
    api: str  # base URL the client used, for the URLs in answers


Handler = Callable[["_Request"], tuple[int, Any, dict[str, str]]]


def fake_sha(*parts: object) -> str:
    """A stable, plausible 40-hex commit SHA derived from ``parts``."""
    return hashlib.sha1("/".join(str(p) for p in parts).encode()).hexdigest()


class GitHubStandIn:
    """One repository's worth of GitHub REST API, served on 127.0.0.1.

    ``bad_token`` is answered 401 "Bad credentials"; ``read_only_token`` may read
    but any write gets 403 "Resource not accessible by personal access token".
    Any other ``token``/``Bearer`` credential is accepted; requests without one may
    read (as on a public repository) but not write.
    """

    def __init__(
        self,
        repository: str = "apache/superset",
        *,
        bad_token: str = "bad-token",
        read_only_token: str | None = "read-only-token",
        bot_login: str = "showtime-bot",
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        owner, _, name = repository.partition("/")
        if not owner or not name:
            raise ValueError(f"repository must be owner/name, not {repository!r}")
        self.owner, self.name = owner, name
        self.bad_token = bad_token
        self.read_only_token = read_only_token
        self.bot_login = bot_login
        self._clock = clock
        self._lock = threading.RLock()
        self._pulls: dict[int, _Pull] = {}
        self._labels: dict[str, _Label] = {}  # by casefolded name: GitHub's names are case-blind
        self._permissions: dict[str, str] = {}
        self._deployments: dict[int, _Deployment] = {}
        self.app_slug = "showtime"
        # GitHub's search index lags label writes (seconds, sometimes minutes). While paused,
        # search answers from the pulls as they were when the pause began.
        self._search_snapshot: dict[int, _Pull] | None = None
        self._faults: list[_Fault] = []
        self._counts: Counter[tuple[str, str]] = Counter()
        self._next_id = 1000
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._routes: list[tuple[str, str, re.Pattern[str], Handler]] = [
            (method, template, _compile(template), handler)
            for method, template, handler in (
                ("GET", ROUTE_REPO, self._get_repo),
                ("GET", ROUTE_PULL, self._get_pull),
                ("GET", ROUTE_PULL_COMMITS, self._get_pull_commits),
                ("GET", ROUTE_ISSUES, self._list_issues),
                ("GET", ROUTE_ISSUE, self._get_issue),
                ("GET", ROUTE_ISSUE_LABELS, self._get_issue_labels),
                ("POST", ROUTE_ISSUE_LABELS, self._add_issue_labels),
                ("PUT", ROUTE_ISSUE_LABELS, self._set_issue_labels),
                ("DELETE", ROUTE_ISSUE_LABELS, self._clear_issue_labels),
                ("DELETE", ROUTE_ISSUE_LABEL, self._remove_issue_label),
                ("GET", ROUTE_ISSUE_COMMENTS, self._get_comments),
                ("POST", ROUTE_ISSUE_COMMENTS, self._add_comment),
                ("GET", ROUTE_LABELS, self._get_labels),
                ("POST", ROUTE_LABELS, self._create_label),
                ("GET", ROUTE_LABEL, self._get_label),
                ("PATCH", ROUTE_LABEL, self._edit_label),
                ("DELETE", ROUTE_LABEL, self._delete_label),
                ("GET", ROUTE_PERMISSION, self._get_permission),
                ("GET", ROUTE_SEARCH_ISSUES, self._search_issues),
                ("POST", ROUTE_ACCESS_TOKENS, self._create_access_token),
                ("GET", ROUTE_USER, self._get_user),
                ("GET", ROUTE_APP, self._get_app),
                ("POST", ROUTE_DEPLOYMENTS, self._create_deployment),
                ("GET", ROUTE_DEPLOYMENTS, self._list_deployments),
                ("GET", ROUTE_DEPLOYMENT, self._get_deployment),
                ("POST", ROUTE_DEPLOYMENT_STATUSES, self._create_deployment_status),
                ("GET", ROUTE_DEPLOYMENT_STATUSES, self._list_deployment_statuses),
            )
        ]

    # ----- lifecycle ------------------------------------------------------------

    @property
    def repository(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the GitHub stand-in is not running; call start() first")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self, port: int = 0) -> str:
        """Serve on 127.0.0.1 (``port=0``: any free port); returns the API base URL."""
        if self._server is not None:
            return self.base_url
        server = ThreadingHTTPServer(("127.0.0.1", port), _RequestHandler)
        server.daemon_threads = True
        server.standin = self  # type: ignore[attr-defined]
        self._server = server
        # A short poll interval makes stop() quick (shutdown waits for one poll).
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), name="github-standin", daemon=True
        )
        self._thread.start()
        log.info("GitHub stand-in for %s serving on %s", self.repository, self.base_url)
        return self.base_url

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> GitHubStandIn:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ----- state for tests and the sandbox --------------------------------------

    def add_pr(
        self,
        number: int,
        title: str,
        body: str = "",
        head_sha: str | None = None,
        state: str = "open",
        *,
        author: str = "octocat",
        labels: Iterable[str] = (),
        commits: Sequence[str] | None = None,
        merged: bool = False,
    ) -> str:
        """Add (or replace) a PR; returns its head SHA. ``commits`` end with the head."""
        if state not in ("open", "closed"):
            raise ValueError(f"state must be open or closed, not {state!r}")
        history = list(commits or [fake_sha(self.repository, number, i) for i in range(2)])
        if head_sha is not None and history[-1] != head_sha:
            history.append(head_sha)
        now = self._now()
        with self._lock:
            pull = _Pull(
                number=number,
                title=title,
                body=body,
                author=author,
                state=state,
                merged=merged and state == "closed",
                commits=history,
                created_at=now,
                updated_at=now,
                closed_at=now if state == "closed" else None,
            )
            self._pulls[number] = pull
            for name in labels:
                self._attach(pull, name)
            return pull.head_sha

    def push_commit(self, number: int, sha: str | None = None) -> str:
        """Append a commit to the PR (a new head); returns the new head SHA."""
        with self._lock:
            pull = self._pull_or_error(number)
            new = sha or fake_sha(self.repository, number, len(pull.commits), "pushed")
            pull.commits.append(new)
            pull.updated_at = self._now()
            return new

    def close_pr(self, number: int, *, merged: bool = False) -> None:
        with self._lock:
            pull = self._pull_or_error(number)
            pull.state, pull.merged = "closed", merged
            pull.closed_at = pull.updated_at = self._now()

    def head_sha(self, number: int) -> str:
        with self._lock:
            return self._pull_or_error(number).head_sha

    def commits(self, number: int) -> list[str]:
        with self._lock:
            return list(self._pull_or_error(number).commits)

    def labels(self, number: int) -> list[str]:
        """The PR's label names, in the order they were added."""
        with self._lock:
            return [label.name for label in self._pull_or_error(number).labels]

    def set_labels(self, number: int, names: list[str]) -> None:
        """Replace the PR's labels, as a person editing them on GitHub would."""
        with self._lock:
            pull = self._pull_or_error(number)
            pull.labels = []
            for name in dict.fromkeys(names):
                self._attach(pull, name)
            pull.updated_at = self._now()

    def comments(self, number: int) -> list[str]:
        with self._lock:
            return [comment.body for comment in self._pull_or_error(number).comments]

    def label_definitions(self) -> dict[str, tuple[str, str]]:
        """Every repository label: name → (colour, description)."""
        with self._lock:
            return {label.name: (label.color, label.description) for label in self._all_labels()}

    def define_label(
        self, name: str, color: str = AUTO_LABEL_COLOUR, description: str = ""
    ) -> None:
        """Create or overwrite a repository label definition."""
        with self._lock:
            existing = self._labels.get(name.casefold())
            if existing:
                existing.name, existing.color, existing.description = name, color, description
            else:
                self._labels[name.casefold()] = _Label(self._new_id(), name, color, description)

    def deployments(self, environment: str | None = None) -> list[dict[str, Any]]:
        """Deployments (newest first) with their statuses, as the PR page would show them."""
        with self._lock:
            found = sorted(self._deployments.values(), key=lambda d: -d.id)
            return [
                {
                    "id": d.id,
                    "sha": d.sha,
                    "environment": d.environment,
                    "transient": d.transient,
                    "production": d.production,
                    "payload": dict(d.payload),
                    "states": [status["state"] for status in d.statuses],
                    "statuses": [dict(status) for status in d.statuses],
                }
                for d in found
                if environment in (None, d.environment)
            ]

    def pull_request_payload(
        self, number: int, action: str, sender: str, *, label: str | None = None, api: str = ""
    ) -> dict[str, Any]:
        """A ``pull_request`` webhook payload for the PR as it is now, as GitHub sends it."""
        api = api or self.base_url
        with self._lock:
            pull = self._pull_or_error(number)
            payload: dict[str, Any] = {
                "action": action,
                "number": number,
                "pull_request": self._pull_json(api, pull),
                "repository": self._repo_json(api),
                "sender": self._user_json(api, sender),
            }
            if label is not None:
                defined = self._labels.get(label.casefold())
                payload["label"] = self._label_json(api, defined) if defined else {"name": label}
            if action == "synchronize":
                payload["before"] = pull.commits[-2] if len(pull.commits) > 1 else pull.head_sha
                payload["after"] = pull.head_sha
            return payload

    def pause_search_index(self) -> None:
        """Search keeps answering from the PRs as they are now (a lagging index)."""
        with self._lock:
            self._search_snapshot = {
                number: replace(pull, labels=list(pull.labels))
                for number, pull in self._pulls.items()
            }

    def resume_search_index(self) -> None:
        with self._lock:
            self._search_snapshot = None

    def set_permission(self, login: str, permission: str) -> None:
        if permission not in ROLES:
            raise ValueError(f"permission must be one of {', '.join(ROLES)}")
        with self._lock:
            self._permissions[login.casefold()] = permission

    # ----- faults and counters --------------------------------------------------

    def fail_next(
        self,
        method: str,
        route: str,
        status: int,
        body: Any = None,
        *,
        headers: Mapping[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` requests to ``route`` (a template, or ``"*"``) with ``status``.

        Without ``body``: 5xx → "Server Error", 401 → "Bad credentials", 403 → the
        secondary rate limit message (add ``headers={"Retry-After": "0"}`` for the
        header form), 404 → "Not Found".
        """
        with self._lock:
            self._faults.append(
                _Fault(
                    method.upper(),
                    route,
                    status,
                    _default_fault_body(status) if body is None else body,
                    dict(headers or {}),
                    times,
                )
            )

    def counts(self) -> dict[tuple[str, str], int]:
        """Requests so far per (method, route template); unknown routes by raw path."""
        with self._lock:
            return dict(self._counts)

    def count(self, method: str, route: str) -> int:
        with self._lock:
            return self._counts[(method.upper(), route)]

    def total(self, method: str | None = None) -> int:
        with self._lock:
            return sum(n for (m, _), n in self._counts.items() if method in (None, m))

    def reset_counts(self) -> None:
        with self._lock:
            self._counts.clear()

    # ----- HTTP dispatch --------------------------------------------------------

    def handle(
        self, method: str, target: str, headers: Message | Mapping[str, str], raw: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        """Answer one request: (status, JSON body or None, extra headers)."""
        path, _, query_string = target.partition("?")
        query = dict(parse_qsl(query_string, keep_blank_values=True))
        template, handler, params = self._match(method, path)
        with self._lock:
            self._counts[(method, template or path)] += 1
        try:
            fault = self._take_fault(method, template)
            if fault is not None:
                return fault.status, fault.body, fault.headers
            self._authorise(method, headers.get("Authorization") or "")
            if handler is None:
                raise not_found()
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                raise github_error(400, "Problems parsing JSON") from None
            host = headers.get("Host") or "127.0.0.1"
            request = _Request(method, path, query, params, body, f"http://{host}")
            with self._lock:
                return handler(request)
        except HttpError as error:
            return error.status, error.body, error.headers

    def _match(self, method: str, path: str) -> tuple[str | None, Handler | None, dict[str, str]]:
        path = path.rstrip("/") or "/"
        template_seen: str | None = None
        for route_method, template, pattern, handler in self._routes:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            params = {key: unquote(value) for key, value in match.groupdict().items()}
            if route_method == method:
                return template, handler, params
            template_seen = template_seen or template
        return template_seen, None, {}

    def _take_fault(self, method: str, template: str | None) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.method == method and fault.route in (template, ANY_ROUTE):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _authorise(self, method: str, authorization: str) -> None:
        scheme, _, credential = authorization.strip().partition(" ")
        credential = credential.strip()
        if not authorization:
            if method != "GET":
                raise github_error(401, "Requires authentication")
            return
        if scheme.lower() not in ("token", "bearer") or not credential:
            raise github_error(401, "Bad credentials")
        if credential == self.bad_token:
            raise github_error(401, "Bad credentials")
        if credential == self.read_only_token and method != "GET":
            raise github_error(403, "Resource not accessible by personal access token")

    # ----- route handlers (called with the lock held) ---------------------------

    def _check_repo(self, request: _Request) -> None:
        owner, repo = request.params.get("owner", ""), request.params.get("repo", "")
        if (owner.casefold(), repo.casefold()) != (self.owner.casefold(), self.name.casefold()):
            raise not_found()

    def _pull_for(self, request: _Request) -> _Pull:
        self._check_repo(request)
        number = request.params["number"]
        if not number.isdigit() or int(number) not in self._pulls:
            raise not_found()
        return self._pulls[int(number)]

    def _get_repo(self, request: _Request) -> tuple[int, Any, dict[str, str]]:
        self._check_repo(request)
        return 200, self._repo_json(request.api), {}

    def _get_pull(self, request: _Request) -> tuple[int, Any, dict[str, str]]:
        return 200, self._pull_json(request.api, self._pull_for(request)), {}

    def _get_pull_commits(self, request: _Request) -> tuple[int, Any, dict[str, str]]:
        pull = self._pull_for(request)
        commits = [self._commit_json(request.api, pull, i) for i in range(len(pull.commits))]
        return self._paginated(request, commits)

    def _list_issues(self, request: _Request) -> tuple[int, Any, dict[str, str]]:
        """``state`` open (default) / closed / all; ``labels`` comma-separated, all required."""
        self._check_repo(request)
        state = request.query.get("state", "open")
        wanted = {name.casefold() for name in request.query.get("labels", "").split(",") if name}
        found = [
            self._issue_json(request.api, pull)
            for pull in sorted(self._pulls.values(), key=lambda p: -p.number)
            if state in ("all", pull.state)
            and wanted <= {label.name.casefold() for label in pull.labels}
        ]
        return self._paginated(request, found)

    def _get_issue(self, request: _Request) -> tuple[int, Any, dict[str, str]]:
        return 200, self._issue_json(request.api, self._pull_for(request)), {}

    def _get_issue_labels(self, request: _Request) -> tuple[int, Any, dict[str, str]]:
        pull = self._pull_for(request)
        return self._paginated(request, [self._label_json(request.api, x) for x in pull.labels])

    def _add_issue_labels(self, request: _Request) -> tuple[int, Any, dict[str, str]]:
        pull = self._pull_for(request)
        for name in _label_names(request.body, "add-labels-to-an-issue"):
            self._attach(pull, name)
        pull.updated_at = self._now()
        return 200, [self._label_json(request.api, label) for label in pull.labels], {}

    def _set_issue_labels(self, request: _Request) -> tuple[int, Any, dict[str, str]]:
        pull = self._pull_for(request)
        names = _label_names(request.body, "set-labels-for-an-issue")
        pull.labels = []
        for name in names:
            self._attach(pull, name)
        pull.updated_at = self._now()
        return 200, [self._label_json(request.api, label) for label in pull.labels], {}

    def _clear_issue_labels(self, request: _Request) -> tuple[int, Any, dict[str, str]]:
        self._pull_for(request).labels = []
        return 204, None, {}

    def _remove_issue_label(self, request: _Request) -> tuple[int, Any, dict[str, str]]:
        pull = self._pull_for(request)
        wanted = request.params["name"].casefold()
        kept = [label for label in pull.labels if label.name.casefold() != wanted]
        if len(kept) == len(pull.labels):
            raise github_error(
                404, "Label does not exist", f"{DOCS}/issues/labels#remove-a-label-from-an-issue"
            )
        pull.labels = kept
        pull.updated_at = self._now()
        return 200, [self._label_json(request.api, label) for label in kept], {}

    def _get_comments(self, request: _Request) -> tuple[int, Any, dict[str, str]]:
        pull = self._pull_for(request)
        return self._paginated(
            request, [self._comment_json(request.api, pull, c) for c in pull.comments]
        )

    def _add_comment(self, request: _Request) -> tuple[int, Any, dict[str, str]]:
        pull = self._pull_for(request)
        body = request.body.get("body") if isinstance(request.body, dict) else None
        if not isinstance(body, str) or not body:
            raise validation_failed(
                f"{DOCS}/issues/comments#create-an-issue-comment",
                {"resource": "IssueComment", "code": "missing_field", "field": "body"},
            )
        comment = _Comment(self._new_id(), body, self.bot_login, self._now())
        pull.comments.append(comment)
        return 201, self._comment_json(request.api, pull, comment), {}

    def _get_labels(self, request: _Request) -> tuple[int, Any, dict[str, str]]:
        self._check_repo(request)
        return self._paginated(
            request, [self._label_json(request.api, label) for label in self._all_labels()]
        )

    def _get_label(self, request: _Request) -> tuple[int, Any, dict[str, str]]:
        self._check_repo(request)
        label = self._labels.get(request.params["name"].casefold())
        if label is None:
            raise not_found()
        return 200, self._label_json(request.api, label), {}

    def _create_label(self, request: _Request) -> tuple[int, Any, dict[str, str]]:
        self._check_repo(request)
        doc = f"{DOCS}/issues/labels#create-a-label"
        body = request.body if isinstance(request.body, dict) else {}
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise validation_failed(
                doc, {"resource": "Label", "code": "missing_field", "field": "name"}
            )
        _check_definition_name(name, doc)
        color = _colour(body.get("color", AUTO_LABEL_COLOUR), doc)
        if name.casefold() in self._labels:
            raise validation_failed(
                doc, {"resource": "Label", "code": "already_exists", "field": "name"}
            )
        label = _Label(self._new_id(), name, color, str(body.get("description") or ""))
        self._labels[name.casefold()] = label
        return 201, self._label_json(request.api, label), {}

    def _edit_label(self, request: _Request) -> tuple[int, Any, dict[str, str]]:
        self._check_repo(request)
        doc = f"{DOCS}/issues/labels#update-a-label"
        label = self._labels.get(request.params["name"].casefold())
        if label is None:
            raise not_found()
        body = request.body if isinstance(request.body, dict) else {}
        new_name = body.get("new_name") or body.get("name")
        if isinstance(new_name, str) and new_name != label.name:
            _check_definition_name(new_name, doc)
            clash = self._labels.get(new_name.casefold())
            if clash is not None and clash is not label:
                raise validation_failed(
                    doc, {"resource": "Label", "code": "already_exists", "field": "name"}
                )
            del self._labels[label.name.casefold()]
            label.name = new_name
            self._labels[new_name.casefold()] = label
        if "color" in body:
            label.color = _colour(body["color"], doc)
        if "description" in body:
            label.description = str(body["description"] or "")
        return 200, self._label_json(request.api, label), {}

    def _delete_label(self, request: _Request) -> tuple[int, Any, dict[str, str]]:
        self._check_repo(request)
        label = self._labels.pop(request.params["name"].casefold(), None)
        if label is None:
            raise not_found()
        for pull in self._pulls.values():  # GitHub removes a deleted label from every issue
            pull.labels = [x for x in pull.labels if x is not label]
        return 204, None, {}

    def _get_permission(self, request: _Request) -> tuple[int, Any, dict[str, str]]:
        self._check_repo(request)
        login = request.params["login"]
        role = self._permissions.get(login.casefold(), "none")
        return (
            200,
            {
                "permission": _LEGACY_PERMISSION[role],
                "role_name": role,
                "user": self._user_json(request.api, login),
            },
            {},
        )

    def _search_issues(self, request: _Request) -> tuple[int, Any, dict[str, str]]:
        doc = f"{DOCS}/search/search#search-issues-and-pull-requests"
        query = request.query.get("q", "").strip()
        if not query:
            raise validation_failed(doc, {"resource": "Search", "field": "q", "code": "missing"})
        search = _parse_search(query)
        indexed = self._pulls if self._search_snapshot is None else self._search_snapshot
        found = [
            pull
            for pull in sorted(indexed.values(), key=lambda p: -p.number)
            if search.matches(self.repository, pull)
        ]
        page, per_page = _page_numbers(request.query)
        if (page - 1) * per_page >= MAX_SEARCH_RESULTS and found:
            raise github_error(422, "Only the first 1000 search results are available", doc)
        items = [
            {**self._issue_json(request.api, pull), "score": 1.0}
            for pull in found[:MAX_SEARCH_RESULTS]
        ]
        status, chunk, headers = self._paginated(request, items)
        body = {"total_count": len(found), "incomplete_results": False, "items": chunk}
        return status, body, headers

    def _get_user(self, request: _Request) -> tuple[int, Any, dict[str, str]]:
        """The token's own user: the bot account."""
        return 200, self._user_json(request.api, self.bot_login), {}

    def _get_app(self, request: _Request) -> tuple[int, Any, dict[str, str]]:
        """The GitHub App the JWT stands for (its events come from ``<slug>[bot]``)."""
        return 200, {"id": 12345, "slug": self.app_slug, "name": "Showtime"}, {}

    def _create_deployment(self, request: _Request) -> tuple[int, Any, dict[str, str]]:
        self._check_repo(request)
        doc = f"{DOCS}/deployments/deployments#create-a-deployment"
        body = request.body if isinstance(request.body, dict) else {}
        ref = str(body.get("ref") or "")
        commit = next(
            (sha for pull in self._pulls.values() for sha in pull.commits if sha.startswith(ref)),
            None,
        )
        if not ref or commit is None:
            raise validation_failed(
                doc, {"resource": "Deployment", "field": "ref", "code": "invalid"}
            )
        if body.get("required_contexts") != []:
            # Without an empty list GitHub waits for the commit's checks (409 when pending).
            raise github_error(409, "Conflict: Commit status checks failed for " + ref, doc)
        deployment = _Deployment(
            id=self._new_id(),
            sha=commit,
            environment=str(body.get("environment") or "production"),
            description=str(body.get("description") or ""),
            payload=dict(body.get("payload") or {}),
            transient=bool(body.get("transient_environment", False)),
            production=bool(
                body.get("production_environment", body.get("environment") in (None, "production"))
            ),
            created_at=self._now(),
        )
        self._deployments[deployment.id] = deployment
        return 201, self._deployment_json(request.api, deployment), {}

    def _list_deployments(self, request: _Request) -> tuple[int, Any, dict[str, str]]:
        self._check_repo(request)
        wanted = request.query.get("environment")
        sha = request.query.get("sha")
        found = [
            self._deployment_json(request.api, d)
            for d in sorted(self._deployments.values(), key=lambda d: -d.id)
            if wanted in (None, d.environment) and sha in (None, d.sha)
        ]
        return self._paginated(request, found)

    def _get_deployment(self, request: _Request) -> tuple[int, Any, dict[str, str]]:
        return 200, self._deployment_json(request.api, self._deployment_of(request)), {}

    def _create_deployment_status(self, request: _Request) -> tuple[int, Any, dict[str, str]]:
        deployment = self._deployment_of(request)
        doc = f"{DOCS}/deployments/statuses#create-a-deployment-status"
        body = request.body if isinstance(request.body, dict) else {}
        state = body.get("state")
        if state not in DEPLOYMENT_STATES:
            raise validation_failed(
                doc, {"resource": "DeploymentStatus", "field": "state", "code": "invalid"}
            )
        status = {
            "id": self._new_id(),
            "state": state,
            "description": str(body.get("description") or "")[:140],
            "environment": deployment.environment,
            # GitHub reads target_url as log_url (and the other way round).
            "log_url": body.get("log_url") or body.get("target_url") or "",
            "target_url": body.get("log_url") or body.get("target_url") or "",
            "environment_url": body.get("environment_url") or "",
            "created_at": self._now(),
        }
        deployment.statuses.append(status)
        return 201, {**status, "deployment_url": self._deployment_url(request.api, deployment)}, {}

    def _list_deployment_statuses(self, request: _Request) -> tuple[int, Any, dict[str, str]]:
        deployment = self._deployment_of(request)
        return self._paginated(request, list(reversed(deployment.statuses)))

    def _deployment_of(self, request: _Request) -> _Deployment:
        self._check_repo(request)
        try:
            return self._deployments[int(request.params["deployment_id"])]
        except (KeyError, ValueError):
            raise not_found() from None

    def _deployment_url(self, api: str, deployment: _Deployment) -> str:
        return f"{self._repo_url(api)}/deployments/{deployment.id}"

    def _deployment_json(self, api: str, deployment: _Deployment) -> dict[str, Any]:
        url = self._deployment_url(api, deployment)
        return {
            "url": url,
            "id": deployment.id,
            "node_id": f"DE_{deployment.id}",
            "sha": deployment.sha,
            "ref": deployment.sha,
            "task": "deploy",
            "payload": deployment.payload,
            "environment": deployment.environment,
            "original_environment": deployment.environment,
            "description": deployment.description,
            "creator": self._user_json(api, self.bot_login),
            "created_at": deployment.created_at,
            "updated_at": deployment.created_at,
            "statuses_url": f"{url}/statuses",
            "repository_url": self._repo_url(api),
            "transient_environment": deployment.transient,
            "production_environment": deployment.production,
        }

    def _create_access_token(self, request: _Request) -> tuple[int, Any, dict[str, str]]:
        expires = self._clock.now().replace(microsecond=0).timestamp() + 3600
        token = "ghs_" + fake_sha("installation", request.params["installation_id"], expires)[:36]
        return (
            201,
            {
                "token": token,
                "expires_at": datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "permissions": {
                    "issues": "write",
                    "pull_requests": "read",
                    "metadata": "read",
                    "deployments": "write",
                },
                "repository_selection": "selected",
            },
            {},
        )

    # ----- helpers --------------------------------------------------------------

    def _paginated(
        self, request: _Request, items: list[Any]
    ) -> tuple[int, list[Any], dict[str, str]]:
        """One page of ``items`` with GitHub's ``Link`` header (next/last, first/prev)."""
        page, per_page = _page_numbers(request.query)
        last = max(1, math.ceil(len(items) / per_page))
        chunk = items[(page - 1) * per_page : page * per_page]

        def link(number: int, rel: str) -> str:
            query = {**request.query, "per_page": str(per_page), "page": str(number)}
            return f'<{request.api}{request.path}?{urlencode(query)}>; rel="{rel}"'

        links = []
        if page < last:
            links += [link(page + 1, "next"), link(last, "last")]
        if page > 1:
            links += [link(1, "first"), link(min(page - 1, last), "prev")]
        return 200, chunk, ({"Link": ", ".join(links)} if links else {})

    def _attach(self, pull: _Pull, name: str) -> None:
        label = self._labels.get(name.casefold())
        if label is None:  # GitHub creates a definition on first use
            label = _Label(self._new_id(), name, AUTO_LABEL_COLOUR, "")
            self._labels[name.casefold()] = label
        if all(existing is not label for existing in pull.labels):
            pull.labels.append(label)

    def _all_labels(self) -> list[_Label]:
        return sorted(self._labels.values(), key=lambda label: label.name.casefold())

    def _pull_or_error(self, number: int) -> _Pull:
        try:
            return self._pulls[number]
        except KeyError:
            raise KeyError(f"no PR #{number} in the GitHub stand-in") from None

    def _new_id(self) -> int:
        with self._lock:
            self._next_id += 1
            return self._next_id

    def _now(self) -> str:
        return self._clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")

    def _repo_url(self, api: str) -> str:
        return f"{api}/repos/{self.owner}/{self.name}"

    def _user_json(self, api: str, login: str) -> dict[str, Any]:
        user_id = int(fake_sha("user", login)[:8], 16)
        return {
            "login": login,
            "id": user_id,
            "node_id": f"U_{user_id}",
            "avatar_url": f"https://avatars.githubusercontent.com/u/{user_id}",
            "url": f"{api}/users/{login}",
            "html_url": f"https://github.com/{login}",
            "type": "Bot" if login.endswith("[bot]") else "User",
            "site_admin": False,
        }

    def _repo_json(self, api: str) -> dict[str, Any]:
        return {
            "id": 39464018,
            "node_id": "MDEwOlJlcG9zaXRvcnkzOTQ2NDAxOA==",
            "name": self.name,
            "full_name": self.repository,
            "owner": {**self._user_json(api, self.owner), "type": "Organization"},
            "private": False,
            "html_url": f"https://github.com/{self.repository}",
            "description": "Apache Superset is a Data Visualization and Data Exploration Platform",
            "fork": False,
            "url": self._repo_url(api),
            "default_branch": "master",
            "visibility": "public",
        }

    def _label_json(self, api: str, label: _Label) -> dict[str, Any]:
        return {
            "id": label.id,
            "node_id": f"LA_kwDOAlosUs8{label.id:08d}",
            "url": f"{self._repo_url(api)}/labels/{quote(label.name, safe='')}",
            "name": label.name,
            "color": label.color,
            "default": False,
            "description": label.description or None,
        }

    def _issue_json(self, api: str, pull: _Pull) -> dict[str, Any]:
        repo_url = self._repo_url(api)
        url = f"{repo_url}/issues/{pull.number}"
        return {
            "url": url,
            "repository_url": repo_url,
            "labels_url": f"{url}/labels{{/name}}",
            "comments_url": f"{url}/comments",
            "events_url": f"{url}/events",
            "html_url": f"https://github.com/{self.repository}/pull/{pull.number}",
            "id": pull.number * 1000 + 7,
            "node_id": f"PR_kwDOAlosUs{pull.number}",
            "number": pull.number,
            "title": pull.title,
            "user": self._user_json(api, pull.author),
            "labels": [self._label_json(api, label) for label in pull.labels],
            "state": pull.state,
            "state_reason": None,
            "locked": False,
            "assignee": None,
            "assignees": [],
            "milestone": None,
            "comments": len(pull.comments),
            "created_at": pull.created_at,
            "updated_at": pull.updated_at,
            "closed_at": pull.closed_at,
            "author_association": "CONTRIBUTOR",
            "draft": False,
            "body": pull.body,
            "pull_request": {
                "url": f"{repo_url}/pulls/{pull.number}",
                "html_url": f"https://github.com/{self.repository}/pull/{pull.number}",
                "diff_url": f"https://github.com/{self.repository}/pull/{pull.number}.diff",
                "patch_url": f"https://github.com/{self.repository}/pull/{pull.number}.patch",
                "merged_at": pull.closed_at if pull.merged else None,
            },
        }

    def _pull_json(self, api: str, pull: _Pull) -> dict[str, Any]:
        repo_url = self._repo_url(api)
        url = f"{repo_url}/pulls/{pull.number}"
        author = self._user_json(api, pull.author)
        repo = self._repo_json(api)
        return {
            "url": url,
            "id": pull.number * 1000 + 7,
            "node_id": f"PR_kwDOAlosUs{pull.number}",
            "html_url": f"https://github.com/{self.repository}/pull/{pull.number}",
            "diff_url": f"https://github.com/{self.repository}/pull/{pull.number}.diff",
            "patch_url": f"https://github.com/{self.repository}/pull/{pull.number}.patch",
            "issue_url": f"{repo_url}/issues/{pull.number}",
            "commits_url": f"{url}/commits",
            "review_comments_url": f"{url}/comments",
            "comments_url": f"{repo_url}/issues/{pull.number}/comments",
            "statuses_url": f"{repo_url}/statuses/{pull.head_sha}",
            "number": pull.number,
            "state": pull.state,
            "locked": False,
            "title": pull.title,
            "user": author,
            "body": pull.body,
            "labels": [self._label_json(api, label) for label in pull.labels],
            "milestone": None,
            "created_at": pull.created_at,
            "updated_at": pull.updated_at,
            "closed_at": pull.closed_at,
            "merged_at": pull.closed_at if pull.merged else None,
            "merge_commit_sha": fake_sha(self.repository, pull.number, "merge"),
            "assignee": None,
            "assignees": [],
            "requested_reviewers": [],
            "draft": False,
            "head": {
                "label": f"{pull.author}:pr-{pull.number}",
                "ref": f"pr-{pull.number}",
                "sha": pull.head_sha,
                "user": author,
                "repo": repo,
            },
            "base": {
                "label": f"{self.owner}:master",
                "ref": "master",
                "sha": fake_sha(self.repository, "master"),
                "user": repo["owner"],
                "repo": repo,
            },
            "author_association": "CONTRIBUTOR",
            "merged": pull.merged,
            "mergeable": None if pull.state == "closed" else True,
            "mergeable_state": "unknown" if pull.state == "closed" else "clean",
            "merged_by": None,
            "comments": len(pull.comments),
            "review_comments": 0,
            "maintainer_can_modify": False,
            "commits": len(pull.commits),
            "additions": 0,
            "deletions": 0,
            "changed_files": 0,
        }

    def _commit_json(self, api: str, pull: _Pull, index: int) -> dict[str, Any]:
        sha = pull.commits[index]
        parent = pull.commits[index - 1] if index else fake_sha(self.repository, "master")
        person = {"name": pull.author, "email": f"{pull.author}@users.noreply.github.com"}
        return {
            "sha": sha,
            "node_id": f"C_{sha[:20]}",
            "url": f"{self._repo_url(api)}/commits/{sha}",
            "html_url": f"https://github.com/{self.repository}/commit/{sha}",
            "commit": {
                "message": f"commit {index + 1} of PR #{pull.number}",
                "author": {**person, "date": pull.created_at},
                "committer": {**person, "date": pull.created_at},
                "tree": {"sha": fake_sha(sha, "tree"), "url": f"{self._repo_url(api)}/git/trees"},
                "url": f"{self._repo_url(api)}/git/commits/{sha}",
                "comment_count": 0,
            },
            "author": self._user_json(api, pull.author),
            "committer": self._user_json(api, pull.author),
            "parents": [{"sha": parent, "url": f"{self._repo_url(api)}/commits/{parent}"}],
        }

    def _comment_json(self, api: str, pull: _Pull, comment: _Comment) -> dict[str, Any]:
        issue_url = f"{self._repo_url(api)}/issues/{pull.number}"
        return {
            "id": comment.id,
            "node_id": f"IC_{comment.id}",
            "url": f"{self._repo_url(api)}/issues/comments/{comment.id}",
            "html_url": f"https://github.com/{self.repository}/pull/{pull.number}"
            f"#issuecomment-{comment.id}",
            "issue_url": issue_url,
            "body": comment.body,
            "user": self._user_json(api, comment.author),
            "created_at": comment.created_at,
            "updated_at": comment.created_at,
            "author_association": "NONE",
        }


class _RequestHandler(BaseHTTPRequestHandler):
    """Reads one request, lets the stand-in answer it, writes JSON back."""

    protocol_version = "HTTP/1.1"  # keep-alive, as with api.github.com
    server_version = "GitHub.com-standin"
    timeout = 30
    disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms stalls

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        standin: GitHubStandIn = self.server.standin  # type: ignore[attr-defined]
        status, body, headers = standin.handle(self.command, self.path, self.headers, raw)
        payload = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("X-GitHub-Media-Type", "github.v3; format=json")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if payload:
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("github-standin %s", format % args)


# ----- request parsing ------------------------------------------------------------


def _compile(template: str) -> re.Pattern[str]:
    pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
    return re.compile(pattern)


def _page_numbers(query: Mapping[str, str]) -> tuple[int, int]:
    def number(key: str, default: int) -> int:
        value = query.get(key, "")
        return int(value) if value.isdigit() else default

    return max(number("page", 1), 1), min(max(number("per_page", 30), 1), 100)


def _label_names(body: Any, doc_anchor: str) -> list[str]:
    """Names from ``["a"]``, ``{"labels": [...]}`` or ``[{"name": "a"}]``, all checked first."""
    items = body.get("labels", []) if isinstance(body, dict) else body
    if not isinstance(items, list):
        raise validation_failed(
            f"{DOCS}/issues/labels#{doc_anchor}",
            {"resource": "Label", "code": "invalid", "field": "labels"},
        )
    names = [item.get("name") if isinstance(item, dict) else item for item in items]
    for name in names:
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_LABEL_LENGTH:
            raise validation_failed(
                f"{DOCS}/issues/labels#{doc_anchor}",
                {"value": name, "resource": "Label", "field": "name", "code": "invalid"},
            )
    return [str(name) for name in names]


def _check_definition_name(name: str, doc: str) -> None:
    if len(name) > MAX_LABEL_LENGTH:
        raise validation_failed(
            doc,
            {
                "resource": "Label",
                "code": "custom",
                "field": "name",
                "message": "name is too long (maximum is 50 characters)",
            },
        )


def _colour(value: Any, doc: str) -> str:
    colour = str(value).removeprefix("#")
    if not re.fullmatch(r"[0-9a-fA-F]{6}", colour):
        raise validation_failed(doc, {"resource": "Label", "code": "invalid", "field": "color"})
    return colour.lower()


def _default_fault_body(status: int) -> dict[str, Any]:
    message = {
        401: "Bad credentials",
        403: SECONDARY_RATE_LIMIT_MESSAGE,
        404: "Not Found",
        422: "Validation Failed",
    }.get(status, "Server Error" if status >= 500 else "Injected failure")
    return {"message": message, "documentation_url": DOCS, "status": str(status)}


_QUALIFIERS = frozenset({"repo", "is", "state", "type", "label", "author", "in"})


@dataclass
class _Search:
    """A parsed ``q``: qualifiers GitHub's issue search understands, plus free text."""

    repos: list[str] = field(default_factory=list)
    kinds: set[str] = field(default_factory=set)  # "pr" / "issue"
    states: set[str] = field(default_factory=set)  # open, closed, merged, unmerged
    label_groups: list[set[str]] = field(default_factory=list)  # OR inside, AND across
    excluded_labels: set[str] = field(default_factory=set)
    authors: set[str] = field(default_factory=set)
    words: list[str] = field(default_factory=list)

    def matches(self, repository: str, pull: _Pull) -> bool:
        if any(repo.casefold() != repository.casefold() for repo in self.repos):
            return False
        if "issue" in self.kinds:  # the stand-in holds PRs only
            return False
        if not all(_state_matches(state, pull) for state in self.states):
            return False
        names = {label.name.casefold() for label in pull.labels}
        if not all(names & group for group in self.label_groups):
            return False
        if names & self.excluded_labels:
            return False
        if self.authors and pull.author.casefold() not in self.authors:
            return False
        text = f"{pull.title}\n{pull.body}".casefold()  # label names are not searched
        return all(word in text for word in self.words)


def _state_matches(state: str, pull: _Pull) -> bool:
    if state in ("open", "closed"):
        return pull.state == state
    if state == "merged":
        return pull.merged
    if state == "unmerged":
        return not pull.merged
    return True


def _parse_search(query: str) -> _Search:
    search = _Search()
    for token in _tokens(query):
        negated = token.startswith("-")
        key, sep, value = token.removeprefix("-").partition(":")
        if not sep or key.casefold() not in _QUALIFIERS:
            search.words.append(token.strip('"').casefold())
            continue
        values = [v.casefold() for v in _values(value)]
        key = key.casefold()
        if key == "repo":
            search.repos.extend(values)
        elif key in ("is", "type", "state"):
            for v in values:
                if v in ("pr", "pull-request", "issue"):
                    search.kinds.add("issue" if v == "issue" else "pr")
                else:
                    search.states.add(v)
        elif key == "label":
            if negated:
                search.excluded_labels.update(values)
            else:
                search.label_groups.append(set(values))
        elif key == "author":
            search.authors.update(values)
    return search


def _tokens(query: str) -> list[str]:
    """Split on spaces outside double quotes (``label:"🎪 ⌛ 24h"`` is one token)."""
    tokens: list[str] = []
    current: list[str] = []
    quoted = False
    for char in query:
        if char == '"':
            quoted = not quoted
        if char.isspace() and not quoted:
            if current:
                tokens.append("".join(current))
                current = []
        else:
            current.append(char)
    if current:
        tokens.append("".join(current))
    return tokens


def _values(value: str) -> list[str]:
    """``"a b","c"`` → ``["a b", "c"]``: commas outside quotes separate OR-ed values."""
    values: list[str] = []
    current: list[str] = []
    quoted = False
    for char in value:
        if char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            values.append("".join(current))
            current = []
        else:
            current.append(char)
    values.append("".join(current))
    return [v for v in values if v]


# ----- the sandbox's seed -----------------------------------------------------------

SEEDED_OPEN_PRS = (36121, 36122, 36123)
SEEDED_CLOSED_PR = 36000


def seed_sandbox(standin: GitHubStandIn) -> None:
    """Open PRs 36121-36123 (36121 with ``FEATURE_*`` lines) and closed PR 36000."""
    standin.add_pr(
        36121,
        "feat(alerts): run report schedules from the new alerts & reports UI",
        "### SUMMARY\n"
        "Moves report scheduling into the alerts & reports UI and adds a preview.\n\n"
        "### TESTING INSTRUCTIONS\n"
        "Create a report from a dashboard and check that it is delivered.\n\n"
        "### ADDITIONAL INFORMATION\n"
        "FEATURE_ALERT_REPORTS=true\n"
        "FEATURE_DASHBOARD_RBAC=false\n",
        author="betodealmeida",
    )
    standin.add_pr(
        36122,
        "fix(dashboard): keep native filter values when switching tabs",
        "### SUMMARY\nNative filter values were reset when a user switched dashboard tabs.\n\n"
        "### TESTING INSTRUCTIONS\nSet a filter, switch tabs, come back: the value stays.\n",
        author="michael-s-molina",
    )
    standin.add_pr(
        36123,
        "chore(deps): bump pandas from 2.1.4 to 2.2.3",
        "Bumps pandas to 2.2.3 for Python 3.12 wheels.\n",
        author="dependabot[bot]",
    )
    standin.add_pr(
        SEEDED_CLOSED_PR,
        "feat(sqllab): show query cost estimates before running",
        "### SUMMARY\nAdds a cost estimate button to SQL Lab.\n",
        state="closed",
        author="villebro",
        merged=True,
    )
