"""The GitHub adapter, driving real PyGithub over HTTP against the GitHub stand-in.

What is asserted is what a person would see on GitHub (labels on the PR, label
definitions and their colours, comments) and what SPEC §10 budgets (requests
per operation, read from the stand-in's counters).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from support import CLI_LABELS

from bot.adapters.github import (
    NO_RETRIES,
    GitHubAdapter,
    GitHubAuthError,
    GitHubError,
    LabelTooLongError,
    PrNotFoundError,
    RetryPolicy,
)
from bot.clock import Clock, FakeClock, SystemClock
from bot.config import Settings
from bot.domain.labels import (
    BLOCKED,
    FREEZE,
    TRIGGER_START,
    TRIGGER_STOP,
    label_definition,
    labels_of_sha,
    requester_label,
)
from bot.errors import ConfigurationError, ShowtimeError, UserInputError
from bot.sandbox.github import (
    AUTO_LABEL_COLOUR,
    ROUTE_ACCESS_TOKENS,
    ROUTE_ISSUE_COMMENTS,
    ROUTE_ISSUE_LABELS,
    ROUTE_ISSUES,
    ROUTE_LABEL,
    ROUTE_LABELS,
    ROUTE_PULL,
    ROUTE_PULL_COMMITS,
    ROUTE_SEARCH_ISSUES,
    GitHubStandIn,
    seed_sandbox,
)

TOKEN = "ghp_secret_test_token_value"
SHA = "abc123f"


@pytest.fixture
def standin() -> Iterator[GitHubStandIn]:
    with GitHubStandIn() as server:
        seed_sandbox(server)
        yield server


def open_prs(standin: GitHubStandIn, numbers: range) -> list[int]:
    for number in numbers:
        standin.add_pr(number, f"PR {number}")
    return list(numbers)


def _settings(standin: GitHubStandIn, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "github_token": TOKEN,
        "github_api_url": standin.base_url,
        "github_repository": "apache/superset",
        "github_seconds_between_writes": 0,
        # Explicit, so variables in the test run's environment cannot change the outcome.
        "github_app_id": None,
        "github_app_private_key": None,
        "github_app_installation_id": None,
        "showtime_pr_comments": False,
        **overrides,
    }
    return Settings(_env_file=None, **values)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def adapter(standin: GitHubStandIn, clock: FakeClock) -> GitHubAdapter:
    return GitHubAdapter(_settings(standin), clock=clock)


def _definable(names: list[str]) -> list[str]:
    return [name for name in names if label_definition(name) is not None]


# ----- reading PRs ------------------------------------------------------------------


def test_get_pr_is_one_request_with_labels_inline(
    standin: GitHubStandIn, adapter: GitHubAdapter
) -> None:
    standin.add_pr(
        4242, "feat: x", "FEATURE_X=true", author="maxime", labels=["🎪 ⌛ 24h", "size/M"]
    )
    standin.reset_counts()
    pr = adapter.get_pr(4242)
    assert standin.counts() == {("GET", ROUTE_PULL): 1}
    assert pr.number == 4242
    assert (pr.state, pr.merged) == ("open", False)
    assert pr.head_sha == standin.head_sha(4242) and len(pr.head_sha) == 40
    assert (pr.title, pr.body, pr.author) == ("feat: x", "FEATURE_X=true", "maxime")
    assert pr.html_url == "https://github.com/apache/superset/pull/4242"
    assert pr.labels == ("🎪 ⌛ 24h", "size/M")
    assert adapter.repository == "apache/superset"


def test_get_pr_of_a_merged_pr(adapter: GitHubAdapter) -> None:
    pr = adapter.get_pr(36000)
    assert (pr.state, pr.merged) == ("closed", True)


def test_unknown_pr_says_so(standin: GitHubStandIn, adapter: GitHubAdapter) -> None:
    with pytest.raises(PrNotFoundError) as caught:
        adapter.get_pr(99999)
    assert isinstance(caught.value, UserInputError)
    assert caught.value.message == "PR #99999 does not exist in apache/superset"
    with pytest.raises(PrNotFoundError):
        adapter.add_labels(99999, ["🎪 ⌛ 24h"])
    with pytest.raises(PrNotFoundError):
        adapter.pr_commit_shas(99999)


def test_commit_shas_come_in_pages_of_100(standin: GitHubStandIn, adapter: GitHubAdapter) -> None:
    commits = [f"{i:040x}" for i in range(150)]
    standin.add_pr(7, "long PR", commits=commits)
    standin.reset_counts()
    assert adapter.pr_commit_shas(7) == commits
    assert standin.counts() == {("GET", ROUTE_PULL_COMMITS): 2}


# ----- labels -----------------------------------------------------------------------


def test_spec_labels_round_trip(standin: GitHubStandIn, adapter: GitHubAdapter) -> None:
    after = adapter.add_labels(36121, CLI_LABELS)
    assert after == tuple(CLI_LABELS)
    assert standin.labels(36121) == CLI_LABELS
    assert adapter.get_pr(36121).labels == tuple(CLI_LABELS)

    adapter.remove_labels(36121, CLI_LABELS)
    assert standin.labels(36121) == []


def test_add_returns_every_label_of_the_pr(standin: GitHubStandIn, adapter: GitHubAdapter) -> None:
    standin.add_pr(5, "has labels", labels=["size/M"])
    assert adapter.add_labels(5, ["🎪 ⌛ 48h"]) == ("size/M", "🎪 ⌛ 48h")
    standin.reset_counts()
    assert adapter.add_labels(5, []) == ()  # nothing to add: no request at all
    assert standin.total() == 0


def test_an_add_waits_for_no_definition_and_colours_follow_once(
    standin: GitHubStandIn, adapter: GitHubAdapter
) -> None:
    """SPEC §10, §8: the label write is the only request the requester waits for (GitHub makes
    a missing definition, grey); the CLI's colours follow off the wait, once per process."""
    definable = _definable(CLI_LABELS)
    assert definable == [f"🎪 {SHA} 🚦 running", "🎪 ⌛ 1w", "🎪 🧊 showtime-freeze"]

    standin.reset_counts()
    adapter.add_labels(36121, CLI_LABELS)
    assert standin.counts() == {("POST", ROUTE_ISSUE_LABELS): 1}
    for name in CLI_LABELS:
        assert standin.label_definitions()[name] == (AUTO_LABEL_COLOUR, "")  # made by the add

    standin.reset_counts()
    adapter.ensure_label_definitions(definable)
    # The per-SHA 🚦 is new with its SHA: coloured at once; shared ones are read first.
    assert standin.count("PATCH", ROUTE_LABEL) == len(definable)
    assert standin.count("GET", ROUTE_LABEL) == 2
    definitions = standin.label_definitions()
    for name in definable:
        colour, description = label_definition(name)  # type: ignore[misc]
        assert definitions[name] == (colour.lower(), description)
    for name in set(CLI_LABELS) - set(definable):
        assert definitions[name] == (AUTO_LABEL_COLOUR, "")  # GitHub's default on first use

    standin.reset_counts()
    adapter.add_labels(36122, CLI_LABELS)
    adapter.ensure_label_definitions(definable)
    assert standin.counts() == {("POST", ROUTE_ISSUE_LABELS): 1}  # warm cache: zero extra


