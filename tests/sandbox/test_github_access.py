"""What the GitHub stand-in says about credentials, as GitHub does: the token's user, a
classic token's scopes, the repository's permissions, the GitHub App and its installation
(what ``check-config --live`` asks, SPEC §17)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from github import Auth, BadCredentialsException, Github, GithubException, GithubIntegration

from bot.sandbox.github import DEFAULT_INSTALLATION_PERMISSIONS, GitHubStandIn

APP_ID = 4242
INSTALLATION = 678


def _pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


@pytest.fixture(scope="module")
def app_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def standin(app_key: rsa.RSAPrivateKey) -> Iterator[GitHubStandIn]:
    public = app_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with GitHubStandIn(
        app_id=APP_ID, app_public_key=public.decode(), installation_id=INSTALLATION
    ) as server:
        yield server


def _github(standin: GitHubStandIn, token: str) -> Github:
    return Github(base_url=standin.base_url, auth=Auth.Token(token), retry=None, lazy=True)


def _integration(standin: GitHubStandIn, key: rsa.RSAPrivateKey, app_id: int) -> GithubIntegration:
    return GithubIntegration(
        auth=Auth.AppAuth(app_id, _pem(key)), base_url=standin.base_url, retry=None
    )


def test_a_token_reads_its_user_and_a_wrong_one_is_bad_credentials(standin: GitHubStandIn) -> None:
    assert _github(standin, "ghp_classic").get_user().login == standin.bot_login
    with pytest.raises(BadCredentialsException):
        _github(standin, standin.bad_token).get_user().login  # noqa: B018
    anonymous = requests.get(f"{standin.base_url}/user", timeout=5)
    assert anonymous.status_code == 401


def test_classic_tokens_carry_their_scopes_and_fine_grained_ones_none(
    standin: GitHubStandIn,
) -> None:
    def scopes(token: str) -> str | None:
        answer = requests.get(
            f"{standin.base_url}/user", headers={"Authorization": f"token {token}"}, timeout=5
        )
        assert answer.status_code == 200
        return answer.headers.get("X-OAuth-Scopes")

    assert scopes("ghp_classic") == "repo"
    standin.set_token_scopes("public_repo", "read:org")
    assert scopes("ghp_classic") == "public_repo, read:org"
    standin.set_token_scopes()
    assert scopes("ghp_classic") == ""
    assert scopes("github_pat_finegrained") is None


def test_the_repository_says_what_the_tokens_user_may_do(standin: GitHubStandIn) -> None:
    repo = _github(standin, "ghp_classic").get_repo(standin.repository)
    assert (repo.permissions.push, repo.permissions.admin) == (True, False)
    standin.set_permission(standin.bot_login, "triage")
    repo = _github(standin, "ghp_classic").get_repo(standin.repository)
    assert (repo.permissions.triage, repo.permissions.push) == (True, False)
    anonymous = requests.get(f"{standin.base_url}/repos/{standin.repository}", timeout=5)
    assert "permissions" not in anonymous.json()


def test_the_app_and_its_installation_with_the_apps_key(
    standin: GitHubStandIn, app_key: rsa.RSAPrivateKey
) -> None:
    integration = _integration(standin, app_key, APP_ID)
    assert integration.get_app().slug == standin.app_slug
    installation = integration.get_app_installation(INSTALLATION)
    assert installation.raw_data["permissions"] == DEFAULT_INSTALLATION_PERMISSIONS

    token = integration.get_access_token(INSTALLATION).token
    as_installation = _github(standin, token)
    assert as_installation.get_repo(standin.repository).full_name == standin.repository
    with pytest.raises(GithubException) as no_user:
        as_installation.get_user().login  # noqa: B018
    assert no_user.value.status == 403

    standin.set_installation_permissions(issues="write", metadata="read")
    assert (
        "deployments" not in integration.get_app_installation(INSTALLATION).raw_data["permissions"]
    )
    with pytest.raises(GithubException) as unknown:
        integration.get_app_installation(INSTALLATION + 1).raw_data  # noqa: B018
    assert unknown.value.status == 404


def test_a_jwt_github_cannot_verify_is_refused(
    standin: GitHubStandIn, app_key: rsa.RSAPrivateKey
) -> None:
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for integration in (
        _integration(standin, app_key, APP_ID + 1),  # another App's ID
        _integration(standin, other_key, APP_ID),  # another App's key
    ):
        with pytest.raises(GithubException) as refused:
            integration.get_app()
        assert refused.value.status == 401
        assert refused.value.data["message"] == "A JSON web token could not be decoded"
    token_not_jwt = requests.get(
        f"{standin.base_url}/app", headers={"Authorization": "Bearer ghp_classic"}, timeout=5
    )
    assert token_not_jwt.status_code == 401
