"""The repository's label definitions: the CLI's colours on them, renames and deletions.

A label's definition is the repository's, not a PR's: renaming one renames the label on
every issue carrying it (🚦 deploying becomes 🚦 running in one write), deleting one takes
it off every issue. So definitions are only ever made for the CLI's vocabulary, a per-SHA
one never without a PR carrying it, and each is looked after once per process; jobs
wanting the same definition wait for the one request, others are not held up (one lock
per name).
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Sequence
from typing import Any, Self

from github import GithubException

from bot.domain.labels import MAX_LABEL_LENGTH, label_definition, sha_of_label

from .calls import Client, GitHubCalls, LabelTooLongError, already_exists, segment

log = logging.getLogger(__name__)


class LabelDefinitions:
    """Label definitions of one repository, with what this process knows of them."""

    def __init__(self, calls: GitHubCalls) -> None:
        self.calls = calls
        self._defined: set[str] = set()  # definitions known to exist in the CLI's colour
        self._lock = threading.Lock()  # guards _name_locks only (never waits)
        self._name_locks: dict[str, threading.Lock] = {}

    def with_calls(self, calls: GitHubCalls) -> Self:
        """The same definitions (what is known, the locks) reached through ``calls``."""
        bound = copy.copy(self)
        bound.calls = calls
        return bound

    def ensure(self, names: Sequence[str]) -> None:
        """The CLI's colours on these definitions, once per process (off anyone's wait).

        Shared labels (static ones, ⌛ TTLs) almost always exist already, coloured: they are
        looked up first (a read, which GitHub paces four times closer than a write), and
        created or coloured only when they are not. A per-SHA 🚦 label is new with its SHA —
        made grey by the label write that added it, or not at all yet — so it is coloured
        straight away; one that is gone already (renamed to running, or taken off) is not
        made: a definition no PR carries would only pile up.
        """
        for name in dict.fromkeys(names):
            definition = label_definition(name)
            if definition is None:
                continue  # not the CLI's: GitHub's default colour is left alone
            with self._lock_of(name):
                if name in self._defined:
                    continue
                colour, description = definition
                if sha_of_label(name) is None:
                    self._ensure_shared(name, colour, description)
                elif self._edit(name, {"color": colour, "description": description}) is None:
                    continue
                self._defined.add(name)

    def _ensure_shared(self, name: str, colour: str, description: str) -> None:
        found = self.calls.request_unless_404(
            "read labels", self._about(name), "GET", self._url(name)
        )
        if found is None:
            self._create(name, colour, description)
        elif found.get("color", "").lower() != colour.lower():  # the CLI's, in another colour
            edit = {"color": colour, "description": description}
            self.calls.request(
                "colour label definition", self._about(name), "PATCH", self._url(name), input=edit
            )

    def _edit(self, name: str, edit: dict[str, str]) -> dict[str, Any] | None:
        """PATCH the definition; None when it does not exist."""
        return self.calls.request_unless_404(
            "colour label definition", self._about(name), "PATCH", self._url(name), input=edit
        )

    def _create(self, name: str, colour: str, description: str) -> None:
        def create(client: Client) -> None:
            try:
                client.repo.create_label(name, colour, description)
                log.info("created label definition %r in %s", name, self.calls.repository)
            except GithubException as exc:
                if not already_exists(exc):
                    raise

        self.calls.call("create label definition", self._about(name), create, write=True)

    def rename(self, old: str, new: str) -> bool:
        """Rename the definition ``old`` to ``new``, with ``new``'s colour: on every issue that
        carries ``old`` (a per-SHA label is on one PR) it becomes ``new`` in this one write.
        False when ``old`` is gone (a rename that already happened) or ``new`` is defined
        already (an in-place redeploy's 🚦 running): then the caller changes the labels."""
        if len(new) > MAX_LABEL_LENGTH:
            raise LabelTooLongError(new)
        colour, description = label_definition(new) or ("ededed", "")
        body = {"new_name": new, "color": colour, "description": description}

        def rename(client: Client) -> bool:
            try:
                client.requester.requestJsonAndCheck("PATCH", self._url(old), input=body)
            except GithubException as exc:
                if exc.status == 404 or already_exists(exc):
                    return False  # renamed before, or ``new`` is defined already
                raise
            return True

        with self._lock_of(old), self._lock_of(new):
            about = f"{self.calls.repository} {old!r} → {new!r}"
            renamed = self.calls.call("rename label definition", about, rename, write=True)
            if renamed:
                # Nothing left to do for either: ``new`` has its colour, ``old`` is no more.
                self._defined.update((old, new))
        return renamed

    def delete(self, names: Sequence[str]) -> None:
        """Delete definitions (per-SHA ones would pile up), which takes them off every issue;
        one already gone is fine."""
        for name in dict.fromkeys(names):
            with self._lock_of(name):
                self._defined.discard(name)
            if len(name) > MAX_LABEL_LENGTH:
                continue
            if (
                self.calls.request_unless_404(
                    "delete label definition", self._about(name), "DELETE", self._url(name)
                )
                is None
            ):
                log.debug("label definition %r was already gone", name)

    def per_sha(self) -> list[str]:
        """Names of the definitions that carry a SHA (one request per 100)."""
        return self.calls.call(
            "read labels",
            f"{self.calls.repository} label definitions",
            lambda c: [label.name for label in c.repo.get_labels() if sha_of_label(label.name)],
        )

    def attached(self, names: Sequence[str]) -> set[str]:
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

    def _url(self, name: str) -> str:
        return f"{self.calls.repo_url}/labels/{segment(name)}"

    def _about(self, name: str) -> str:
        return f"{self.calls.repository} {name!r}"

    def _lock_of(self, name: str) -> threading.Lock:
        with self._lock:
            return self._name_locks.setdefault(name, threading.Lock())