def test_a_gone_per_sha_definition_is_not_made_again_to_be_coloured(
    standin: GitHubStandIn, adapter: GitHubAdapter
) -> None:
    """A 🚦 label renamed or taken off before its colour came would pile up if made again."""
    deploying = f"🎪 {SHA} 🚦 deploying"
    adapter.ensure_label_definitions([deploying])
    assert deploying not in standin.label_definitions()


def test_renaming_a_label_moves_it_on_the_pr_coloured_in_one_write(
    standin: GitHubStandIn, adapter: GitHubAdapter
) -> None:
    deploying, running = f"🎪 {SHA} 🚦 deploying", f"🎪 {SHA} 🚦 running"
    adapter.add_labels(36121, [deploying, "size/M"])
    standin.reset_counts()
    assert adapter.rename_label(deploying, running) is True
    assert standin.counts() == {("PATCH", ROUTE_LABEL): 1}
    assert standin.labels(36121) == [running, "size/M"]
    assert deploying not in standin.label_definitions()
    assert standin.label_definitions()[running][0] == label_definition(running)[0].lower()  # type: ignore[index]
    # Again (after a restart): it is gone, so False — and so when the new name is defined.
    assert adapter.rename_label(deploying, running) is False
    adapter.add_labels(36122, [deploying])
    assert adapter.rename_label(deploying, running) is False
    assert standin.labels(36122) == [deploying]


