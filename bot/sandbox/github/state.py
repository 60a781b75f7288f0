"""The repository the GitHub stand-in serves, and what tests and the sandbox do to it.

Everything here is what a person could do or see on github.com — open a PR, push to it,
close it, edit its labels, give someone a role — without going through the REST API,
which the route modules (``pulls``, ``labels``, ``search``, ``deployments``, ``auth``)
answer from the same state under the same lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any

from bot.clock import Clock
from bot.sandbox.github.access import Access
from bot.sandbox.github.answers import ApiRequest, not_found
from bot.sandbox.github.model import (
    AUTO_LABEL_COLOUR,
    ROLES,
    Deployment,
    Label,
    Pull,
    fake_sha,
)
from bot.sandbox.github.shapes import Repo, label_json, pull_json, repo_json, user_json


class GitHubState:
    """One repository's PRs, label definitions, comments, roles and deployments.

    Thread-safe: the HTTP side and tests share ``lock``; reads return copies.
    """

    def __init__(self, repository: str, *, bot_login: str, access: Access, clock: Clock) -> None:
        owner, _, name = repository.partition("/")
        if not owner or not name:
            raise ValueError(f"repository must be owner/name, not {repository!r}")
        self.repo = Repo(owner, name)
        self.owner, self.name = owner, name
        self.bot_login = bot_login
        self.app_slug = "showtime"
        self.access = access
        self.lock = threading.RLock()
        self.pulls: dict[int, Pull] = {}
        self.definitions: dict[str, Label] = {}  # by casefolded name: names are case-blind
        # The bot's account is a collaborator that may write (labels need it).
        self.roles: dict[str, str] = {bot_login.casefold(): "write"}
        self.deployment_records: dict[int, Deployment] = {}
        # GitHub's search index lags label writes (seconds, sometimes minutes). While paused,
        # search answers from the pulls as they were when the pause began.
        self.search_snapshot: dict[int, Pull] | None = None
        self._clock = clock
        self._next_id = 1000
        self._comment_listeners: list[Callable[[int, str], None]] = []

    @property
    def repository(self) -> str:
        return self.repo.full_name

    # ----- what people do on GitHub ------------------------------------------------

    def add_pr(
        self,
        number: int,
        title: str,
        body: str = "",
        head_sha: str | None = None,
        state: str = "open",
        *,
        author: str = "octocat",
        labels: Iterable[str] = (),
        commits: Sequence[str] | None = None,
        merged: bool = False,
    ) -> str:
        """Add (or replace) a PR; returns its head SHA. ``commits`` end with the head."""
        if state not in ("open", "closed"):
            raise ValueError(f"state must be open or closed, not {state!r}")
        history = list(commits or [fake_sha(self.repository, number, i) for i in range(2)])
        if head_sha is not None and history[-1] != head_sha:
            history.append(head_sha)
        now = self.now()
        with self.lock:
            pull = Pull(
                number=number,
                title=title,
                body=body,
                author=author,
                state=state,
                merged=merged and state == "closed",
                commits=history,
                created_at=now,
                updated_at=now,
                closed_at=now if state == "closed" else None,
            )
            self.pulls[number] = pull
            for name in labels:
                self.attach(pull, name)
            return pull.head_sha

    def push_commit(self, number: int, sha: str | None = None) -> str:
        """Append a commit to the PR (a new head); returns the new head SHA."""
        with self.lock:
            pull = self._pull_or_error(number)
            new = sha or fake_sha(self.repository, number, len(pull.commits), "pushed")
            pull.commits.append(new)
            pull.updated_at = self.now()
            return new

    def close_pr(self, number: int, *, merged: bool = False) -> None:
        with self.lock:
            pull = self._pull_or_error(number)
            pull.state, pull.merged = "closed", merged
            pull.closed_at = pull.updated_at = self.now()

    def reopen_pr(self, number: int) -> None:
        with self.lock:
            pull = self._pull_or_error(number)
            pull.state, pull.merged, pull.closed_at = "open", False, None
            pull.updated_at = self.now()

    def set_labels(self, number: int, names: list[str]) -> None:
        """Replace the PR's labels, as a person editing them on GitHub would."""
        with self.lock:
            pull = self._pull_or_error(number)
            pull.labels = []
            for name in dict.fromkeys(names):
                self.attach(pull, name)
            pull.updated_at = self.now()

    def define_label(
        self, name: str, color: str = AUTO_LABEL_COLOUR, description: str = ""
    ) -> None:
        """Create or overwrite a repository label definition."""
        with self.lock:
            existing = self.definitions.get(name.casefold())
            if existing:
                existing.name, existing.color, existing.description = name, color, description
            else:
                self.definitions[name.casefold()] = Label(self.new_id(), name, color, description)

    def set_permission(self, login: str, permission: str) -> None:
        """Give ``login`` a role on the repository (the bot's own login: the token's role)."""
        if permission not in ROLES:
            raise ValueError(f"permission must be one of {', '.join(ROLES)}")
        with self.lock:
            self.roles[login.casefold()] = permission

    def pause_search_index(self) -> None:
        """Search keeps answering from the PRs as they are now (a lagging index)."""
        with self.lock:
            self.search_snapshot = {
                number: replace(pull, labels=list(pull.labels))
                for number, pull in self.pulls.items()
            }

    def resume_search_index(self) -> None:
        with self.lock:
            self.search_snapshot = None

    # ----- what people see -------------------------------------------------------------

    def head_sha(self, number: int) -> str:
        with self.lock:
            return self._pull_or_error(number).head_sha

    def commits(self, number: int) -> list[str]:
        with self.lock:
            return list(self._pull_or_error(number).commits)

    def labels(self, number: int) -> list[str]:
        """The PR's label names, in the order they were added."""
        with self.lock:
            return [label.name for label in self._pull_or_error(number).labels]

    def comments(self, number: int) -> list[str]:
        with self.lock:
            return [comment.body for comment in self._pull_or_error(number).comments]

    def on_comment(self, callback: Callable[[int, str], None]) -> Callable[[], None]:
        """Call ``callback(pr, body)`` for each comment written from now on; returns the undo."""
        with self.lock:
            self._comment_listeners.append(callback)

        def unsubscribe() -> None:
            with self.lock:
                if callback in self._comment_listeners:
                    self._comment_listeners.remove(callback)

        return unsubscribe

    def commented(self, number: int, body: str) -> None:
        """Tell the listeners (under the lock: they only print)."""
        for callback in list(self._comment_listeners):
            callback(number, body)

    def label_definitions(self) -> dict[str, tuple[str, str]]:
        """Every repository label: name → (colour, description)."""
        with self.lock:
            return {label.name: (label.color, label.description) for label in self.all_labels()}

    def role_of(self, login: str) -> str:
        with self.lock:
            return self.roles.get(login.casefold(), "none")

    def deployments(self, environment: str | None = None) -> list[dict[str, Any]]:
        """Deployments (newest first) with their statuses, as the PR page would show them."""
        with self.lock:
            found = sorted(self.deployment_records.values(), key=lambda d: -d.id)
            return [
                {
                    "id": d.id,
                    "sha": d.sha,
                    "environment": d.environment,
                    "transient": d.transient,
                    "production": d.production,
                    "payload": dict(d.payload),
                    "states": [status["state"] for status in d.statuses],
                    "statuses": [dict(status) for status in d.statuses],
                }
                for d in found
                if environment in (None, d.environment)
            ]

    def pull_request_payload(
        self, number: int, action: str, sender: str, *, label: str | None = None, api: str
    ) -> dict[str, Any]:
        """A ``pull_request`` webhook payload for the PR as it is now, as GitHub sends it."""
        with self.lock:
            pull = self._pull_or_error(number)
            payload: dict[str, Any] = {
                "action": action,
                "number": number,
                "pull_request": pull_json(api, self.repo, pull),
                "repository": repo_json(api, self.repo),
                "sender": user_json(api, sender),
            }
            if label is not None:
                defined = self.definitions.get(label.casefold())
                payload["label"] = (
                    label_json(api, self.repo, defined) if defined else {"name": label}
                )
            if action == "synchronize":
                payload["before"] = pull.commits[-2] if len(pull.commits) > 1 else pull.head_sha
                payload["after"] = pull.head_sha
            return payload

    # ----- for the route handlers (called with the lock held) --------------------------

    def check_repo(self, request: ApiRequest) -> None:
        """404 unless the request is about this repository (names are case-blind)."""
        owner, repo = request.params.get("owner", ""), request.params.get("repo", "")
        if (owner.casefold(), repo.casefold()) != (self.owner.casefold(), self.name.casefold()):
            raise not_found()

    def pull_for(self, request: ApiRequest) -> Pull:
        self.check_repo(request)
        number = request.params["number"]
        if not number.isdigit() or int(number) not in self.pulls:
            raise not_found()
        return self.pulls[int(number)]

    def attach(self, pull: Pull, name: str) -> None:
        label = self.definitions.get(name.casefold())
        if label is None:  # GitHub creates a definition on first use
            label = Label(self.new_id(), name, AUTO_LABEL_COLOUR, "")
            self.definitions[name.casefold()] = label
        if all(existing is not label for existing in pull.labels):
            pull.labels.append(label)

    def all_labels(self) -> list[Label]:
        return sorted(self.definitions.values(), key=lambda label: label.name.casefold())

    def new_id(self) -> int:
        with self.lock:
            self._next_id += 1
            return self._next_id

    def now(self) -> str:
        return self._clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")

    def timestamp(self) -> float:
        return self._clock.now().timestamp()

    def _pull_or_error(self, number: int) -> Pull:
        try:
            return self.pulls[number]
        except KeyError:
            raise KeyError(f"no PR #{number} in the GitHub stand-in") from None
