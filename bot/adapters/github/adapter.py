"""The GitHub adapter: PR reads and 🎪 label writes through PyGithub, within SPEC §10's budgets.

Labels are the shared state (SPEC §8), so every write here is shaped by what a request
costs: PyGithub paces writes about a second apart, so labels go on in one POST, a PR's
labels are read from the PR object already fetched, a change that removes labels is one
read and one PUT, and label definitions are created once per process and never PATCHed.
How calls are made (clients, pacing, retries, errors) is ``calls``'s business.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Sequence
from typing import Self

from github import Auth, GithubException, GithubIntegration

from bot.clock import SYSTEM_CLOCK, Clock
from bot.config import Settings
from bot.domain.labels import (
    MAX_LABEL_LENGTH,
    LabelChange,
    label_definition,
    sha_of_label,
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
    already_exists,
    pem,
    segment,
)

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
        self._identity: dict[str, str] = {}  # "login": the bot's own, once known
        self._defined: set[str] = set()  # label definitions known to exist
        self._definitions_lock = threading.Lock()  # guards _name_locks only (never waits)
        self._name_locks: dict[str, threading.Lock] = {}

    def with_clock(self, clock: Clock) -> Self:
        """This adapter (same clients, pacing and caches) retrying on ``clock``."""
        bound = copy.copy(self)
        bound.calls = self.calls.with_clock(clock)
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

    def rename_label(self, old: str, new: str) -> bool:
        """Rename the definition ``old`` to ``new``, with ``new``'s colour: on every issue that
        carries ``old`` (a per-SHA label is on one PR) it becomes ``new`` in this one write.
        False when ``old`` is gone (a rename that already happened) or ``new`` is defined
        already (an in-place redeploy's 🚦 running): then the caller changes the labels."""
        if len(new) > MAX_LABEL_LENGTH:
            raise LabelTooLongError(new)
        colour, description = label_definition(new) or ("ededed", "")
        url = f"{self.calls.repo_url}/labels/{segment(old)}"
        body = {"new_name": new, "color": colour, "description": description}

        def rename(client: Client) -> bool:
            try:
                client.requester.requestJsonAndCheck("PATCH", url, input=body)
            except GithubException as exc:
                if exc.status == 404 or already_exists(exc):
                    return False  # renamed before, or ``new`` is defined already
                raise
            return True

        with self._definition_lock(old), self._definition_lock(new):
            renamed = self.calls.call(
                "rename label definition",
                f"{self.calls.repository} {old!r} → {new!r}",
                rename,
                write=True,
            )
            if renamed:
                # Nothing left to do for either: ``new`` has its colour, ``old`` is no more.
                self._defined.update((old, new))
        return renamed

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

    def delete_label_definitions(self, names: Sequence[str]) -> None:
        """Delete repository label definitions (per-SHA ones would pile up); 404 is fine."""
        for name in dict.fromkeys(names):
            with self._definition_lock(name):
                self._defined.discard(name)
            if len(name) > MAX_LABEL_LENGTH:
                continue
            url = f"{self.calls.repo_url}/labels/{segment(name)}"
            resource = f"{self.calls.repository} {name!r}"
            if (
                self.calls.request_unless_404("delete label definition", resource, "DELETE", url)
                is None
            ):
                log.debug("label definition %r was already gone", name)

    def sha_label_definitions(self) -> list[str]:
        """Names of the repository's label definitions that carry a SHA (one request per 100)."""
        return self.calls.call(
            "read labels",
            f"{self.calls.repository} label definitions",
            lambda c: [label.name for label in c.repo.get_labels() if sha_of_label(label.name)],
        )

    def attached_labels(self, names: Sequence[str]) -> set[str]:
        """Which of ``names`` are on at least one issue or PR, open or closed; one request each.

        This asks the issues list, which reads GitHub's database, not the search index:
        search lags behind label writes, and a label wrongly thought unattached gets its
        definition deleted — which strips it from every PR. A name with a comma cannot
        be asked (the filter splits on commas), so it counts as attached and is kept.
        """
        attached: set[str] = set()
        for name in dict.fromkeys(names):
            if len(name) > MAX_LABEL_LENGTH:
                continue  # GitHub cannot hold it, so nothing carries it
            if "," in name:
                attached.add(name)
                continue
            data = self.calls.request(
                "read labels",
                f"{self.calls.repository} issues labelled {name!r}",
                "GET",
                f"{self.calls.repo_url}/issues",
                parameters={"labels": name, "state": "all", "per_page": 1},
            )
            if data:
                attached.add(name)
        return attached

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
        with self._definitions_lock:
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
        with self._definitions_lock:
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

    def ensure_label_definitions(self, names: Sequence[str]) -> None:
        """The CLI's colours on these definitions, once per process (off anyone's wait).

        Shared labels (static ones, ⌛ TTLs) almost always exist already, coloured: they are
        looked up first (a read, which GitHub paces four times closer than a write), and
        created or coloured only when they are not. A per-SHA 🚦 label is new with its SHA —
        made grey by the label write that added it, or not at all yet — so it is coloured
        straight away, and created if the write has not made it. Jobs wanting the same
        definition wait for the one request; others are not held up (one lock per name).
        """
        for name in dict.fromkeys(names):
            definition = label_definition(name)
            if definition is None:
                continue
            with self._definition_lock(name):
                if name in self._defined:
                    continue
                colour, description = definition
                url = f"{self.calls.repo_url}/labels/{segment(name)}"
                resource = f"{self.calls.repository} {name!r}"
                if sha_of_label(name) is None:
                    found = self.calls.request_unless_404("read labels", resource, "GET", url)
                    if found is not None and found.get("color", "").lower() == colour.lower():
                        self._defined.add(name)
                        continue
                else:
                    found = self.calls.request_unless_404(
                        "colour label definition",
                        resource,
                        "PATCH",
                        url,
                        input={"color": colour, "description": description},
                    )
                if found is not None:
                    if sha_of_label(name) is None:  # exists, in another colour: the CLI's
                        self.calls.request(
                            "colour label definition",
                            resource,
                            "PATCH",
                            url,
                            input={"color": colour, "description": description},
                        )
                    self._defined.add(name)
                    continue
                if sha_of_label(name) is not None:
                    # Gone already (renamed to running, or taken off): nothing to colour, and
                    # a definition no PR carries would only pile up.
                    continue

                def create(
                    client: Client,
                    name: str = name,
                    colour: str = colour,
                    description: str = description,
                ) -> None:
                    try:
                        client.repo.create_label(name, colour, description)
                        log.info("created label definition %r in %s", name, self.calls.repository)
                    except GithubException as exc:
                        if not already_exists(exc):
                            raise

                self.calls.call(
                    "create label definition",
                    f"{self.calls.repository} {name!r}",
                    create,
                    write=True,
                )
                self._defined.add(name)

    def _definition_exists(self, name: str) -> bool:
        url = f"{self.calls.repo_url}/labels/{segment(name)}"
        found = self.calls.request_unless_404(
            "read labels", f"{self.calls.repository} {name!r}", "GET", url
        )
        return found is not None

    def _definition_lock(self, name: str) -> threading.Lock:
        with self._definitions_lock:
            return self._name_locks.setdefault(name, threading.Lock())
