"""GitHub: the credentials, the repository, and each permission of ``GITHUB_PERMISSIONS``.

A token: ``GET /user``, then the repository and the token user's ``permissions`` on it (the
bot creates and deletes label definitions, which needs write access). A classic token's
scopes come with every answer (``X-OAuth-Scopes``): ``repo``, or ``public_repo`` for a public
repository, grants every permission the bot uses. A fine-grained token has no scopes to
show, and GitHub offers no way to list its permissions: that is said, not failed.

A GitHub App: ``GET /app`` with its JWT (a wrong ID or key is "A JSON web token could not
be decoded"), its installation and what the installation was granted, then an installation
token that must see the repository. An installation has no user, so no ``GET /user``.
"""

from __future__ import annotations

from typing import Any

import jwt
import requests
from github import Auth, Github, GithubException, GithubIntegration

from bot.adapters.github.calls import pem
from bot.config import CLASSIC_TOKEN_SCOPES, GITHUB_PERMISSIONS, GitHubPermission, Settings
from bot.preflight.check import Check, failed, passed

TIMEOUT_SECONDS = 10
_ACCESS_RANK = {"read": 1, "write": 2, "admin": 3}
# A repository's ``permissions`` keys, strongest first, as GitHub's roles are called.
_ROLES = {
    "admin": "Admin",
    "maintain": "Maintain",
    "push": "Write",
    "triage": "Triage",
    "pull": "Read",
}


def checks(settings: Settings) -> list[Check]:
    try:
        if settings.github_app_configured:
            return _app_checks(settings)
        return _token_checks(settings)
    except requests.RequestException as exc:
        return [
            failed(
                f"GitHub: could not reach {settings.github_api_url} ({type(exc).__name__})",
                "check GITHUB_API_URL and this machine's network",
            )
        ]


def needed(settings: Settings) -> list[GitHubPermission]:
    """The permissions the bot uses with these settings (Deployments only with the mirror)."""
    return [
        p
        for p in GITHUB_PERMISSIONS
        if p.only_with != "SHOWTIME_GITHUB_DEPLOYMENTS" or settings.showtime_github_deployments
    ]


# ----- a token -----------------------------------------------------------------------------


def _token_checks(settings: Settings) -> list[Check]:
    token = settings.github_token.get_secret_value().strip() if settings.github_token else ""
    github = _client(settings, Auth.Token(token))
    try:
        headers, user = github.requester.requestJsonAndCheck("GET", "/user")
    except GithubException as exc:
        fix = (
            "create a new token (GitHub → Settings → Developer settings) and set GITHUB_TOKEN"
            if exc.status == 401
            else "check GITHUB_TOKEN and GITHUB_API_URL"
        )
        return [failed(f"GitHub: GITHUB_TOKEN was refused ({_status(exc)})", fix)]
    login = str(user.get("login"))
    found = [passed(f"GitHub: the token works — it is {login}")]
    repo = _repository(settings, github, f"the token ({login})")
    if isinstance(repo, Check):
        return [*found, repo]
    found.append(_write_access(settings, login, repo.get("permissions")))
    scopes = headers.get("x-oauth-scopes")
    if scopes is None:
        listed = ", ".join(str(p) for p in needed(settings))
        found.append(
            passed(
                "GitHub: a fine-grained token's permissions cannot be read back — make sure "
                f"it has {listed} on {settings.github_repository}"
            )
        )
    else:
        found += _scope_checks(settings, scopes, bool(repo.get("private")))
    return found


def _write_access(settings: Settings, login: str, permissions: Any) -> Check:
    repository = settings.github_repository
    if not isinstance(permissions, dict):
        return passed(f"GitHub: {repository} is readable (GitHub did not say what {login} may do)")
    role = next((name for key, name in _ROLES.items() if permissions.get(key)), "none")
    if role in ("Admin", "Maintain", "Write"):
        return passed(f"GitHub: {login} may write to {repository} (role: {role})")
    return failed(
        f"GitHub: {login} may not write to {repository} (role: {role})",
        f"the bot creates and deletes label definitions: give {login} the Write role on "
        f"{repository}",
    )


