"""What a contract test sees of each side: the port, and what a person sees beside it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.clock import FakeClock
from bot.orchestrator.ports import EcsPort, GitHubPort

PR = 36121


@dataclass
class GitHubSide:
    """A ``GitHubPort`` and what a person sees on its GitHub."""

    port: GitHubPort
    labels: Callable[[int], list[str]]  # the PR's labels
    comments: Callable[[int], list[str]]  # the PR's comments
    definitions: Callable[[], set[str]]  # the repository's label definitions
    define: Callable[[str], None]  # someone makes a label definition on github.com
    set_role: Callable[[str, str], None]  # someone gives a login a role on the repository


@dataclass
class EcsSide:
    """An ``EcsPort``, its clock, and every service ECS knows with its status."""

    port: EcsPort
    clock: FakeClock
    statuses: Callable[[], dict[str, str]]  # name → ACTIVE / DRAINING (INACTIVE: gone)
