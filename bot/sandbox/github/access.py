"""Who may call the GitHub stand-in, and as what: tokens, the App's JWT, installations.

GitHub tells callers apart by their credentials, and so does ``check-config --live``:

- a classic personal access token's answers carry ``X-OAuth-Scopes`` (``repo`` here unless
  ``token_scopes`` says otherwise); a fine-grained one (``github_pat_…``) carries none;
- the GitHub App signs a JWT with its private key (``iss`` = the App ID); GitHub answers a JWT
  it cannot verify — a wrong key, another App's ID — with 401 "A JSON web token could not be
  decoded". With ``app_public_key`` the signature is checked too;
- an installation token (``ghs_…``, minted by ``POST …/access_tokens``) acts as the App's
  installation, with ``installation_permissions``; it has no user (``GET /user`` is 403).
"""

from __future__ import annotations

import binascii
import json
from base64 import urlsafe_b64decode
from dataclasses import dataclass, field
from typing import Any

import jwt

from bot.sandbox.github.answers import Caller, github_error

# What the bot's App asks for (bot.config.GITHUB_PERMISSIONS), as GitHub names them.
DEFAULT_INSTALLATION_PERMISSIONS = {
    "issues": "write",
    "pull_requests": "read",
    "deployments": "write",
    "metadata": "read",
}
FINE_GRAINED_PREFIX = "github_pat_"
BAD_JWT = "A JSON web token could not be decoded"


@dataclass
class Access:
    """The credentials the stand-in knows, and what each may do.

    ``bad_token`` is answered 401 "Bad credentials"; ``read_only_token`` may read but any
    write gets 403 "Resource not accessible by personal access token". Any other
    ``token``/``Bearer`` credential is accepted; requests without one may read (as on a
    public repository) but not write.
    """

    bad_token: str = "bad-token"
    read_only_token: str | None = "read-only-token"
    token_scopes: tuple[str, ...] = ("repo",)
    app_id: int = 12345
    app_public_key: str | None = None
    installation_id: int | None = None  # None: every installation id is the App's
    installation_permissions: dict[str, str] = field(
        default_factory=lambda: dict(DEFAULT_INSTALLATION_PERMISSIONS)
    )
    installation_tokens: set[str] = field(default_factory=set)

    def caller(self, method: str, authorization: str) -> Caller:
        """Who sent a request with this ``Authorization`` header; 401/403 if refused."""
        scheme, _, credential = authorization.strip().partition(" ")
        credential = credential.strip()
        if not authorization:
            if method != "GET":
                raise github_error(401, "Requires authentication")
            return Caller.ANONYMOUS
        if scheme.lower() not in ("token", "bearer") or not credential:
            raise github_error(401, "Bad credentials")
        if credential == self.bad_token:
            raise github_error(401, "Bad credentials")
        if credential == self.read_only_token and method != "GET":
            raise github_error(403, "Resource not accessible by personal access token")
        if _looks_like_jwt(credential):
            self._check_jwt(credential)
            return Caller.APP
        if credential in self.installation_tokens:
            return Caller.INSTALLATION
        if credential.startswith(FINE_GRAINED_PREFIX):
            return Caller.FINE_GRAINED_TOKEN
        return Caller.CLASSIC_TOKEN

    def headers_for(self, caller: Caller) -> dict[str, str]:
        """What every answer to ``caller`` carries: a classic token's scopes."""
        if caller is Caller.CLASSIC_TOKEN:
            return {"X-OAuth-Scopes": ", ".join(self.token_scopes)}
        return {}

    def _check_jwt(self, token: str) -> None:
        try:
            if self.app_public_key is None:
                claims = jwt.decode(token, options={"verify_signature": False})
            else:
                claims = jwt.decode(
                    token,
                    self.app_public_key,
                    algorithms=["RS256"],
                    # The JWT's times come from the caller's real clock, not the stand-in's.
                    options={"verify_exp": False, "verify_iat": False},
                )
        except jwt.PyJWTError:
            raise github_error(401, BAD_JWT) from None
        if str(claims.get("iss")) != str(self.app_id):
            raise github_error(401, BAD_JWT)


def _looks_like_jwt(credential: str) -> bool:
    parts = credential.split(".")
    if len(parts) != 3:
        return False
    try:
        header: Any = json.loads(urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)))
    except (ValueError, binascii.Error):
        return False
    return isinstance(header, dict) and "alg" in header
