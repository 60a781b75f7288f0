"""Requests into the orchestrator and the answers it gives back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.orchestrator.inventory import EnvView

KIND_START = "start"
KIND_STOP = "stop"
KIND_TTL = "ttl"
KIND_FREEZE = "freeze"
KIND_UNFREEZE = "unfreeze"
KIND_CLEANUP = "cleanup"
MUTATING_KINDS = (KIND_START, KIND_STOP, KIND_TTL, KIND_FREEZE, KIND_UNFREEZE, KIND_CLEANUP)


@dataclass(frozen=True)
class JobRequest:
    """What an entry point asks for; the orchestrator turns it into a job."""

    kind: str
    requester: str  # Slack user id, or "sweeper" / "cli"
    requester_name: str = ""  # GitHub login (SHOWTIME_GITHUB_LOGINS) or Slack name, for 🤡
    pr: int | None = None
    sha: str | None = None
    ttl: str | None = None
    dry_run: bool = False
    channel: str | None = None
    thread_ts: str | None = None
    idempotency_key: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def lock_key(self) -> str | None:
        if self.pr is not None:
            return f"pr:{self.pr}"
        return "cleanup" if self.kind == KIND_CLEANUP else None


@dataclass(frozen=True)
class PrStatus:
    """Everything ``status <pr>`` shows."""

    pr: int
    title: str
    state: str
    html_url: str
    frozen: bool
    blocked: bool
    ttl: str | None
    environments: list[EnvView]
    live_job: Any | None = None  # the store's Job, when one runs for the PR


@dataclass(frozen=True)
class CleanupAction:
    pr: int | None
    what: str  # human sentence naming the PR and what was (or would be) done
    done: bool = False
    error: str | None = None


@dataclass(frozen=True)
class CleanupReport:
    dry_run: bool
    actions: list[CleanupAction]

    @property
    def text(self) -> str:
        if not self.actions:
            return "Nothing to clean up."
        verb = "Would" if self.dry_run else "Did"
        lines = [f"{verb} clean up {len(self.actions)} thing(s):"]
        for action in self.actions:
            mark = "•" if self.dry_run else ("✅" if action.done else "⚠️")
            tail = f" — {action.error}" if action.error else ""
            lines.append(f"{mark} {action.what}{tail}")
        return "\n".join(lines)
