"""GitHub Deployments: the PR page's "View deployment" for each environment (SPEC §11).

The calls only; what to mirror, when, and how failures are said is the orchestrator's
(``bot.orchestrator.mirror``). Shares the adapter's ``GitHubCalls``, so these writes are
paced with every other write of the process.
"""

from __future__ import annotations

from github.Deployment import Deployment
from github.GithubObject import NotSet

from bot.clock import Clock

from .calls import Client, GitHubCalls


class GitHubDeployments:
    """``DeploymentsPort`` on PyGithub."""

    def __init__(self, calls: GitHubCalls) -> None:
        self.calls = calls

    def with_clock(self, clock: Clock) -> GitHubDeployments:
        return GitHubDeployments(self.calls.with_clock(clock))

    def create_deployment(
        self, *, sha: str, environment: str, description: str, payload: dict[str, str]
    ) -> int:
        """A transient, non-production deployment of ``sha`` that waits for no checks."""

        def create(client: Client) -> int:
            deployment = client.repo.create_deployment(
                sha,
                auto_merge=False,
                required_contexts=[],
                payload=dict(payload),
                environment=environment,
                description=description[:140],
                transient_environment=True,
                production_environment=False,
            )
            return int(deployment.id)

        return self.calls.call(
            "create deployment", f"{self.calls.repository} {environment}", create, write=True
        )

    def set_deployment_status(
        self,
        deployment_id: int,
        state: str,
        *,
        description: str = "",
        environment_url: str | None = None,
        log_url: str | None = None,
    ) -> None:
        """A status on the deployment; ``log_url`` is sent as ``target_url``, which GitHub
        reads as the log URL (PyGithub has no ``log_url`` argument)."""
        url = f"{self.calls.repo_url}/deployments/{deployment_id}"

        def post(client: Client) -> None:
            deployment = Deployment(client.requester, url=url)  # lazy: no request
            deployment.create_status(
                state,
                description=description[:140],
                environment_url=environment_url if environment_url else NotSet,
                target_url=log_url if log_url else NotSet,
            )

        self.calls.call(
            "set deployment status",
            f"{self.calls.repository} deployment {deployment_id}",
            post,
            write=True,
        )

    def environment_deployments(self, environment: str) -> list[tuple[int, str]]:
        """(id, SHA) of the environment's ten newest deployments, newest first (one request)."""

        def read(client: Client) -> list[tuple[int, str]]:
            found = client.repo.get_deployments(environment=environment)
            return [(int(d.id), str(d.sha)) for d in found.get_page(0)[:10]]

        return self.calls.call("read deployments", f"{self.calls.repository} {environment}", read)
