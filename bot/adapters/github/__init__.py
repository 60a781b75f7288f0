"""GitHub through PyGithub: the adapter (PRs and labels; the repository's label definitions
in ``definitions``), the Deployments mirror's calls, and how every call is made (``calls``:
clients, pacing, retries, errors)."""

from .adapter import ROLES, GitHubAdapter
from .calls import (
    NO_RETRIES,
    GitHubAuthError,
    GitHubCalls,
    GitHubError,
    LabelTooLongError,
    Pacer,
    PrNotFoundError,
    RetryPolicy,
)
from .deployments import GitHubDeployments

__all__ = [
    "NO_RETRIES",
    "ROLES",
    "GitHubAdapter",
    "GitHubAuthError",
    "GitHubCalls",
    "GitHubDeployments",
    "GitHubError",
    "LabelTooLongError",
    "Pacer",
    "PrNotFoundError",
    "RetryPolicy",
]
