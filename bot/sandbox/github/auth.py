"""Who is calling and what they may do: the token's user, the repository's permissions,
collaborator roles, the GitHub App and its installation tokens."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bot.sandbox.github.access import BAD_JWT
from bot.sandbox.github.answers import (
    Answer,
    ApiRequest,
    Caller,
    github_error,
    not_found,
)
from bot.sandbox.github.model import fake_sha
from bot.sandbox.github.routes import (
    ROUTE_ACCESS_TOKENS,
    ROUTE_APP,
    ROUTE_INSTALLATION,
    ROUTE_PERMISSION,
    ROUTE_REPO,
    ROUTE_USER,
    Route,
)
from bot.sandbox.github.shapes import repo_json, role_permissions, user_json

if TYPE_CHECKING:
    from bot.sandbox.github.state import GitHubState

# The legacy ``permission`` field folds the finer roles into admin/write/read/none.
_LEGACY_PERMISSION = {
    "admin": "admin",
    "maintain": "write",
    "write": "write",
    "triage": "read",
    "read": "read",
    "none": "none",
}
_USER_TOKENS = (Caller.CLASSIC_TOKEN, Caller.FINE_GRAINED_TOKEN)


def get_repo(state: GitHubState, request: ApiRequest) -> Answer:
    """The repository; for a user's token with ``permissions``, as GitHub adds them."""
    state.check_repo(request)
    body = repo_json(request.api, state.repo)
    if request.caller in _USER_TOKENS:
        body["permissions"] = role_permissions(state.role_of(state.bot_login))
    return 200, body, {}


def get_user(state: GitHubState, request: ApiRequest) -> Answer:
    """The token's own user: the bot account. An App or its installation has no user."""
    if request.caller is Caller.ANONYMOUS:
        raise github_error(401, "Requires authentication")
    if request.caller not in _USER_TOKENS:
        raise github_error(403, "Resource not accessible by integration")
    return 200, user_json(request.api, state.bot_login), {}


def get_permission(state: GitHubState, request: ApiRequest) -> Answer:
    state.check_repo(request)
    login = request.params["login"]
    role = state.role_of(login)
    body = {
        "permission": _LEGACY_PERMISSION[role],
        "role_name": role,
        "user": user_json(request.api, login),
    }
    return 200, body, {}


def get_app(state: GitHubState, request: ApiRequest) -> Answer:
    """The GitHub App the JWT stands for (its events come from ``<slug>[bot]``)."""
    _require_app(request)
    access = state.access
    body = {
        "id": access.app_id,
        "slug": state.app_slug,
        "name": "Showtime",
        "owner": user_json(request.api, state.owner),
        "permissions": dict(access.installation_permissions),
    }
    return 200, body, {}


def get_installation(state: GitHubState, request: ApiRequest) -> Answer:
    """The App's installation on the repository's owner, with what it was granted."""
    installation = _installation_id(state, request)
    access = state.access
    body: dict[str, Any] = {
        "id": installation,
        "app_id": access.app_id,
        "app_slug": state.app_slug,
        "account": {**user_json(request.api, state.owner), "type": "Organization"},
        "target_type": "Organization",
        "repository_selection": "selected",
        "permissions": dict(access.installation_permissions),
        "events": ["pull_request"],
    }
    return 200, body, {}


def create_access_token(state: GitHubState, request: ApiRequest) -> Answer:
    installation = _installation_id(state, request)
    expires = int(state.timestamp()) + 3600
    token = "ghs_" + fake_sha("installation", installation, expires)[:36]
    state.access.installation_tokens.add(token)
    body = {
        "token": token,
        "expires_at": datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "permissions": dict(state.access.installation_permissions),
        "repository_selection": "selected",
    }
    return 201, body, {}


def _require_app(request: ApiRequest) -> None:
    if request.caller is not Caller.APP:
        raise github_error(401, BAD_JWT)


def _installation_id(state: GitHubState, request: ApiRequest) -> int:
    _require_app(request)
    raw = request.params["installation_id"]
    wanted = state.access.installation_id
    if not raw.isdigit() or (wanted is not None and int(raw) != wanted):
        raise not_found()
    return int(raw)


ROUTES = (
    Route("GET", ROUTE_REPO, get_repo),
    Route("GET", ROUTE_USER, get_user),
    Route("GET", ROUTE_PERMISSION, get_permission),
    Route("GET", ROUTE_APP, get_app),
    Route("GET", ROUTE_INSTALLATION, get_installation),
    Route("POST", ROUTE_ACCESS_TOKENS, create_access_token),
)
