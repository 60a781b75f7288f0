"""GitHub's JSON shapes for what the stand-in keeps, as PyGithub reads them.

``api`` is the base URL the client used (``http://127.0.0.1:<port>``), so every ``url``
in an answer leads back to the stand-in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from bot.sandbox.github.model import Comment, Deployment, Label, Pull, fake_sha

# What the token's role lets it do, as ``permissions`` on a repository says it.
_ROLE_PERMISSIONS = {
    "admin": ("admin", "maintain", "push", "triage", "pull"),
    "maintain": ("maintain", "push", "triage", "pull"),
    "write": ("push", "triage", "pull"),
    "triage": ("triage", "pull"),
    "read": ("pull",),
    "none": (),
}


@dataclass(frozen=True)
class Repo:
    owner: str
    name: str

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def url(self, api: str) -> str:
        return f"{api}/repos/{self.owner}/{self.name}"

    def html(self, number: int) -> str:
        return f"https://github.com/{self.full_name}/pull/{number}"


def user_json(api: str, login: str) -> dict[str, Any]:
    user_id = int(fake_sha("user", login)[:8], 16)
    return {
        "login": login,
        "id": user_id,
        "node_id": f"U_{user_id}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{user_id}",
        "url": f"{api}/users/{login}",
        "html_url": f"https://github.com/{login}",
        "type": "Bot" if login.endswith("[bot]") else "User",
        "site_admin": False,
    }


def repo_json(api: str, repo: Repo) -> dict[str, Any]:
    return {
        "id": 39464018,
        "node_id": "MDEwOlJlcG9zaXRvcnkzOTQ2NDAxOA==",
        "name": repo.name,
        "full_name": repo.full_name,
        "owner": {**user_json(api, repo.owner), "type": "Organization"},
        "private": False,
        "html_url": f"https://github.com/{repo.full_name}",
        "description": "Apache Superset is a Data Visualization and Data Exploration Platform",
        "fork": False,
        "url": repo.url(api),
        "default_branch": "master",
        "visibility": "public",
    }


def role_permissions(role: str) -> dict[str, bool]:
    """``permissions`` of a repository for a user with ``role`` (admin … none)."""
    granted = _ROLE_PERMISSIONS[role]
    return {name: name in granted for name in ("admin", "maintain", "push", "triage", "pull")}


def label_json(api: str, repo: Repo, label: Label) -> dict[str, Any]:
    return {
        "id": label.id,
        "node_id": f"LA_kwDOAlosUs8{label.id:08d}",
        "url": f"{repo.url(api)}/labels/{quote(label.name, safe='')}",
        "name": label.name,
        "color": label.color,
        "default": False,
        "description": label.description or None,
    }


def issue_json(api: str, repo: Repo, pull: Pull) -> dict[str, Any]:
    repo_url = repo.url(api)
    url = f"{repo_url}/issues/{pull.number}"
    html = repo.html(pull.number)
    return {
        "url": url,
        "repository_url": repo_url,
        "labels_url": f"{url}/labels{{/name}}",
        "comments_url": f"{url}/comments",
        "events_url": f"{url}/events",
        "html_url": html,
        "id": pull.number * 1000 + 7,
        "node_id": f"PR_kwDOAlosUs{pull.number}",
        "number": pull.number,
        "title": pull.title,
        "user": user_json(api, pull.author),
        "labels": [label_json(api, repo, label) for label in pull.labels],
        "state": pull.state,
        "state_reason": None,
        "locked": False,
        "assignee": None,
        "assignees": [],
        "milestone": None,
        "comments": len(pull.comments),
        "created_at": pull.created_at,
        "updated_at": pull.updated_at,
        "closed_at": pull.closed_at,
        "author_association": "CONTRIBUTOR",
        "draft": False,
        "body": pull.body,
        "pull_request": {
            "url": f"{repo_url}/pulls/{pull.number}",
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "merged_at": pull.closed_at if pull.merged else None,
        },
    }


def pull_json(api: str, repo: Repo, pull: Pull) -> dict[str, Any]:
    repo_url = repo.url(api)
    url = f"{repo_url}/pulls/{pull.number}"
    html = repo.html(pull.number)
    author = user_json(api, pull.author)
    repository = repo_json(api, repo)
    return {
        "url": url,
        "id": pull.number * 1000 + 7,
        "node_id": f"PR_kwDOAlosUs{pull.number}",
        "html_url": html,
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "issue_url": f"{repo_url}/issues/{pull.number}",
        "commits_url": f"{url}/commits",
        "review_comments_url": f"{url}/comments",
        "comments_url": f"{repo_url}/issues/{pull.number}/comments",
        "statuses_url": f"{repo_url}/statuses/{pull.head_sha}",
        "number": pull.number,
        "state": pull.state,
        "locked": False,
        "title": pull.title,
        "user": author,
        "body": pull.body,
        "labels": [label_json(api, repo, label) for label in pull.labels],
        "milestone": None,
        "created_at": pull.created_at,
        "updated_at": pull.updated_at,
        "closed_at": pull.closed_at,
        "merged_at": pull.closed_at if pull.merged else None,
        "merge_commit_sha": fake_sha(repo.full_name, pull.number, "merge"),
        "assignee": None,
        "assignees": [],
        "requested_reviewers": [],
        "draft": False,
        "head": {
            "label": f"{pull.author}:pr-{pull.number}",
            "ref": f"pr-{pull.number}",
            "sha": pull.head_sha,
            "user": author,
            "repo": repository,
        },
        "base": {
            "label": f"{repo.owner}:master",
            "ref": "master",
            "sha": fake_sha(repo.full_name, "master"),
            "user": repository["owner"],
            "repo": repository,
        },
        "author_association": "CONTRIBUTOR",
        "merged": pull.merged,
        "mergeable": None if pull.state == "closed" else True,
        "mergeable_state": "unknown" if pull.state == "closed" else "clean",
        "merged_by": None,
        "comments": len(pull.comments),
        "review_comments": 0,
        "maintainer_can_modify": False,
        "commits": len(pull.commits),
        "additions": 0,
        "deletions": 0,
        "changed_files": 0,
    }


def commit_json(api: str, repo: Repo, pull: Pull, index: int) -> dict[str, Any]:
    sha = pull.commits[index]
    parent = pull.commits[index - 1] if index else fake_sha(repo.full_name, "master")
    person = {"name": pull.author, "email": f"{pull.author}@users.noreply.github.com"}
    repo_url = repo.url(api)
    return {
        "sha": sha,
        "node_id": f"C_{sha[:20]}",
        "url": f"{repo_url}/commits/{sha}",
        "html_url": f"https://github.com/{repo.full_name}/commit/{sha}",
        "commit": {
            "message": f"commit {index + 1} of PR #{pull.number}",
            "author": {**person, "date": pull.created_at},
            "committer": {**person, "date": pull.created_at},
            "tree": {"sha": fake_sha(sha, "tree"), "url": f"{repo_url}/git/trees"},
            "url": f"{repo_url}/git/commits/{sha}",
            "comment_count": 0,
        },
        "author": user_json(api, pull.author),
        "committer": user_json(api, pull.author),
        "parents": [{"sha": parent, "url": f"{repo_url}/commits/{parent}"}],
    }


def comment_json(api: str, repo: Repo, pull: Pull, comment: Comment) -> dict[str, Any]:
    return {
        "id": comment.id,
        "node_id": f"IC_{comment.id}",
        "url": f"{repo.url(api)}/issues/comments/{comment.id}",
        "html_url": f"{repo.html(pull.number)}#issuecomment-{comment.id}",
        "issue_url": f"{repo.url(api)}/issues/{pull.number}",
        "body": comment.body,
        "user": user_json(api, comment.author),
        "created_at": comment.created_at,
        "updated_at": comment.created_at,
        "author_association": "NONE",
    }


def deployment_url(api: str, repo: Repo, deployment: Deployment) -> str:
    return f"{repo.url(api)}/deployments/{deployment.id}"


def deployment_json(api: str, repo: Repo, deployment: Deployment, creator: str) -> dict[str, Any]:
    url = deployment_url(api, repo, deployment)
    return {
        "url": url,
        "id": deployment.id,
        "node_id": f"DE_{deployment.id}",
        "sha": deployment.sha,
        "ref": deployment.sha,
        "task": "deploy",
        "payload": deployment.payload,
        "environment": deployment.environment,
        "original_environment": deployment.environment,
        "description": deployment.description,
        "creator": user_json(api, creator),
        "created_at": deployment.created_at,
        "updated_at": deployment.created_at,
        "statuses_url": f"{url}/statuses",
        "repository_url": repo.url(api),
        "transient_environment": deployment.transient,
        "production_environment": deployment.production,
    }