def _scope_checks(settings: Settings, scopes: str, private: bool) -> list[Check]:
    granted = {scope.strip() for scope in scopes.split(",") if scope.strip()}
    enough = {"repo"} if private else set(CLASSIC_TOKEN_SCOPES)
    covering = sorted(granted & enough)
    found = []
    for permission in needed(settings):
        if covering:
            found.append(
                passed(
                    f"GitHub: {permission.name}: {permission.access} — covered by the token's "
                    f"{covering[0]} scope"
                )
            )
        else:
            found.append(
                failed(
                    f"GitHub: {permission.name}: {permission.access} — the classic token has "
                    f"no {' or '.join(sorted(enough))} scope "
                    f"(it has: {', '.join(sorted(granted)) or 'none'})",
                    f"create a classic token with the {'repo' if private else 'public_repo'} "
                    "scope, or a fine-grained token with these permissions, and set GITHUB_TOKEN",
                )
            )
    return found


# ----- a GitHub App --------------------------------------------------------------------------


def _app_checks(settings: Settings) -> list[Check]:
    assert settings.github_app_id and settings.github_app_private_key
    installation_id = settings.github_app_installation_id
    assert installation_id is not None
    try:
        auth = Auth.AppAuth(
            settings.github_app_id, pem(settings.github_app_private_key.get_secret_value())
        )
        auth.create_jwt()
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        return [
            failed(
                f"GitHub: GITHUB_APP_PRIVATE_KEY is not a usable private key ({type(exc).__name__})",
                "paste the App's private key (.pem, from the App's settings) into "
                "GITHUB_APP_PRIVATE_KEY, newlines as \\n on one line if need be",
            )
        ]
    integration = GithubIntegration(
        auth=auth,
        base_url=settings.github_api_url,
        timeout=TIMEOUT_SECONDS,
        retry=None,
        seconds_between_requests=None,
        seconds_between_writes=None,
    )
    try:
        app = integration.get_app()
        slug = app.slug
    except GithubException as exc:
        return [
            failed(
                f"GitHub: the App's JWT was refused ({_status(exc)})",
                "GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY must belong to the same GitHub App: "
                "check both",
            )
        ]
    found = [passed(f"GitHub: the App {slug} (id {settings.github_app_id}) signs in")]
    try:
        granted = integration.get_app_installation(installation_id).raw_data.get("permissions")
        token = integration.get_access_token(installation_id).token
    except GithubException as exc:
        owner = settings.github_repository.split("/")[0]
        return [
            *found,
            failed(
                f"GitHub: installation {installation_id} of the App was not found ({_status(exc)})",
                f"install the App on {owner} and set GITHUB_APP_INSTALLATION_ID to its id "
                "(the number at the end of the installation's settings URL)",
            ),
        ]
    found.append(passed(f"GitHub: installation {installation_id} gives the App a token"))
    repo = _repository(settings, _client(settings, Auth.Token(token)), "the App's installation")
    if isinstance(repo, Check):
        return [*found, repo]
    return [*found, *_installation_checks(settings, granted if isinstance(granted, dict) else {})]


def _installation_checks(settings: Settings, granted: dict[str, Any]) -> list[Check]:
    found = []
    for permission in needed(settings):
        has = str(granted.get(permission.app_key) or "none")
        if _ACCESS_RANK.get(has, 0) >= _ACCESS_RANK[permission.access]:
            found.append(
                passed(
                    f"GitHub: {permission.name}: {permission.access} — granted to the App ({has})"
                )
            )
            continue
        fix = (
            f"give the App {permission.name}: {permission.access} (its settings → Permissions) "
            "and accept the new permissions on its installation"
        )
        if permission.only_with:
            fix += f", or set {permission.only_with}=false"
        found.append(
            failed(
                f"GitHub: {permission.name}: {permission.access} — the App's installation has {has}",
                fix,
            )
        )
    return found


# ----- shared --------------------------------------------------------------------------------


def _client(settings: Settings, auth: Auth.Auth) -> Github:
    return Github(
        base_url=settings.github_api_url,
        auth=auth,
        timeout=TIMEOUT_SECONDS,
        retry=None,
        seconds_between_requests=None,
        seconds_between_writes=None,
    )


def _repository(settings: Settings, github: Github, who: str) -> dict[str, Any] | Check:
    """The repository as ``who`` sees it, or the check that failed."""
    repository = settings.github_repository
    try:
        _, repo = github.requester.requestJsonAndCheck("GET", f"/repos/{repository}")
    except GithubException as exc:
        return failed(
            f"GitHub: {repository} is not visible to {who} ({_status(exc)})",
            "check GITHUB_REPOSITORY, and that the token or the App's installation may "
            "see that repository",
        )
    return dict(repo)


def _status(exc: GithubException) -> str:
    message = exc.data.get("message") if isinstance(exc.data, dict) else None
    return f"{exc.status} {message}" if message else str(exc.status)