def test_add_five_labels_with_a_warm_cache_is_one_request(
    standin: GitHubStandIn, adapter: GitHubAdapter
) -> None:
    five = [f"🎪 {SHA} 🚦 running", f"🎪 🎯 {SHA}", "🎪 ⌛ 48h", FREEZE, f"🎪 {SHA} 🤡 maxime"]
    adapter.add_labels(36122, five)
    adapter.remove_labels(36122, five)
    standin.reset_counts()
    adapter.add_labels(36121, five)
    assert standin.total() == 1


def test_concurrent_jobs_colour_a_definition_once(
    standin: GitHubStandIn, adapter: GitHubAdapter
) -> None:
    prs = open_prs(standin, range(1, 9))
    standin.reset_counts()

    def label(number: int) -> None:
        adapter.add_labels(number, ["🎪 ⌛ 24h", FREEZE])
        adapter.ensure_label_definitions(["🎪 ⌛ 24h", FREEZE])

    with ThreadPoolExecutor(max_workers=len(prs)) as pool:
        list(pool.map(label, prs))
    assert standin.count("GET", ROUTE_LABEL) == 2  # one look each, whoever asked
    assert standin.count("PATCH", ROUTE_LABEL) == 2  # grey from the first add: coloured once
    assert standin.count("POST", ROUTE_ISSUE_LABELS) == len(prs)
    assert all(standin.labels(n) == ["🎪 ⌛ 24h", FREEZE] for n in prs)


def test_many_threads_each_get_their_own_answers(
    standin: GitHubStandIn, adapter: GitHubAdapter
) -> None:
    """One adapter serves every job thread: no request may carry another's URL or body."""
    prs = open_prs(standin, range(100, 132))

    def work(number: int) -> tuple[int, tuple[str, ...], int]:
        after = adapter.add_labels(number, [f"🎪 {number:07x} 🤡 user{number}"])
        return number, after, adapter.get_pr(number).number

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(work, prs))
    for number, after, read in results:
        assert after == (f"🎪 {number:07x} 🤡 user{number}",)
        assert read == number
        assert standin.labels(number) == [f"🎪 {number:07x} 🤡 user{number}"]


def test_an_existing_definition_is_used_not_patched(
    standin: GitHubStandIn, adapter: GitHubAdapter
) -> None:
    colour, description = label_definition(TRIGGER_START)  # type: ignore[misc]
    standin.define_label(TRIGGER_START, colour, description)
    standin.reset_counts()
    adapter.add_labels(36121, [TRIGGER_START])
    adapter.ensure_label_definitions([TRIGGER_START])
    assert standin.count("GET", ROUTE_LABEL) == 1  # a read, not a write: it exists, coloured
    assert standin.count("POST", ROUTE_LABELS) == 0
    assert standin.count("PATCH", ROUTE_LABEL) == 0

    standin.reset_counts()
    adapter.add_labels(36122, [TRIGGER_START])
    adapter.ensure_label_definitions([TRIGGER_START])
    assert standin.counts() == {("POST", ROUTE_ISSUE_LABELS): 1}


