"""``GET /search/issues``: GitHub's issue search, for the qualifiers the bot uses.

Deliberately not modelled: GitHub's ranking (newest PR first here) and issues that are
not PRs. Free text matches titles and bodies, never label names — as on GitHub, which is
why the bot finds its environments with ``label:`` qualifiers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.sandbox.github.answers import (
    DOCS,
    Answer,
    ApiRequest,
    github_error,
    page_numbers,
    paginated,
    validation_failed,
)
from bot.sandbox.github.model import Pull
from bot.sandbox.github.routes import ROUTE_SEARCH_ISSUES, Route
from bot.sandbox.github.shapes import issue_json

if TYPE_CHECKING:
    from bot.sandbox.github.state import GitHubState

MAX_SEARCH_RESULTS = 1000  # GitHub serves only the first 1000 search results
_QUALIFIERS = frozenset({"repo", "is", "state", "type", "label", "author", "in"})


@dataclass
class Search:
    """A parsed ``q``: qualifiers GitHub's issue search understands, plus free text."""

    repos: list[str] = field(default_factory=list)
    kinds: set[str] = field(default_factory=set)  # "pr" / "issue"
    states: set[str] = field(default_factory=set)  # open, closed, merged, unmerged
    label_groups: list[set[str]] = field(default_factory=list)  # OR inside, AND across
    excluded_labels: set[str] = field(default_factory=set)
    authors: set[str] = field(default_factory=set)
    words: list[str] = field(default_factory=list)

    def matches(self, repository: str, pull: Pull) -> bool:
        if any(repo.casefold() != repository.casefold() for repo in self.repos):
            return False
        if "issue" in self.kinds:  # the stand-in holds PRs only
            return False
        if not all(_state_matches(state, pull) for state in self.states):
            return False
        names = pull.label_names()
        if not all(names & group for group in self.label_groups):
            return False
        if names & self.excluded_labels:
            return False
        if self.authors and pull.author.casefold() not in self.authors:
            return False
        text = f"{pull.title}\n{pull.body}".casefold()  # label names are not searched
        return all(word in text for word in self.words)


def search_issues(state: GitHubState, request: ApiRequest) -> Answer:
    doc = f"{DOCS}/search/search#search-issues-and-pull-requests"
    query = request.query.get("q", "").strip()
    if not query:
        raise validation_failed(doc, {"resource": "Search", "field": "q", "code": "missing"})
    search = parse_search(query)
    indexed = state.pulls if state.search_snapshot is None else state.search_snapshot
    found = [
        pull
        for pull in sorted(indexed.values(), key=lambda p: -p.number)
        if search.matches(state.repository, pull)
    ]
    page, per_page = page_numbers(request.query)
    if (page - 1) * per_page >= MAX_SEARCH_RESULTS and found:
        raise github_error(422, "Only the first 1000 search results are available", doc)
    items = [
        {**issue_json(request.api, state.repo, pull), "score": 1.0}
        for pull in found[:MAX_SEARCH_RESULTS]
    ]
    status, chunk, headers = paginated(request, items)
    body = {"total_count": len(found), "incomplete_results": False, "items": chunk}
    return status, body, headers


def parse_search(query: str) -> Search:
    search = Search()
    for token in _split_outside_quotes(query, lambda char: char.isspace(), keep_quotes=True):
        negated = token.startswith("-")
        key, sep, value = token.removeprefix("-").partition(":")
        if not sep or key.casefold() not in _QUALIFIERS:
            search.words.append(token.strip('"').casefold())
            continue
        values = [
            v.casefold()
            for v in _split_outside_quotes(value, lambda char: char == ",", keep_quotes=False)
        ]
        key = key.casefold()
        if key == "repo":
            search.repos.extend(values)
        elif key in ("is", "type", "state"):
            for v in values:
                if v in ("pr", "pull-request", "issue"):
                    search.kinds.add("issue" if v == "issue" else "pr")
                else:
                    search.states.add(v)
        elif key == "label":
            if negated:
                search.excluded_labels.update(values)
            else:
                search.label_groups.append(set(values))
        elif key == "author":
            search.authors.update(values)
    return search


def _state_matches(state: str, pull: Pull) -> bool:
    if state in ("open", "closed"):
        return pull.state == state
    if state == "merged":
        return pull.merged
    if state == "unmerged":
        return not pull.merged
    return True


def _split_outside_quotes(
    text: str, separates: Callable[[str], bool], *, keep_quotes: bool
) -> list[str]:
    """Split where ``separates`` says, except inside double quotes.

    Tokens of a query keep their quotes (``label:"🎪 ⌛ 24h"`` is one token); values of a
    qualifier lose them (``"a b","c"`` → ``["a b", "c"]``). Empty pieces are dropped.
    """
    pieces: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
            if not keep_quotes:
                continue
        if separates(char) and not quoted:
            pieces.append("".join(current))
            current = []
        else:
            current.append(char)
    pieces.append("".join(current))
    return [piece for piece in pieces if piece]


ROUTES = (Route("GET", ROUTE_SEARCH_ISSUES, search_issues),)
