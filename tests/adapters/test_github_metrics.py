"""What the GitHub adapter tells the operators' metrics (SPEC §16): every request it sends,
by method, route template and outcome — the same requests the GitHub stand-in counts — and
the rate limit GitHub's answers announce. No PR number, label or login in a route."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from support import counted

from bot.adapters.github import NO_RETRIES, GitHubAdapter, GitHubAuthError, GitHubError
from bot.adapters.github.calls import route_template
from bot.clock import FakeClock
from bot.config import Settings
from bot.metrics import Metrics
from bot.sandbox.github import ROUTE_PULL, GitHubStandIn, seed_sandbox

PR = 36121


@pytest.fixture
def standin() -> Iterator[GitHubStandIn]:
    with GitHubStandIn() as server:
        seed_sandbox(server)
        server.set_permission("some-committer", "write")
        yield server


def settings(api_url: str) -> Settings:
    return Settings(
        _env_file=None,
        github_token="ghp_test_token_value",
        github_api_url=api_url,
        github_repository="apache/superset",
        github_seconds_between_writes=0,
        github_app_id=None,
        github_app_private_key=None,
        github_app_installation_id=None,
    )


def requests_seen(metrics: Metrics) -> dict[tuple[str, ...], float]:
    return counted(metrics, "showtime_github_requests", ("method", "route", "outcome"))


def rate_limit(metrics: Metrics, resource: str) -> tuple[float | None, float | None]:
    labels = {"resource": resource}
    return (
        metrics.registry.get_sample_value("showtime_github_rate_limit_remaining", labels),
        metrics.registry.get_sample_value("showtime_github_rate_limit", labels),
    )


def test_every_request_is_told_by_its_route_as_the_standin_counts_it(
    standin: GitHubStandIn,
) -> None:
    metrics = Metrics()
    adapter = GitHubAdapter(settings(standin.base_url), clock=FakeClock(), recorder=metrics)
    standin.reset_counts()

    adapter.get_pr(PR)
    adapter.pr_commit_shas(PR)
    adapter.ensure_label_definitions(["🎪 ⌛ 48h"])  # not there yet: GitHub's 404, then made
    adapter.add_labels(PR, ["🎪 ⌛ 48h"])
    adapter.remove_label(PR, "🎪 ⌛ 48h")
    adapter.find_labelled_prs()  # the search, through PyGithub's Github object
    adapter.own_login()  # GET /user, the same way
    adapter.collaborator_permission("some-committer")
    adapter.comment(PR, "hello")
    adapter.sha_label_definitions()

    seen = requests_seen(metrics)
    by_route: dict[tuple[str, str], float] = {}
    for (method, route, _), n in seen.items():
        by_route[method, route] = by_route.get((method, route), 0.0) + n
    assert by_route == {key: float(n) for key, n in standin.counts().items()}
    # The label definition looked for was not there yet: GitHub's 404.
    assert [key for key in seen if key[2] != "ok"] == [
        ("GET", "/repos/{owner}/{repo}/labels/{name}", "404")
    ]
    assert ("GET", "/search/issues", "ok") in seen
    assert ("GET", "/user", "ok") in seen
    assert ("DELETE", "/repos/{owner}/{repo}/issues/{number}/labels/{name}", "ok") in seen
    assert ("GET", "/repos/{owner}/{repo}/collaborators/{login}/permission", "ok") in seen
    assert not [route for (_, route, _) in seen if str(PR) in route or "committer" in route]


def test_refusals_are_told_by_status_and_the_rate_limit_by_pool(standin: GitHubStandIn) -> None:
    metrics = Metrics()
    adapter = GitHubAdapter(
        settings(standin.base_url), retry=NO_RETRIES, clock=FakeClock(), recorder=metrics
    )
    assert rate_limit(metrics, "core") == (None, None)  # unknown until GitHub says
    exhausted = {
        "X-RateLimit-Limit": "5000",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": "4102444800",
        "X-RateLimit-Resource": "core",
    }
    standin.fail_next(
        "GET", ROUTE_PULL, 403, {"message": "API rate limit exceeded"}, headers=exhausted
    )
    with pytest.raises((GitHubError, GitHubAuthError)):
        adapter.get_pr(PR)
    assert rate_limit(metrics, "core") == (0.0, 5000.0)

    standin.fail_next(
        "GET",
        "/search/issues",
        503,
        headers={
            "X-RateLimit-Limit": "30",
            "X-RateLimit-Remaining": "29",
            "X-RateLimit-Resource": "search",
        },
    )
    with pytest.raises(GitHubError):
        adapter.find_labelled_prs()
    assert rate_limit(metrics, "search") == (29.0, 30.0)
    assert rate_limit(metrics, "core") == (0.0, 5000.0)  # a pool of its own

    assert requests_seen(metrics) == {
        ("GET", "/repos/{owner}/{repo}/pulls/{number}", "403"): 1.0,
        ("GET", "/search/issues", "5xx"): 1.0,
    }


def test_a_github_that_cannot_be_reached_is_told_as_unreachable() -> None:
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    metrics = Metrics()
    adapter = GitHubAdapter(
        settings(f"http://127.0.0.1:{port}"), retry=NO_RETRIES, clock=FakeClock(), recorder=metrics
    )
    with pytest.raises(GitHubError):
        adapter.get_pr(PR)
    assert requests_seen(metrics) == {
        ("GET", "/repos/{owner}/{repo}/pulls/{number}", "unreachable"): 1.0
    }


@pytest.mark.parametrize(
    ("url", "route"),
    [
        ("/repos/apache/superset/pulls/36121", "/repos/{owner}/{repo}/pulls/{number}"),
        (
            "http://127.0.0.1:9/repos/apache/superset/pulls/36121/commits?per_page=100&page=2",
            "/repos/{owner}/{repo}/pulls/{number}/commits",
        ),
        (
            "/repos/apache/superset/issues/36121/labels/%F0%9F%8E%AA%20abc1234%20%F0%9F%A4%A1%20maxime",
            "/repos/{owner}/{repo}/issues/{number}/labels/{name}",
        ),
        (
            "https://ghe.example.com/api/v3/repos/apache/superset/deployments/77/statuses",
            "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses",
        ),
        ("/search/issues?q=repo%3Aapache%2Fsuperset", "/search/issues"),
        ("/user", "/user"),
        ("/repos/apache/superset/some-new-thing/36121", "/repos/{owner}/{repo}/{value}/{value}"),
    ],
)
def test_route_templates_show_no_values(url: str, route: str) -> None:
    prefix = "/api/v3" if "/api/v3/" in url else ""
    assert route_template(url, prefix) == route


def test_recorders_are_optional(standin: GitHubStandIn) -> None:
    adapter: Any = GitHubAdapter(settings(standin.base_url), clock=FakeClock())
    assert adapter.get_pr(PR).number == PR