def test_a_label_over_50_characters_is_never_sent(
    standin: GitHubStandIn, adapter: GitHubAdapter
) -> None:
    too_long = f"🎪 {SHA} 🤡 " + "someone-with-a-very-long-name-indeed-yes"
    assert len(too_long) > 50
    standin.reset_counts()
    with pytest.raises(LabelTooLongError) as caught:
        adapter.add_labels(36121, ["🎪 ⌛ 24h", too_long])
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, ShowtimeError)
    assert "50" in str(caught.value)
    assert standin.total() == 0
    # The domain's shortened form is accepted.
    short = requester_label(SHA, "someone-with-a-very-long-name-indeed-yes")
    assert adapter.add_labels(36121, [short]) == (short,)


def test_teardown_removes_pr_labels_and_sha_definitions_only(
    standin: GitHubStandIn, adapter: GitHubAdapter
) -> None:
    adapter.add_labels(36121, [*CLI_LABELS, TRIGGER_STOP])
    on_pr = standin.labels(36121)
    sha_labels = labels_of_sha(on_pr, SHA)
    assert len(sha_labels) == 5

    standin.reset_counts()
    adapter.remove_labels(36121, on_pr)
    adapter.delete_label_definitions(sha_labels)
    assert standin.total("DELETE") == standin.total() == len(on_pr) + len(sha_labels)

    assert standin.labels(36121) == []
    remaining = standin.label_definitions()
    assert not set(sha_labels) & set(remaining)
    assert {TRIGGER_STOP, FREEZE, "🎪 ⌛ 1w"} <= set(remaining)  # static definitions stay

    # A deleted definition is no longer "known": the next add makes it, its colour follows.
    standin.reset_counts()
    adapter.add_labels(36121, [f"🎪 {SHA} 🚦 running"])
    adapter.ensure_label_definitions([f"🎪 {SHA} 🚦 running"])
    assert standin.count("PATCH", ROUTE_LABEL) == 1
    assert standin.label_definitions()[f"🎪 {SHA} 🚦 running"][0] == "28a745"
    adapter.close()


def test_removing_what_is_not_there_is_fine(standin: GitHubStandIn, adapter: GitHubAdapter) -> None:
    adapter.remove_label(36121, "🎪 ⌛ 24h")
    adapter.remove_labels(36121, ["size/M", BLOCKED])
    adapter.delete_label_definitions(["🎪 🎯 0000000"])
    assert standin.labels(36121) == []


def test_names_with_slashes_and_colons_are_removed(
    standin: GitHubStandIn, adapter: GitHubAdapter
) -> None:
    names = ["size/M", f"🎪 {SHA} 🌐 52.1.2.3:8080", f"🎪 {SHA} 🤡 a/b?c#d%e"]
    adapter.add_labels(36123, names)
    adapter.remove_labels(36123, names)
    assert standin.labels(36123) == []
    adapter.delete_label_definitions(names)
    assert not set(names) & set(standin.label_definitions())


def test_sha_label_definitions_lists_only_labels_with_a_sha(
    standin: GitHubStandIn, adapter: GitHubAdapter
) -> None:
    for i in range(180):
        standin.define_label(f"area:{i:03d}")
    adapter.add_labels(36121, [*CLI_LABELS, TRIGGER_START, f"🎪 🏗️ {SHA[:6]}1"])
    standin.reset_counts()
    found = adapter.sha_label_definitions()
    assert sorted(found) == sorted([*labels_of_sha(CLI_LABELS, SHA), f"🎪 🏗️ {SHA[:6]}1"])
    assert standin.counts() == {("GET", ROUTE_LABELS): 2}  # 190 definitions, 100 a page


def test_attached_labels_counts_closed_prs_and_asks_once_per_name(
    standin: GitHubStandIn, adapter: GitHubAdapter
) -> None:
    standin.add_pr(10, "closed", labels=[f"🎪 {SHA} 🚦 failed"], state="closed")
    standin.add_pr(11, "open", labels=[f"🎪 🎯 {SHA}"])
    standin.define_label(f"🎪 {SHA} 🌐 52.1.2.3:8080")  # defined, on no PR
    asked = [f"🎪 {SHA} 🚦 failed", f"🎪 🎯 {SHA}", f"🎪 {SHA} 🌐 52.1.2.3:8080"]
    standin.reset_counts()
    assert adapter.attached_labels(asked) == {f"🎪 {SHA} 🚦 failed", f"🎪 🎯 {SHA}"}
    assert standin.counts() == {("GET", ROUTE_ISSUES): 3}
    assert standin.count("GET", ROUTE_SEARCH_ISSUES) == 0  # search lags behind writes

    standin.reset_counts()
    odd = f"🎪 {SHA} 🤡 a,b"  # the filter cannot ask for it: kept as attached, unasked
    assert adapter.attached_labels([odd]) == {odd}
    assert standin.total() == 0


