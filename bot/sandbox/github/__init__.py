"""A GitHub REST stand-in on 127.0.0.1 that PyGithub talks to unchanged.

It keeps one repository's pull requests, label definitions, PR labels, comments,
collaborator roles and deployments in memory and answers the REST routes the bot (and
the superset-showtime CLI) use, with GitHub's JSON shapes, status codes, error bodies and
``Link`` pagination — so the adapter's real PyGithub calls, URL encoding of emoji label
names included, are what the tests exercise. ``check-config --live`` finds what it asks
GitHub about too: the token's user and scopes, the repository's ``permissions``, the
GitHub App and its installation's permissions.

Every request is counted per (method, route template), e.g.
``("POST", "/repos/{owner}/{repo}/issues/{number}/labels")``: tests and benchmarks assert
SPEC §10's request budgets against ``counts()``/``total()``. ``fail_next`` injects 5xx,
401 or 403 (secondary rate limit) answers.

Modules, by resource: ``pulls`` (PRs, their labels and comments), ``labels`` (label
definitions), ``search``, ``deployments``, ``auth`` (users, roles, the App); ``state`` is
the data, ``access`` the credentials, ``server`` the HTTP side, ``shapes`` GitHub's JSON.

Deliberately not modelled: issues that are not PRs, rate-limit accounting, webhooks
(``bot.sandbox.webhooks`` sends them), GraphQL.
"""

from bot.sandbox.github.access import DEFAULT_INSTALLATION_PERMISSIONS
from bot.sandbox.github.answers import DOCS, Caller
from bot.sandbox.github.model import (
    AUTO_LABEL_COLOUR,
    DEPLOYMENT_STATES,
    MAX_LABEL_LENGTH,
    ROLES,
    fake_sha,
)
from bot.sandbox.github.routes import (
    ANY_ROUTE,
    ROUTE_ACCESS_TOKENS,
    ROUTE_APP,
    ROUTE_DEPLOYMENT,
    ROUTE_DEPLOYMENT_STATUSES,
    ROUTE_DEPLOYMENTS,
    ROUTE_INSTALLATION,
    ROUTE_ISSUE,
    ROUTE_ISSUE_COMMENTS,
    ROUTE_ISSUE_LABEL,
    ROUTE_ISSUE_LABELS,
    ROUTE_ISSUES,
    ROUTE_LABEL,
    ROUTE_LABELS,
    ROUTE_PERMISSION,
    ROUTE_PULL,
    ROUTE_PULL_COMMITS,
    ROUTE_REPO,
    ROUTE_SEARCH_ISSUES,
    ROUTE_USER,
)
from bot.sandbox.github.search import MAX_SEARCH_RESULTS
from bot.sandbox.github.seed import SEEDED_CLOSED_PR, SEEDED_OPEN_PRS, seed_sandbox
from bot.sandbox.github.server import SECONDARY_RATE_LIMIT_MESSAGE
from bot.sandbox.github.standin import GitHubStandIn

__all__ = [
    "ANY_ROUTE",
    "AUTO_LABEL_COLOUR",
    "DEFAULT_INSTALLATION_PERMISSIONS",
    "DEPLOYMENT_STATES",
    "DOCS",
    "MAX_LABEL_LENGTH",
    "MAX_SEARCH_RESULTS",
    "ROLES",
    "ROUTE_ACCESS_TOKENS",
    "ROUTE_APP",
    "ROUTE_DEPLOYMENT",
    "ROUTE_DEPLOYMENTS",
    "ROUTE_DEPLOYMENT_STATUSES",
    "ROUTE_INSTALLATION",
    "ROUTE_ISSUE",
    "ROUTE_ISSUES",
    "ROUTE_ISSUE_COMMENTS",
    "ROUTE_ISSUE_LABEL",
    "ROUTE_ISSUE_LABELS",
    "ROUTE_LABEL",
    "ROUTE_LABELS",
    "ROUTE_PERMISSION",
    "ROUTE_PULL",
    "ROUTE_PULL_COMMITS",
    "ROUTE_REPO",
    "ROUTE_SEARCH_ISSUES",
    "ROUTE_USER",
    "SECONDARY_RATE_LIMIT_MESSAGE",
    "SEEDED_CLOSED_PR",
    "SEEDED_OPEN_PRS",
    "Caller",
    "GitHubStandIn",
    "fake_sha",
    "seed_sandbox",
]
