"""The REST routes the stand-in answers, named by GitHub's own templates.

Requests are counted per ``(method, template)``: tests and benchmarks assert SPEC §10's
request budgets against them, so a template here is part of the stand-in's public API.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from bot.sandbox.github.answers import Answer, ApiRequest

if TYPE_CHECKING:
    from bot.sandbox.github.state import GitHubState

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
ROUTE_USER = "/user"
ROUTE_APP = "/app"
ROUTE_INSTALLATION = "/app/installations/{installation_id}"
ROUTE_ACCESS_TOKENS = "/app/installations/{installation_id}/access_tokens"
ROUTE_DEPLOYMENTS = "/repos/{owner}/{repo}/deployments"
ROUTE_DEPLOYMENT = "/repos/{owner}/{repo}/deployments/{deployment_id}"
ROUTE_DEPLOYMENT_STATUSES = "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses"
ANY_ROUTE = "*"

Handler = Callable[["GitHubState", ApiRequest], Answer]
"""Answers one request; called with the state's lock held."""


class Route(NamedTuple):
    method: str
    template: str
    handler: Handler