# ----- finding environments -----------------------------------------------------------


def test_find_labelled_prs_across_pages_open_and_closed(
    standin: GitHubStandIn, adapter: GitHubAdapter
) -> None:
    ttls = ["🎪 ⌛ 24h", "🎪 ⌛ 48h", "🎪 ⌛ 72h", "🎪 ⌛ 1w", "🎪 ⌛ close"]
    for number in range(1, 251):
        state = "closed" if number % 10 == 0 else "open"
        standin.add_pr(number, f"PR {number}", labels=[ttls[number % 5], "size/S"], state=state)
    standin.add_pr(900, "🎪 ⌛ 24h in the title, no labels")
    standin.add_pr(901, "other showtime labels only", labels=[FREEZE])

    standin.reset_counts()
    found = adapter.find_labelled_prs()
    assert standin.counts() == {("GET", ROUTE_SEARCH_ISSUES): 3}
    assert [pr.number for pr in found] == list(range(1, 251))
    assert {pr.state for pr in found} == {"open", "closed"}
    pr_30 = next(pr for pr in found if pr.number == 30)
    assert pr_30.state == "closed"
    assert pr_30.labels == ("🎪 ⌛ 24h", "size/S")
    assert pr_30.html_url == "https://github.com/apache/superset/pull/30"


def test_find_labelled_prs_with_none_is_one_request(
    standin: GitHubStandIn, adapter: GitHubAdapter
) -> None:
    assert adapter.find_labelled_prs() == []
    assert standin.total() == 1


# ----- comments and permissions ---------------------------------------------------------


def test_a_comment_is_one_post_and_never_repeated_after_a_5xx(
    standin: GitHubStandIn, adapter: GitHubAdapter
) -> None:
    """Whether to comment is the orchestrator's call (SHOWTIME_PR_COMMENTS); the adapter
    posts once — a 5xx may have created it, so it is not sent again."""
    adapter.comment(36121, "🎪 running at http://52.1.2.3:8080")
    assert standin.comments(36121) == ["🎪 running at http://52.1.2.3:8080"]
    assert standin.counts() == {("POST", ROUTE_ISSUE_COMMENTS): 1}
    standin.fail_next("POST", ROUTE_ISSUE_COMMENTS, 502)
    with pytest.raises(GitHubError):
        adapter.comment(36121, "again")
    assert standin.count("POST", ROUTE_ISSUE_COMMENTS) == 2


@pytest.mark.parametrize("role", ["admin", "maintain", "write", "triage", "read"])
def test_collaborator_permission(standin: GitHubStandIn, adapter: GitHubAdapter, role: str) -> None:
    standin.set_permission("maxime", role)
    assert adapter.collaborator_permission("maxime") == role
    assert adapter.collaborator_permission("stranger") == "none"


def test_collaborator_permission_of_a_missing_user(
    standin: GitHubStandIn, adapter: GitHubAdapter
) -> None:
    standin.fail_next("GET", "/repos/{owner}/{repo}/collaborators/{login}/permission", 404)
    assert adapter.collaborator_permission("ghost-user") == "none"


# ----- errors ------------------------------------------------------------------------


def test_bad_token_names_the_variable_and_hides_the_token(standin: GitHubStandIn) -> None:
    adapter = GitHubAdapter(_settings(standin, github_token="bad-token"), clock=FakeClock())
    with pytest.raises(GitHubAuthError) as caught:
        adapter.get_pr(36121)
    error = caught.value
    assert isinstance(error, ConfigurationError)
    assert "401" in error.message and "Bad credentials" in error.message
    assert "GITHUB_TOKEN" in error.next_action
    assert "bad-token" not in str(error)


