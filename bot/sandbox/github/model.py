"""What the GitHub stand-in keeps of one repository: PRs, labels, comments, deployments."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

AUTO_LABEL_COLOUR = "ededed"  # what GitHub gives a label it creates on first use
MAX_LABEL_LENGTH = 50
ROLES = ("admin", "maintain", "write", "triage", "read", "none")
DEPLOYMENT_STATES = ("error", "failure", "inactive", "in_progress", "queued", "pending", "success")


def fake_sha(*parts: object) -> str:
    """A stable, plausible 40-hex commit SHA derived from ``parts``."""
    return hashlib.sha1("/".join(str(p) for p in parts).encode()).hexdigest()


@dataclass
class Label:
    id: int
    name: str
    color: str
    description: str


@dataclass
class Comment:
    id: int
    body: str
    author: str
    created_at: str


@dataclass
class Pull:
    number: int
    title: str
    body: str
    author: str
    state: str
    merged: bool
    commits: list[str]
    created_at: str
    updated_at: str
    closed_at: str | None = None
    labels: list[Label] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)

    @property
    def head_sha(self) -> str:
        return self.commits[-1]

    def label_names(self) -> set[str]:
        """Casefolded: GitHub's label names are case-blind."""
        return {label.name.casefold() for label in self.labels}


@dataclass
class Deployment:
    id: int
    sha: str
    environment: str
    description: str
    payload: dict[str, Any]
    transient: bool
    production: bool
    created_at: str
    statuses: list[dict[str, Any]] = field(default_factory=list)
