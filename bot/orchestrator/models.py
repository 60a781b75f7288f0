"""Requests into the orchestrator and the answers it gives back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal

from bot.domain.events import LogTail
from bot.orchestrator.inventory import EnvView
from bot.orchestrator.jobs import Job, JobKind, JobParams
from bot.orchestrator.ports import PullRequest


@dataclass(frozen=True)
class JobRequest:
    """What an entry point asks for; the orchestrator turns it into a job."""

    kind: JobKind
    requester: str  # Slack user id, or "sweeper" / "cleanup" / a GitHub login
    requester_name: str = ""  # GitHub login (SHOWTIME_GITHUB_LOGINS) or Slack name, for 🤡
    pr: int | None = None
    sha: str | None = None
    params: JobParams = field(default_factory=JobParams)
    channel: str | None = None
    thread_ts: str | None = None
    idempotency_key: str | None = None
    # The PR as the request already has it (a webhook delivery carries it): validation
    # uses it instead of reading it again. Seconds old, like any read.
    known_pr: PullRequest | None = None

    @property
    def lock_key(self) -> str | None:
        if self.pr is not None:
            return f"pr:{self.pr}"
        return "cleanup" if self.kind is JobKind.CLEANUP else None


@dataclass(frozen=True)
class Notice:
    """Something to tell about a PR that no job of its own says: an expiry warning, a push
    that was not deployed.

    ``channel``/``thread_ts``: the PR's latest status message thread, else
    SHOWTIME_NOTIFY_CHANNEL (a new message there), else nowhere. ``offer`` is the one
    button that goes with it.
    """

    pr: int
    sha: str
    text: str
    channel: str | None
    thread_ts: str | None
    offer: NoticeOffer = "extend"


NoticeOffer = Literal["extend", "redeploy"]


@dataclass(frozen=True)
class PrStatus:
    """Everything ``status <pr>`` shows."""

    pr: int
    title: str
    state: str  # open / closed / merged
    html_url: str
    frozen: bool
    blocked: bool
    ttl: str | None
    environments: list[EnvView]
    live_job: Job | None = None  # the job running for the PR now, if any
    live_job_thread: tuple[str, str] | None = None


@dataclass(frozen=True)
class PrLogs:
    """What ``logs <pr>`` and the Logs button show: one environment's last log lines."""

    pr: int
    sha: str  # 7 characters
    service: str
    tail: LogTail
    console_url: str  # the same log in the AWS console, for those who can open it


@dataclass(frozen=True)
class Spend:
    """This calendar month (UTC) in figures: estimates at the SHOWTIME_COST_* rates."""

    month: datetime  # midnight UTC on the first
    spent: Decimal  # so far, stopped environments included
    committed: Decimal  # what runs now will cost until it expires (within this month)
    hourly: Decimal  # every running environment together, per hour
    running: int  # environments with an estimate
    budget: Decimal | None  # SHOWTIME_MONTHLY_BUDGET


@dataclass(frozen=True)
class Overview:
    """Every environment, priced, and this month's spend: ``list`` and the Home tab."""

    environments: list[EnvView]
    spend: Spend
    at: datetime  # when this look was taken (it serves everyone for a few seconds)


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