def test_token_never_appears_in_errors(standin: GitHubStandIn, adapter: GitHubAdapter) -> None:
    standin.fail_next("GET", ROUTE_PULL, 401)
    with pytest.raises(GitHubAuthError) as caught:
        adapter.get_pr(36121)
    assert TOKEN not in str(caught.value)
    assert TOKEN not in repr(caught.value.__cause__)


def test_missing_write_permission_names_it(standin: GitHubStandIn) -> None:
    read_only = GitHubAdapter(_settings(standin, github_token="read-only-token"), clock=FakeClock())
    assert read_only.get_pr(36121).number == 36121
    with pytest.raises(GitHubAuthError) as caught:
        read_only.add_labels(36121, [f"🎪 🎯 {SHA}"])
    assert "403" in caught.value.message
    assert "`issues: write`" in caught.value.next_action
    assert "GITHUB_TOKEN" in caught.value.next_action
    assert standin.labels(36121) == []


def test_no_credentials_is_a_configuration_error(standin: GitHubStandIn) -> None:
    with pytest.raises(GitHubAuthError) as caught:
        GitHubAdapter(_settings(standin, github_token=None))
    assert "GITHUB_TOKEN" in caught.value.next_action
    assert "GITHUB_APP_" in caught.value.next_action


def test_server_errors_are_retried(standin: GitHubStandIn, clock: FakeClock) -> None:
    adapter = GitHubAdapter(_settings(standin), clock=clock)
    standin.fail_next("POST", ROUTE_ISSUE_LABELS, 502, times=2)
    assert adapter.add_labels(36121, [f"🎪 🎯 {SHA}"]) == (f"🎪 🎯 {SHA}",)
    assert standin.count("POST", ROUTE_ISSUE_LABELS) == 3


def test_persistent_server_errors_become_github_error(
    standin: GitHubStandIn, clock: FakeClock
) -> None:
    adapter = GitHubAdapter(_settings(standin), clock=clock)
    standin.fail_next("GET", ROUTE_PULL, 503, times=100)
    with pytest.raises(GitHubError) as caught:
        adapter.get_pr(36121)
    error = caught.value
    assert (error.service, error.code, error.operation) == ("GitHub", "503", "read PR")
    assert error.resource == "apache/superset#36121"
    assert "503" in error.message and "Server Error" in error.message
    assert "githubstatus" in error.next_action
    assert standin.count("GET", ROUTE_PULL) == 5  # the first try and 4 retries
    assert sum(clock.slept) > 0  # backed off, through the injected clock


def test_secondary_rate_limit_waits_as_told_then_succeeds(
    standin: GitHubStandIn, clock: FakeClock
) -> None:
    adapter = GitHubAdapter(_settings(standin), clock=clock)
    standin.fail_next("POST", ROUTE_ISSUE_LABELS, 403, headers={"Retry-After": "30"})
    assert adapter.add_labels(36121, [f"🎪 🎯 {SHA}"]) == (f"🎪 🎯 {SHA}",)
    assert clock.slept == [30]


def test_secondary_rate_limit_without_retry_after_waits_a_minute(
    standin: GitHubStandIn, clock: FakeClock
) -> None:
    adapter = GitHubAdapter(_settings(standin), clock=clock)
    standin.fail_next("GET", ROUTE_SEARCH_ISSUES, 403)
    assert adapter.find_labelled_prs() == []
    assert clock.slept == [60]


def test_rate_limit_that_persists_is_reported_as_such(
    standin: GitHubStandIn, clock: FakeClock
) -> None:
    adapter = GitHubAdapter(_settings(standin), clock=clock)
    standin.fail_next("GET", ROUTE_PULL, 403, headers={"Retry-After": "1"}, times=100)
    with pytest.raises(GitHubError) as caught:
        adapter.get_pr(36121)
    assert not isinstance(caught.value, GitHubAuthError)
    assert caught.value.code == "403"
    assert "rate limit" in caught.value.message


