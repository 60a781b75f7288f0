"""Fencing: every remote write a job makes first checks that the job is still this process's.

A replica that pauses past the orphan limit (GC, VM freeze, database failover) has its
jobs adopted by another; when it wakes, its next write must not land. The store is the
judge (``JobStore.check_owner``), asked right before each write made from a job thread
(reads and writes from request threads or the sweeper, which run no job, pass straight
through). Waits are cut short the same way by the runner's clock.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime

from bot.domain.cost import Size
from bot.domain.events import Progress, no_progress
from bot.domain.labels import LabelChange
from bot.orchestrator.ports import EcsPort, GitHubPort, LabelledPr, PullRequest, Service

Check = Callable[[], None]


class FencedGitHub:
    """``GitHubPort`` whose writes run ``check`` first."""

    def __init__(self, github: GitHubPort, check: Check) -> None:
        self._github = github
        self._check = check

    def get_pr(self, number: int) -> PullRequest:
        return self._github.get_pr(number)

    def pr_commit_shas(self, number: int) -> list[str]:
        return self._github.pr_commit_shas(number)

    def apply_labels(
        self, number: int, change: LabelChange, current: Sequence[str]
    ) -> tuple[str, ...]:
        self._check()
        return self._github.apply_labels(number, change, current)

    def ensure_label_definitions(self, names: Sequence[str]) -> None:
        self._check()
        self._github.ensure_label_definitions(names)

    def delete_label_definitions(self, names: Sequence[str]) -> None:
        self._check()
        self._github.delete_label_definitions(names)

    def find_labelled_prs(self) -> Sequence[LabelledPr]:
        return self._github.find_labelled_prs()

    def sha_label_definitions(self) -> list[str]:
        return self._github.sha_label_definitions()

    def attached_labels(self, names: Sequence[str]) -> set[str]:
        return self._github.attached_labels(names)

    def comment(self, number: int, text: str) -> None:
        self._check()
        self._github.comment(number, text)

    def collaborator_permission(self, login: str) -> str:
        return self._github.collaborator_permission(login)

    def own_login(self) -> str:
        return self._github.own_login()


class FencedEcs:
    """``EcsPort`` whose writes run ``check`` first."""

    def __init__(self, ecs: EcsPort, check: Check) -> None:
        self._ecs = ecs
        self._check = check

    def find_services(self, pr: int | None = None) -> Sequence[Service]:
        return self._ecs.find_services(pr)

    def environment_names(self) -> set[str]:
        return self._ecs.environment_names()

    def clear_name(self, name: str, progress: Progress = no_progress) -> None:
        self._check()
        self._ecs.clear_name(name, progress)

    def register_task_definition(
        self, pr: int, sha: str, description: str, progress: Progress = no_progress
    ) -> str:
        self._check()
        return self._ecs.register_task_definition(pr, sha, description, progress)

    def create_service(
        self,
        *,
        pr: int,
        sha: str,
        task_definition_arn: str,
        requested_by: str,
        expires: datetime | None,
        client_token: str,
        progress: Progress = no_progress,
    ) -> Service:
        self._check()
        return self._ecs.create_service(
            pr=pr,
            sha=sha,
            task_definition_arn=task_definition_arn,
            requested_by=requested_by,
            expires=expires,
            client_token=client_token,
            progress=progress,
        )

    def redeploy(
        self, name: str, task_definition_arn: str, progress: Progress = no_progress
    ) -> None:
        self._check()
        self._ecs.redeploy(name, task_definition_arn, progress)

    def wait_stable(self, name: str, progress: Progress = no_progress) -> None:
        self._ecs.wait_stable(name, progress)

    def address(self, name: str) -> str:
        return self._ecs.address(name)

    def delete_service(self, name: str) -> bool:
        self._check()
        return self._ecs.delete_service(name)

    def delete_pr_environments(self, pr: int) -> list[str]:
        self._check()
        return self._ecs.delete_pr_environments(pr)

    def task_sizes(self, arns: Collection[str]) -> Mapping[str, Size]:
        return self._ecs.task_sizes(arns)

    def template_size(self) -> Size | None:
        return self._ecs.template_size()
