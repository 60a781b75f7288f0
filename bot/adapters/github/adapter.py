"""The GitHub adapter: PR reads and 🎪 label writes through PyGithub, within SPEC §10's budgets.

Labels are the shared state (SPEC §8), so every write here is shaped by what a request
costs: PyGithub paces writes about a second apart, so labels go on in one POST, a PR's
labels are read from the PR object already fetched, a change that removes labels is one
read and one PUT. The repository's label definitions (the CLI's colours, renames,
deletions) are ``definitions``'; how calls are made (clients, pacing, retries, errors) is
``calls``'s business.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Sequence
from typing import Self

from github import Auth, GithubIntegration

from bot.clock import SYSTEM_CLOCK, Clock
from bot.config import Settings
from bot.domain.labels import (
    MAX_LABEL_LENGTH,
    LabelChange,
    ttl_label,
)
from bot.domain.ttl import TTL_VALUES
from bot.orchestrator.ports import LabelledPr, PrState, PullRequest

from .calls import (
    Client,
    GitHubCalls,
    GitHubRecorder,
    LabelTooLongError,
    RetryPolicy,
    pem,
    segment,
)
from .definitions import LabelDefinitions

log = logging.getLogger(__name__)

ROLES = ("admin", "maintain", "write", "triage", "read", "none")


class GitHubAdapter:
    """One repository's PRs and labels (``GitHubPort``). Thread-safe; one per process."""

    def __init__(
        self,
        settings: Settings,
        *,
        retry: RetryPolicy | None = None,
        clock: Clock = SYSTEM_CLOCK,
        recorder: GitHubRecorder | None = None,
    ) -> None:
        self._settings = settings
        self.calls = GitHubCalls(settings, retry=retry, clock=clock, recorder=recorder)
        self.definitions = LabelDefinitions(self.calls)
        self._identity: dict[str, str] = {}  # "login": the bot's own, once known
        self._identity_lock = threading.Lock()

    def with_clock(self, clock: Clock) -> Self:
        """This adapter (same clients, pacing and caches) retrying on ``clock``."""
        bound = copy.copy(self)
        bound.calls = self.calls.with_clock(clock)
        bound.definitions = self.definitions.with_calls(bound.calls)
        return bound

    @property
    def repository(self) -> str:
        return self.calls.repository

    def close(self) -> None:
        self.calls.close()

    # ----- pull requests ---------------------------------------------------------

    def get_pr(self, number: int) -> PullRequest:
        """The PR with its labels: one GET /repos/{o}/{r}/pulls/{n}."""

        def read(client: Client) -> PullRequest:
            pull = client.repo.get_pull(number)
            return PullRequest(
                number=pull.number,
                state=PrState(pull.state),
                merged=bool(pull.merged),
                head_sha=pull.head.sha,
                title=pull.title or "",
                body=pull.body or "",
                author=pull.user.login if pull.user else "ghost",
                html_url=pull.html_url,
                labels=tuple(label.name for label in pull.labels),
            )

        return self.calls.call("read PR", self.calls.ref(number), read, pr=number)

    def pr_commit_shas(self, number: int) -> list[str]:
        """Full SHAs of the PR's commits, oldest first (one request per 100)."""
        return self.calls.call(
            "list PR commits",
            self.calls.ref(number),
            lambda c: [commit.sha for commit in c.repo.get_pull(number).get_commits()],
            pr=number,
        )

    # ----- labels ----------------------------------------------------------------

    def apply_labels(
        self, number: int, change: LabelChange, current: Sequence[str]
    ) -> tuple[str, ...]:
        """Make ``change`` in as few writes as GitHub allows; the labels afterwards.

        Adding only: one POST. Removing one label only: one DELETE. Anything more: one
        read and one PUT of the whole set — removals and additions land together, so a
        claim never disappears before ``running`` appears.
        """
        if change.remove and (change.add or len(change.remove) > 1):
            return self.replace_labels(number, change.add, change.remove)
        if change.remove:
            self.remove_labels(number, list(change.remove))
            return tuple(n for n in current if n not in change.remove)
        if change.add:
            return self.add_labels(number, list(change.add))
        return tuple(current)

    def add_labels(self, number: int, names: Sequence[str]) -> tuple[str, ...]:
        """Add ``names`` in one POST; returns the PR's labels afterwards.

        Labels with a CLI colour (static, ⌛, 🚦) get their definition created
        first, once per process; the rest are left to GitHub's creation on first use.
        """
        wanted = self._prepare(names)
        if not wanted:
            return ()
        data = self.calls.request(
            "add labels",
            f"{self.calls.ref(number)} {wanted}",
            "POST",
            f"{self.calls.issue_url(number)}/labels",
            input=wanted,
            pr=number,
        )
        return tuple(label["name"] for label in data)

    def replace_labels(
        self, number: int, add: Sequence[str], remove: Sequence[str]
    ) -> tuple[str, ...]:
        """Remove and add in one write: read the PR's labels, then PUT the whole new set.

        Two requests and one write, where single DELETEs cost one write each (and
        PyGithub paces writes a second apart). The read happens right before the PUT,
        so a label someone added meanwhile is kept; only the moment between the two
        requests is exposed. Labels the PR does not carry are simply not removed.
        """
        wanted = self._prepare(add)
        gone = set(remove)
        current = self._pr_labels(number)
        final = [name for name in current if name not in gone]
        final.extend(name for name in wanted if name not in final)
        if final == list(current):
            return current  # already as wanted: no write
        data = self.calls.request(
            "set labels",
            f"{self.calls.ref(number)} +{wanted} -{sorted(gone)}",
            "PUT",
            f"{self.calls.issue_url(number)}/labels",
            input={"labels": final},
            pr=number,
        )
        return tuple(label["name"] for label in data)

    def _prepare(self, names: Sequence[str]) -> list[str]:
        """Names to send, once each, none too long for GitHub.

        No definition is made first: GitHub creates a missing one when a label is added to an
        issue (in its default grey), so the requester waits for one write, not three. The
        CLI's colours follow, from ``ensure_label_definitions``, off the requester's wait.
        """
        wanted = list(dict.fromkeys(names))
        for name in wanted:
            if len(name) > MAX_LABEL_LENGTH:
                raise LabelTooLongError(name)
        return wanted

    def remove_label(self, number: int, name: str) -> None:
        """Remove one label; a label the PR does not carry is fine (404)."""
        if len(name) > MAX_LABEL_LENGTH:
            return  # GitHub cannot hold it, so it is not on the PR
        # PyGithub's remove_from_labels leaves "/" unescaped; quote everything.
        url = f"{self.calls.issue_url(number)}/labels/{segment(name)}"
        if (
            self.calls.request_unless_404(
                "remove label", f"{self.calls.ref(number)} {name!r}", "DELETE", url
            )
            is None
        ):
            log.debug("label %r was not on %s", name, self.calls.ref(number))

    def remove_labels(self, number: int, names: Sequence[str]) -> None:
        """One DELETE per label (GitHub has no bulk removal short of replacing all)."""
        for name in dict.fromkeys(names):
            self.remove_label(number, name)

    def find_labelled_prs(self) -> list[LabelledPr]:
        """Every PR, open or closed, carrying a ``🎪 ⌛`` TTL label: one request per 100.

        GitHub's free-text search does not look at label names, so the TTL labels go
        in one ``label:`` qualifier, whose comma-separated values are OR-ed.
        """
        ttl_labels = ",".join(f'"{ttl_label(ttl)}"' for ttl in TTL_VALUES)
        query = f"repo:{self.calls.repository} is:pr label:{ttl_labels}"

        def search(client: Client) -> dict[int, LabelledPr]:
            found: dict[int, LabelledPr] = {}
            results = client.github.search_issues(query)
            for issue in results:
                found.setdefault(
                    issue.number,
                    LabelledPr(
                        number=issue.number,
                        state=PrState(issue.state),
                        title=issue.title or "",
                        html_url=issue.html_url,
                        labels=tuple(label.name for label in issue.labels),
                    ),
                )
            # Read after iterating, so these cost no request of their own.
            if results.incomplete_results or results.totalCount > len(found):
                log.warning(
                    "GitHub search returned %d of %d labelled PRs (incomplete or over 1000)",
                    len(found),
                    results.totalCount,
                )
            return found

        found = self.calls.call("search PRs", query, search)
        return sorted(found.values(), key=lambda pr: pr.number)

    # ----- label definitions (``definitions``) ------------------------------------------

    def ensure_label_definitions(self, names: Sequence[str]) -> None:
        """The CLI's colours on these definitions (made if missing), once per process."""
        self.definitions.ensure(names)

    def rename_label(self, old: str, new: str) -> bool:
        """Rename the definition ``old`` to ``new``: on the PR carrying it, in one write."""
        return self.definitions.rename(old, new)

    def delete_label_definitions(self, names: Sequence[str]) -> None:
        self.definitions.delete(names)

    def sha_label_definitions(self) -> list[str]:
        return self.definitions.per_sha()

    def attached_labels(self, names: Sequence[str]) -> set[str]:
        return self.definitions.attached(names)

    # ----- other -----------------------------------------------------------------

    def comment(self, number: int, text: str) -> None:
        """Comment on the PR (whether to is the orchestrator's call: SHOWTIME_PR_COMMENTS)."""
        self.calls.request(
            "comment",
            self.calls.ref(number),
            "POST",
            f"{self.calls.issue_url(number)}/comments",
            input={"body": text},
            pr=number,
            repeatable=False,  # a 5xx may have created it: never post twice
        )

    def collaborator_permission(self, login: str) -> str:
        """admin, maintain, write, triage, read or none (also for unknown users)."""
        resource = f"{login} on {self.calls.repository}"
        url = f"{self.calls.repo_url}/collaborators/{segment(login)}/permission"
        data = self.calls.request_unless_404("read collaborator permission", resource, "GET", url)
        if data is None:  # not a GitHub user at all
            return "none"
        role = data.get("role_name")
        if role in ROLES:
            return str(role)
        # A custom role: its base permission is in the legacy field.
        permission = data.get("permission")
        return str(permission) if permission in ROLES else "none"

    def own_login(self) -> str:
        """The bot's GitHub identity, looked up once: the token's user, or ``<app>[bot]``."""
        with self._identity_lock:
            known = self._identity.get("login")
        if known is not None:
            return known
        if self._settings.github_app_configured:
            assert self._settings.github_app_id and self._settings.github_app_private_key
            key = pem(self._settings.github_app_private_key.get_secret_value())
            integration = GithubIntegration(
                auth=Auth.AppAuth(self._settings.github_app_id, key),
                base_url=self._settings.github_api_url,
            )
            login = self.calls.call(
                "read the app", "the GitHub App", lambda c: f"{integration.get_app().slug}[bot]"
            )
        else:
            login = self.calls.call(
                "read the token's user", "the token", lambda c: c.github.get_user().login
            )
        with self._identity_lock:
            self._identity["login"] = login
        return login

    def _pr_labels(self, number: int) -> tuple[str, ...]:
        data = self.calls.request(
            "read labels",
            self.calls.ref(number),
            "GET",
            f"{self.calls.issue_url(number)}/labels",
            parameters={"per_page": 100},
            pr=number,
        )
        return tuple(label["name"] for label in data)