def test_primary_rate_limit_far_from_reset_fails_fast(
    standin: GitHubStandIn, clock: FakeClock
) -> None:
    adapter = GitHubAdapter(_settings(standin), clock=clock)
    reset = int(time.time()) + 3600  # GithubRetry compares with the real time
    standin.fail_next(
        "GET",
        ROUTE_PULL,
        403,
        {"message": "API rate limit exceeded for user ID 1."},
        headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)},
    )
    with pytest.raises(GitHubError) as caught:
        adapter.get_pr(36121)
    assert caught.value.code == "403"
    assert "rate limit" in caught.value.message
    assert clock.slept == []  # not an hour's wait inside a job
    assert standin.count("GET", ROUTE_PULL) == 1


def test_other_failures_carry_githubs_message(
    standin: GitHubStandIn, adapter: GitHubAdapter
) -> None:
    standin.fail_next(
        "POST",
        ROUTE_ISSUE_LABELS,
        422,
        {"message": "Validation Failed", "errors": [{"code": "custom", "message": "too many"}]},
    )
    with pytest.raises(GitHubError) as caught:
        adapter.add_labels(36121, [f"🎪 🎯 {SHA}"])
    assert caught.value.code == "422"
    assert caught.value.operation == "add labels"
    assert "Validation Failed; too many" in caught.value.message


