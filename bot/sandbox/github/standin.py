"""``GitHubStandIn``: the repository state, served over HTTP, with its traffic counted."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from bot.clock import SYSTEM_CLOCK, Clock
from bot.sandbox.github import auth, deployments, labels, pulls, search
from bot.sandbox.github.access import DEFAULT_INSTALLATION_PERMISSIONS, Access
from bot.sandbox.github.server import GitHubApp, Traffic
from bot.sandbox.github.state import GitHubState
from bot.sandbox.serving import LoopbackServer

ALL_ROUTES = (
    *auth.ROUTES,
    *pulls.ROUTES,
    *labels.ROUTES,
    *search.ROUTES,
    *deployments.ROUTES,
)


class GitHubStandIn(GitHubState, Traffic):
    """One repository's worth of GitHub REST API, served on 127.0.0.1.

    What is on GitHub is ``GitHubState``'s (``add_pr``, ``labels``, ``set_permission`` …);
    which requests came and which faults to answer next is ``Traffic``'s (``counts``,
    ``fail_next`` …); who may call is ``access`` (see ``bot.sandbox.github.access``):
    ``bad_token`` is refused, ``read_only_token`` may only read, classic tokens carry
    ``token_scopes``, the App is ``app_id`` (with ``app_public_key``, its JWT's signature
    is checked) and its installation has ``installation_permissions``.
    """

    def __init__(
        self,
        repository: str = "apache/superset",
        *,
        bad_token: str = "bad-token",
        read_only_token: str | None = "read-only-token",
        bot_login: str = "showtime-bot",
        token_scopes: tuple[str, ...] = ("repo",),
        app_id: int = 12345,
        app_public_key: str | None = None,
        installation_id: int | None = None,
        installation_permissions: dict[str, str] | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        access = Access(
            bad_token=bad_token,
            read_only_token=read_only_token,
            token_scopes=token_scopes,
            app_id=app_id,
            app_public_key=app_public_key,
            installation_id=installation_id,
            installation_permissions=dict(
                DEFAULT_INSTALLATION_PERMISSIONS
                if installation_permissions is None
                else installation_permissions
            ),
        )
        GitHubState.__init__(self, repository, bot_login=bot_login, access=access, clock=clock)
        Traffic.__init__(self)
        self._server = LoopbackServer(GitHubApp(self, self, ALL_ROUTES), "GitHub stand-in")

    @property
    def bad_token(self) -> str:
        return self.access.bad_token

    @property
    def read_only_token(self) -> str | None:
        return self.access.read_only_token

    # ----- lifecycle ----------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return self._server.url

    def start(self, port: int = 0) -> str:
        """Serve on 127.0.0.1 (``port=0``: any free port); returns the API base URL."""
        return self._server.start(port)

    def stop(self) -> None:
        self._server.stop()

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

    # ----- what check-config --live asks GitHub about ---------------------------------

    def set_token_scopes(self, *scopes: str) -> None:
        """What classic tokens' ``X-OAuth-Scopes`` say (none: a token with no scope)."""
        with self.lock:
            self.access.token_scopes = scopes

    def set_installation_permissions(self, **permissions: str) -> None:
        """What the App's installation was granted (``issues="write"``, …), all of it."""
        with self.lock:
            self.access.installation_permissions = dict(permissions)

    def pull_request_payload(
        self, number: int, action: str, sender: str, *, label: str | None = None, api: str = ""
    ) -> dict[str, Any]:
        """A ``pull_request`` webhook payload for the PR as it is now, as GitHub sends it."""
        return super().pull_request_payload(
            number, action, sender, label=label, api=api or self.base_url
        )
