"""The GitHub stand-in speaks GitHub's REST dialect well enough for PyGithub, unchanged.

Most tests drive it through PyGithub itself; wire details PyGithub hides (error
bodies, Link headers, percent-encoding) are checked with plain HTTP requests.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import quote

import pytest
import requests
from github import Auth, Github, GithubException, GithubRetry
from github.GithubException import BadCredentialsException, UnknownObjectException
from github.Repository import Repository
from support import CLI_LABELS

from bot.sandbox.github import (
    AUTO_LABEL_COLOUR,
    ROUTE_ISSUE_LABEL,
    ROUTE_ISSUE_LABELS,
    ROUTE_LABELS,
    ROUTE_PULL,
    ROUTE_SEARCH_ISSUES,
    SEEDED_CLOSED_PR,
    SEEDED_OPEN_PRS,
    GitHubStandIn,
    seed_sandbox,
)

HEX40 = re.compile(r"[0-9a-f]{40}")


@pytest.fixture
def standin() -> Iterator[GitHubStandIn]:
    with GitHubStandIn() as server:
        seed_sandbox(server)
        yield server


def _github(standin: GitHubStandIn, token: str = "test-token", retry: object = None) -> Github:
    return Github(
        base_url=standin.base_url,
        auth=Auth.Token(token),
        per_page=100,
        seconds_between_requests=0,
        seconds_between_writes=0,
        retry=retry,  # type: ignore[arg-type]
        lazy=True,
    )


@pytest.fixture
def repo(standin: GitHubStandIn) -> Repository:
    return _github(standin).get_repo("apache/superset")


def _api(standin: GitHubStandIn, path: str) -> str:
    return f"{standin.base_url}/repos/apache/superset{path}"


AUTH = {"Authorization": "token test-token"}


def test_seeded_prs_read_like_github_prs(repo: Repository) -> None:
    heads = set()
    for number in SEEDED_OPEN_PRS:
        pull = repo.get_pull(number)
        assert pull.state == "open"
        assert not pull.merged
        assert HEX40.fullmatch(pull.head.sha)
        assert pull.title and pull.user.login
        assert pull.html_url == f"https://github.com/apache/superset/pull/{number}"
        heads.add(pull.head.sha)
    assert len(heads) == len(SEEDED_OPEN_PRS)
    assert "FEATURE_ALERT_REPORTS=true" in repo.get_pull(36121).body.splitlines()
    closed = repo.get_pull(SEEDED_CLOSED_PR)
    assert closed.state == "closed"
    assert closed.merged


def test_spec_labels_round_trip_through_pygithub(standin: GitHubStandIn, repo: Repository) -> None:
    issue = repo.get_issue(36121)
    issue.add_to_labels(*CLI_LABELS)
    assert [label.name for label in repo.get_pull(36121).labels] == CLI_LABELS
    assert standin.labels(36121) == CLI_LABELS

    for name in CLI_LABELS:
        issue.remove_from_labels(name)  # PyGithub percent-encodes the emoji in the URL
    assert standin.labels(36121) == []
    assert standin.count("DELETE", ROUTE_ISSUE_LABEL) == len(CLI_LABELS)


def test_adding_a_label_creates_its_definition_like_github(
    standin: GitHubStandIn,
) -> None:
    answer = requests.post(
        _api(standin, "/issues/36122/labels"), json={"labels": ["🎪 ⌛ 48h"]}, headers=AUTH
    )
    assert answer.status_code == 200
    [label] = answer.json()
    assert set(label) == {"id", "node_id", "url", "name", "color", "default", "description"}
    assert label["name"] == "🎪 ⌛ 48h"
    assert label["color"] == AUTO_LABEL_COLOUR
    assert label["url"].endswith("/labels/" + quote("🎪 ⌛ 48h", safe=""))
    assert standin.label_definitions() == {"🎪 ⌛ 48h": (AUTO_LABEL_COLOUR, "")}


def test_creating_an_existing_label_is_githubs_422_already_exists(
    standin: GitHubStandIn, repo: Repository
) -> None:
    repo.create_label("🎪 🧊 showtime-freeze", "FFE4B5", "Freeze PR")
    answer = requests.post(
        _api(standin, "/labels"), json={"name": "🎪 🧊 SHOWTIME-freeze"}, headers=AUTH
    )
    assert answer.status_code == 422
    assert answer.json()["message"] == "Validation Failed"
    assert answer.json()["errors"] == [
        {"resource": "Label", "code": "already_exists", "field": "name"}
    ]
    with pytest.raises(GithubException) as caught:
        repo.create_label("🎪 🧊 showtime-freeze", "000000")
    assert caught.value.status == 422
    assert standin.label_definitions()["🎪 🧊 showtime-freeze"] == ("ffe4b5", "Freeze PR")


def test_label_names_over_50_characters_are_refused(standin: GitHubStandIn) -> None:
    long_name = "🎪 abc123f 🤡 " + "x" * 40
    assert len(long_name) > 50
    create = requests.post(_api(standin, "/labels"), json={"name": long_name}, headers=AUTH)
    assert create.status_code == 422
    assert create.json()["errors"][0]["message"] == "name is too long (maximum is 50 characters)"

    add = requests.post(
        _api(standin, "/issues/36121/labels"), json=["🎪 ⌛ 24h", long_name], headers=AUTH
    )
    assert add.status_code == 422
    assert add.json()["errors"][0] == {
        "value": long_name,
        "resource": "Label",
        "field": "name",
        "code": "invalid",
    }
    assert standin.labels(36121) == []  # nothing of a refused request was applied
    assert standin.label_definitions() == {}


def test_missing_things_are_404_with_githubs_body(standin: GitHubStandIn) -> None:
    for path in ("/pulls/99999", "/issues/99999/labels", "/labels/nope"):
        answer = requests.get(_api(standin, path), headers=AUTH)
        assert answer.status_code == 404
        assert answer.json()["message"] == "Not Found"
        assert answer.json()["documentation_url"].startswith("https://docs.github.com/")
    other_repo = requests.get(f"{standin.base_url}/repos/apache/airflow/pulls/36121")
    assert other_repo.status_code == 404

    removal = requests.delete(_api(standin, "/issues/36121/labels/absent"), headers=AUTH)
    assert removal.status_code == 404
    assert removal.json()["message"] == "Label does not exist"


def test_label_names_are_one_percent_encoded_path_segment(standin: GitHubStandIn) -> None:
    standin.add_pr(1, "slashes", labels=["size/M", "🎪 abc123f 🌐 52.1.2.3:8080"])
    raw_slash = requests.delete(_api(standin, "/issues/1/labels/size/M"), headers=AUTH)
    assert raw_slash.status_code == 404  # "/" splits the path, as on GitHub
    for name in ("size/M", "🎪 abc123f 🌐 52.1.2.3:8080"):
        answer = requests.delete(
            _api(standin, f"/issues/1/labels/{quote(name, safe='')}"), headers=AUTH
        )
        assert answer.status_code == 200
    assert standin.labels(1) == []


def test_lists_paginate_with_link_headers(standin: GitHubStandIn, repo: Repository) -> None:
    for i in range(250):
        standin.define_label(f"area:{i:03d}")
    standin.reset_counts()
    names = [label.name for label in repo.get_labels()]
    assert names == [f"area:{i:03d}" for i in range(250)]
    assert standin.count("GET", ROUTE_LABELS) == 3

    first = requests.get(_api(standin, "/labels?per_page=100"), headers=AUTH)
    links = dict(
        (rel, url) for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', first.headers["Link"])
    )
    assert set(links) == {"next", "last"}
    assert "page=2" in links["next"] and "page=3" in links["last"]
    last = requests.get(links["last"], headers=AUTH)
    assert len(last.json()) == 50
    assert 'rel="next"' not in last.headers["Link"]


def test_search_qualifiers_behave_like_githubs(standin: GitHubStandIn) -> None:
    standin.add_pr(101, "TTL 24h, open", labels=["🎪 ⌛ 24h", "🎪 🧊 showtime-freeze"])
    standin.add_pr(102, "TTL 1w, closed", labels=["🎪 ⌛ 1w"], state="closed")
    standin.add_pr(103, "mentions 🎪 ⌛ 24h in the title only")
    standin.add_pr(104, "other label", body="the word needle is here", labels=["size/M"])
    gh = _github(standin)

    def numbers(query: str) -> list[int]:
        return sorted(issue.number for issue in gh.search_issues(query))

    ttl_any = 'label:"🎪 ⌛ 24h","🎪 ⌛ 1w"'
    assert numbers(f"repo:apache/superset is:pr {ttl_any}") == [101, 102]
    assert numbers(f"repo:apache/superset is:pr is:open {ttl_any}") == [101]
    assert numbers(f"repo:apache/superset is:pr is:closed {ttl_any}") == [102]
    assert numbers(f'{ttl_any} label:"🎪 🧊 showtime-freeze"') == [101]  # repeated: AND
    assert numbers(f'{ttl_any} -label:"🎪 🧊 showtime-freeze"') == [102]
    assert numbers('"🎪 ⌛ 24h"') == [103]  # free text: titles and bodies, never label names
    assert numbers("needle") == [104]
    assert numbers(f"repo:apache/airflow {ttl_any}") == []
    assert numbers("is:issue needle") == []


def test_search_pages_carry_labels_inline(standin: GitHubStandIn) -> None:
    for number in range(1, 251):
        standin.add_pr(number, f"PR {number}", labels=["🎪 ⌛ 48h"])
    standin.reset_counts()
    results = list(_github(standin).search_issues('is:pr label:"🎪 ⌛ 48h"'))
    assert len(results) == 250
    assert all([label.name for label in r.labels] == ["🎪 ⌛ 48h"] for r in results)
    assert standin.counts() == {("GET", ROUTE_SEARCH_ISSUES): 3}  # no request per PR


def test_issue_list_filters_by_state_and_all_labels(standin: GitHubStandIn) -> None:
    standin.add_pr(1, "a", labels=["x", "y"])
    standin.add_pr(2, "b", labels=["x"], state="closed")
    repo = _github(standin).get_repo("apache/superset")

    def numbers(**kwargs: object) -> list[int]:
        return [issue.number for issue in repo.get_issues(**kwargs)]  # type: ignore[arg-type]

    assert numbers(labels=["x"]) == [1]  # open by default
    assert numbers(labels=["x"], state="all") == [2, 1]
    assert numbers(labels=["x", "y"], state="all") == [1]  # every label required
    assert numbers(labels=["z"], state="all") == []
    assert SEEDED_CLOSED_PR not in numbers()


def test_credentials(standin: GitHubStandIn) -> None:
    with pytest.raises(BadCredentialsException):
        _github(standin, token="bad-token").get_repo("apache/superset").get_pull(36121).complete()
    anonymous_read = requests.get(_api(standin, "/pulls/36121"))
    assert anonymous_read.status_code == 200
    anonymous_write = requests.post(_api(standin, "/issues/36121/labels"), json=["x"])
    assert anonymous_write.status_code == 401
    read_only = {"Authorization": "Bearer read-only-token"}
    assert requests.get(_api(standin, "/pulls/36121"), headers=read_only).status_code == 200
    refused = requests.post(_api(standin, "/issues/36121/labels"), json=["x"], headers=read_only)
    assert refused.status_code == 403
    assert refused.json()["message"].startswith("Resource not accessible")
    assert standin.labels(36121) == []


def test_injected_faults_then_recovery(standin: GitHubStandIn) -> None:
    standin.fail_next("GET", ROUTE_PULL, 502)
    flaky = _github(standin, retry=GithubRetry(total=2, backoff_factor=0))
    assert flaky.get_repo("apache/superset").get_pull(36121).title
    assert standin.count("GET", ROUTE_PULL) == 2

    standin.fail_next("POST", ROUTE_ISSUE_LABELS, 403, headers={"Retry-After": "7"}, times=2)
    for _ in range(2):
        limited = requests.post(_api(standin, "/issues/36121/labels"), json=["x"], headers=AUTH)
        assert limited.status_code == 403
        assert limited.headers["Retry-After"] == "7"
        assert "secondary rate limit" in limited.json()["message"]
    ok = requests.post(_api(standin, "/issues/36121/labels"), json=["x"], headers=AUTH)
    assert ok.status_code == 200

    standin.fail_next("GET", "*", 401)
    assert requests.get(_api(standin, "/labels"), headers=AUTH).status_code == 401
    assert requests.get(_api(standin, "/labels"), headers=AUTH).status_code == 200


def test_counts_per_route_template(standin: GitHubStandIn, repo: Repository) -> None:
    repo.get_issue(36121).add_to_labels("🎪 ⌛ 24h")
    repo.get_issue(36122).add_to_labels("🎪 ⌛ 48h")
    assert repo.get_pull(36123).title
    assert standin.counts() == {("POST", ROUTE_ISSUE_LABELS): 2, ("GET", ROUTE_PULL): 1}
    assert standin.total() == 3
    assert standin.total("POST") == 2
    standin.reset_counts()
    assert standin.total() == 0


def test_collaborator_permission(standin: GitHubStandIn, repo: Repository) -> None:
    standin.set_permission("maxime", "maintain")
    assert repo.get_collaborator_permission("maxime") == "write"  # GitHub's legacy field
    assert repo.get_collaborator_role_name("maxime") == "maintain"
    assert repo.get_collaborator_permission("stranger") == "none"


def test_deleting_a_definition_removes_it_from_every_pr(
    standin: GitHubStandIn, repo: Repository
) -> None:
    for number in (36121, 36122):
        repo.get_issue(number).add_to_labels("🎪 🎯 abc123f", "🎪 ⌛ 24h")
    repo.get_label("🎪 🎯 abc123f").delete()
    assert standin.labels(36121) == standin.labels(36122) == ["🎪 ⌛ 24h"]
    assert "🎪 🎯 abc123f" not in standin.label_definitions()
    with pytest.raises(UnknownObjectException):
        repo.get_label("🎪 🎯 abc123f").delete()


def test_labels_can_be_edited_and_replaced(standin: GitHubStandIn, repo: Repository) -> None:
    repo.get_issue(36121).add_to_labels("old name")
    repo.get_label("old name").edit("new name", "123abc", "described")
    assert standin.labels(36121) == ["new name"]
    assert standin.label_definitions() == {"new name": ("123abc", "described")}
    repo.get_issue(36121).set_labels("🎪 ⌛ 72h", "🎪 🔒 showtime-blocked")
    assert standin.labels(36121) == ["🎪 ⌛ 72h", "🎪 🔒 showtime-blocked"]


def test_comments(standin: GitHubStandIn, repo: Repository) -> None:
    comment = repo.get_issue(36122).create_comment("🎪 running at http://52.1.2.3:8080")
    assert comment.user.login == "showtime-bot"
    assert [c.body for c in repo.get_issue(36122).get_comments()] == [
        "🎪 running at http://52.1.2.3:8080"
    ]
    assert standin.comments(36122) == ["🎪 running at http://52.1.2.3:8080"]


def test_pushes_and_closing_show_up_in_the_api(standin: GitHubStandIn, repo: Repository) -> None:
    old_head = standin.head_sha(36121)
    new_head = standin.push_commit(36121)
    assert new_head != old_head
    assert standin.push_commit(36121, "f" * 40) == "f" * 40
    pull = repo.get_pull(36121)
    assert pull.head.sha == "f" * 40
    assert [c.sha for c in pull.get_commits()] == standin.commits(36121)
    assert standin.commits(36121)[-3:] == [old_head, new_head, "f" * 40]
    standin.close_pr(36122)
    closed = repo.get_pull(36122)
    assert (closed.state, closed.merged) == ("closed", False)


def test_serves_on_loopback_and_stops(standin: GitHubStandIn) -> None:
    assert standin.base_url.startswith("http://127.0.0.1:")
    url = standin.base_url
    standin.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/repos/apache/superset", timeout=2)