def test_unreachable_github_is_said_without_the_host(
    standin: GitHubStandIn, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _settings(standin)
    standin.stop()
    with pytest.raises(GitHubError) as caught:
        GitHubAdapter(settings, clock=clock).get_pr(36121)
    assert "could not reach GitHub" in caught.value.message
    assert settings.github_api_url not in caught.value.message  # people see no host names
    assert settings.github_api_url in caplog.text  # the log has it
    assert "GITHUB_API_URL" in caught.value.next_action


def test_a_retry_that_runs_out_reports_the_last_answer(
    standin: GitHubStandIn, clock: FakeClock
) -> None:
    adapter = GitHubAdapter(_settings(standin), retry=RetryPolicy(attempts=2), clock=clock)
    standin.fail_next("GET", ROUTE_PULL, 500, times=5)
    with pytest.raises(GitHubError) as caught:
        adapter.get_pr(36121)
    assert caught.value.code == "500"
    assert standin.count("GET", ROUTE_PULL) == 2


def test_no_retry_fails_at_once(standin: GitHubStandIn) -> None:
    adapter = GitHubAdapter(_settings(standin), retry=NO_RETRIES)
    standin.fail_next("GET", ROUTE_PULL, 500)
    with pytest.raises(GitHubError):
        adapter.get_pr(36121)
    assert standin.count("GET", ROUTE_PULL) == 1


# ----- GitHub App -------------------------------------------------------------------------


def test_github_app_installation_auth(standin: GitHubStandIn, clock: FakeClock) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    settings = _settings(
        standin,
        github_token=None,
        github_app_id="12345",
        github_app_private_key=pem.replace("\n", "\\n"),  # as pasted into a one-line variable
        github_app_installation_id=678,
    )
    adapter = GitHubAdapter(settings, clock=clock)
    assert adapter.get_pr(36121).number == 36121
    adapter.add_labels(36121, [f"🎪 🎯 {SHA}"])
    assert standin.count("POST", ROUTE_ACCESS_TOKENS) == 1  # one installation token, reused
    assert standin.labels(36121) == [f"🎪 🎯 {SHA}"]

    standin.fail_next("GET", ROUTE_PULL, 401)
    with pytest.raises(GitHubAuthError) as caught:
        adapter.get_pr(36121)
    assert "GITHUB_APP_ID" in caught.value.next_action


def test_replace_labels_is_one_read_and_one_write_and_keeps_other_labels(
    standin: GitHubStandIn, adapter: GitHubAdapter
) -> None:
    adapter.add_labels(36121, ["🎪 abc123f 🚦 deploying", "🎪 🏗️ abc123f", "size/M", "bug"])
    standin.reset_counts()
    after = adapter.replace_labels(
        36121,
        add=["🎪 abc123f 🚦 running", "🎪 🎯 abc123f"],
        remove=["🎪 abc123f 🚦 deploying", "🎪 🏗️ abc123f", "🎪 not there"],
    )
    assert sorted(after) == sorted(["size/M", "bug", "🎪 abc123f 🚦 running", "🎪 🎯 abc123f"])
    assert sorted(standin.labels(36121)) == sorted(after)
    writes = [key for key in standin.counts() if key[0] != "GET"]
    assert standin.total(method="GET") == 1
    assert sum(standin.count(*key) for key in writes) == 1  # one PUT (colours follow later)


# ----- one caller never stalls another (SPEC §12) -------------------------------------------


class HeldClock(FakeClock):
    """A clock whose sleeps wait until the test lets them go: a long wait, made visible."""

    def __init__(self) -> None:
        super().__init__()
        self.sleeping = threading.Event()
        self.release = threading.Event()

    def sleep(self, seconds: float) -> None:
        self.sleeping.set()
        assert self.release.wait(30), "never released"
        super().sleep(seconds)


def test_a_rate_limit_wait_does_not_stall_other_callers(standin: GitHubStandIn) -> None:
    clock = HeldClock()
    adapter = GitHubAdapter(_settings(standin), clock=clock)
    standin.fail_next("POST", ROUTE_ISSUE_LABELS, 403, headers={"Retry-After": "60"})
    waiting = threading.Thread(target=adapter.add_labels, args=(36121, [f"🎪 🎯 {SHA}"]))
    waiting.start()
    assert clock.sleeping.wait(10)  # the first caller now waits out a secondary rate limit

    others: list[object] = []
    other = threading.Thread(target=lambda: others.append(adapter.get_pr(36122).number))
    other.start()
    other.join(5)
    finished_meanwhile = not other.is_alive()
    clock.release.set()
    waiting.join(10)
    other.join(10)
    assert finished_meanwhile, "another job's GitHub call waited for someone else's rate limit"
    assert others == [36122]
    assert f"🎪 🎯 {SHA}" in standin.labels(36121)
    assert clock.slept == [60]


class WatchedClock(SystemClock):
    """The system clock, saying when a wait of ten seconds or more began."""

    def __init__(self) -> None:
        self.long_wait = threading.Event()

    def wait(self, event: threading.Event, seconds: float) -> bool:
        if seconds >= 10:
            self.long_wait.set()
        return super().wait(event, seconds)


def test_sigterm_cuts_a_github_rate_limit_wait_short(
    standin: GitHubStandIn, tmp_path: Path
) -> None:
    """The bot's GitHub adapter waits on the job clock, which shutdown interrupts."""
    from bot.orchestrator.context import Ports
    from bot.orchestrator.runner import Interrupted
    from bot.wiring import build_bot

    settings = _settings(
        standin,
        slack_bot_token="xoxb-test",
        slack_signing_secret="s",
        showtime_db_url=f"sqlite:///{tmp_path / 'jobs.db'}",
    )

    def github_only(settings: Settings, clock: Clock, metrics: object) -> Ports:
        never: Any = object()  # this test reaches GitHub only
        return Ports(
            github=GitHubAdapter(settings, clock=clock), ecs=never, health=never, logs=never
        )

    clock = WatchedClock()
    bot = build_bot(settings, clock=clock, verify_token=False, make_ports=github_only)
    standin.fail_next("GET", ROUTE_PULL, 403, headers={"Retry-After": "60"}, times=10)
    outcome: list[BaseException] = []

    def read() -> None:
        try:
            bot.ports.github.get_pr(36121)
        except BaseException as exc:
            outcome.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert clock.long_wait.wait(10), "the read never began waiting out the rate limit"
    bot.stopping.set()
    reader.join(3)
    assert not reader.is_alive(), "a 60 s wait went on after SIGTERM"
    assert outcome and isinstance(outcome[0], Interrupted)
    bot.store.close()
