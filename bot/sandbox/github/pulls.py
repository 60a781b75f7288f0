"""Pull requests and their issue side: the PR, its commits, its labels, its comments."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.sandbox.github.answers import (
    DOCS,
    Answer,
    ApiRequest,
    github_error,
    paginated,
    validation_failed,
)
from bot.sandbox.github.model import MAX_LABEL_LENGTH, Comment
from bot.sandbox.github.routes import (
    ROUTE_ISSUE,
    ROUTE_ISSUE_COMMENTS,
    ROUTE_ISSUE_LABEL,
    ROUTE_ISSUE_LABELS,
    ROUTE_ISSUES,
    ROUTE_PULL,
    ROUTE_PULL_COMMITS,
    Route,
)
from bot.sandbox.github.shapes import (
    comment_json,
    commit_json,
    issue_json,
    label_json,
    pull_json,
)

if TYPE_CHECKING:
    from bot.sandbox.github.state import GitHubState


def get_pull(state: GitHubState, request: ApiRequest) -> Answer:
    return 200, pull_json(request.api, state.repo, state.pull_for(request)), {}


def get_pull_commits(state: GitHubState, request: ApiRequest) -> Answer:
    pull = state.pull_for(request)
    commits = [commit_json(request.api, state.repo, pull, i) for i in range(len(pull.commits))]
    return paginated(request, commits)


def list_issues(state: GitHubState, request: ApiRequest) -> Answer:
    """``state`` open (default) / closed / all; ``labels`` comma-separated, all required."""
    state.check_repo(request)
    wanted_state = request.query.get("state", "open")
    wanted = {name.casefold() for name in request.query.get("labels", "").split(",") if name}
    found = [
        issue_json(request.api, state.repo, pull)
        for pull in sorted(state.pulls.values(), key=lambda p: -p.number)
        if wanted_state in ("all", pull.state) and wanted <= pull.label_names()
    ]
    return paginated(request, found)


def get_issue(state: GitHubState, request: ApiRequest) -> Answer:
    return 200, issue_json(request.api, state.repo, state.pull_for(request)), {}


def get_issue_labels(state: GitHubState, request: ApiRequest) -> Answer:
    pull = state.pull_for(request)
    return paginated(request, [label_json(request.api, state.repo, x) for x in pull.labels])


def add_issue_labels(state: GitHubState, request: ApiRequest) -> Answer:
    pull = state.pull_for(request)
    for name in _label_names(request.body, "add-labels-to-an-issue"):
        state.attach(pull, name)
    pull.updated_at = state.now()
    return 200, [label_json(request.api, state.repo, label) for label in pull.labels], {}


def set_issue_labels(state: GitHubState, request: ApiRequest) -> Answer:
    pull = state.pull_for(request)
    names = _label_names(request.body, "set-labels-for-an-issue")
    pull.labels = []
    for name in names:
        state.attach(pull, name)
    pull.updated_at = state.now()
    return 200, [label_json(request.api, state.repo, label) for label in pull.labels], {}


def clear_issue_labels(state: GitHubState, request: ApiRequest) -> Answer:
    state.pull_for(request).labels = []
    return 204, None, {}


def remove_issue_label(state: GitHubState, request: ApiRequest) -> Answer:
    pull = state.pull_for(request)
    wanted = request.params["name"].casefold()
    kept = [label for label in pull.labels if label.name.casefold() != wanted]
    if len(kept) == len(pull.labels):
        raise github_error(
            404, "Label does not exist", f"{DOCS}/issues/labels#remove-a-label-from-an-issue"
        )
    pull.labels = kept
    pull.updated_at = state.now()
    return 200, [label_json(request.api, state.repo, label) for label in kept], {}


def get_comments(state: GitHubState, request: ApiRequest) -> Answer:
    pull = state.pull_for(request)
    return paginated(
        request, [comment_json(request.api, state.repo, pull, c) for c in pull.comments]
    )


def add_comment(state: GitHubState, request: ApiRequest) -> Answer:
    pull = state.pull_for(request)
    body = request.body.get("body") if isinstance(request.body, dict) else None
    if not isinstance(body, str) or not body:
        raise validation_failed(
            f"{DOCS}/issues/comments#create-an-issue-comment",
            {"resource": "IssueComment", "code": "missing_field", "field": "body"},
        )
    comment = Comment(state.new_id(), body, state.bot_login, state.now())
    pull.comments.append(comment)
    state.commented(pull.number, body)
    return 201, comment_json(request.api, state.repo, pull, comment), {}


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


ROUTES = (
    Route("GET", ROUTE_PULL, get_pull),
    Route("GET", ROUTE_PULL_COMMITS, get_pull_commits),
    Route("GET", ROUTE_ISSUES, list_issues),
    Route("GET", ROUTE_ISSUE, get_issue),
    Route("GET", ROUTE_ISSUE_LABELS, get_issue_labels),
    Route("POST", ROUTE_ISSUE_LABELS, add_issue_labels),
    Route("PUT", ROUTE_ISSUE_LABELS, set_issue_labels),
    Route("DELETE", ROUTE_ISSUE_LABELS, clear_issue_labels),
    Route("DELETE", ROUTE_ISSUE_LABEL, remove_issue_label),
    Route("GET", ROUTE_ISSUE_COMMENTS, get_comments),
    Route("POST", ROUTE_ISSUE_COMMENTS, add_comment),
)
