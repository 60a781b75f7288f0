"""Requests into the orchestrator and the answers it gives back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal, Protocol

from bot.domain.events import LogTail
from bot.domain.requester import Requester
from bot.errors import ShowtimeError
from bot.orchestrator.decisions import Refusal
from bot.orchestrator.inventory import EnvView
from bot.orchestrator.jobs import CLEANUP_LOCK, Job, JobKind, JobParams, QueuedJob, pr_lock
from bot.orchestrator.ports import PullRequest


@dataclass(frozen=True)
class Reporting:
    """Where a job tells what it does: its status message and the thread under it.

    - ``new_message(channel)``: a slash command's — a new status message in the channel it
      was typed in; if the bot cannot post there, nothing starts.
    - ``on_message(channel, ts)``: a button's — the message it was pressed on shows the job's
      progress, and its thread gets the replies.
    - ``pr_thread(fallback)``: the PR's latest status message's thread, else a new message in
      ``fallback`` (SHOWTIME_NOTIFY_CHANNEL for GitHub events and the sweeper), else nowhere
      (labels and the optional PR comment only).
    """

    channel: str | None = None
    thread_ts: str | None = None
    pressed: bool = False  # the message ``thread_ts`` was pressed: it shows progress
    must_post: bool = False  # a new status message is the answer itself
    pr_thread: bool = False  # look for the PR's latest thread first

    @classmethod
    def new_message(cls, channel: str) -> Reporting:
        return cls(channel=channel, must_post=True)

    @classmethod
    def on_message(cls, channel: str, ts: str) -> Reporting:
        return cls(channel=channel, thread_ts=ts, pressed=True)

    @classmethod
    def in_pr_thread(cls, fallback: str | None = None) -> Reporting:
        return cls(channel=fallback, pr_thread=True)


@dataclass(frozen=True)
class JobRequest:
    """What an entry point asks for; the orchestrator turns it into a job."""

    kind: JobKind
    requester: Requester  # who: a Slack user, a GitHub login, the bot; its 🤡 name
    pr: int | None = None
    sha: str | None = None
    params: JobParams = field(default_factory=JobParams)
    reporting: Reporting = field(default_factory=Reporting)
    idempotency_key: str | None = None
    # The PR as the request already has it (read moments ago): validation uses it instead of
    # reading it again.
    known_pr: PullRequest | None = None
    # GitHub's: if it has to wait for the PR's running job, it deploys then only if its SHA
    # is still the PR's head (SPEC §11: no head nobody allowed is ever deployed) — and a
    # push's rolling update only while an environment still runs.
    head_only: bool = False
    needs_environment: bool = False

    @property
    def lock_key(self) -> str | None:
        if self.pr is not None:
            return pr_lock(self.pr)
        return CLEANUP_LOCK if self.kind is JobKind.CLEANUP else None


# ----- what a request comes to (``Jobs.submit``) -------------------------------------------


@dataclass(frozen=True)
class Started:
    """The job runs (or waits for a free worker); ``job.channel``/``thread_ts`` is its thread."""

    job: Job


@dataclass(frozen=True)
class Busy:
    """Another job of the PR runs (``job``: who, since when, where)."""

    job: Job


@dataclass(frozen=True)
class Duplicate:
    """The very same request was taken before (a double click, Slack's retry)."""

    job: Job


@dataclass(frozen=True)
class Refused:
    """The request cannot be done; nothing was changed. ``error`` says why and what to do."""

    error: ShowtimeError


@dataclass(frozen=True)
class CannotPost:
    """The status message could not be posted (``error`` is Slack's), so nothing started."""

    error: str


@dataclass(frozen=True)
class Queued:
    """The request waits for the PR's running job (``behind``) and runs when it ends;
    ``replaced`` is the request it replaced in the PR's queue of one (its asker was told)."""

    entry: QueuedJob
    behind: Job
    replaced: QueuedJob | None = None


Answer = Started | Queued | Busy | Duplicate | Refused | CannotPost


# ----- what a cancel comes to (``Jobs.cancel``) ---------------------------------------------


@dataclass(frozen=True)
class Cancelling:
    """The running deploy was told to stop; it undoes what it made within seconds."""

    job: Job


@dataclass(frozen=True)
class DroppedQueued:
    """The queued request was removed before it ran."""

    entry: QueuedJob


@dataclass(frozen=True)
class TooLate:
    """The deploy is past the point where a cancel undoes it: the environment is up."""

    job: Job


@dataclass(frozen=True)
class NothingToCancel:
    pr: int
    running: Job | None = None  # a job that is no deploy (a stop, a TTL change)


CancelAnswer = Cancelling | DroppedQueued | TooLate | NothingToCancel


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
    to: Requester | None = None  # the one person it is for (mentioned when a Slack user)
    about: NoticeAbout = "other"


NoticeOffer = Literal["extend", "redeploy", "none"]
# What a notice is about, for listeners that treat some kinds apart: the expiry warning is
# also the direct message an hour before an environment goes (SPEC §16).
NoticeAbout = Literal["expiry", "other"]


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
class Credentials:
    """What ``creds <pr>`` and the Credentials button show, to the person who asked only:
    the admin login of one environment, read back from its task definition (SPEC §15).

    The password is never logged, stored or posted where others read it; ``repr`` leaves it
    out, so a log line that names this object cannot carry it.
    """

    pr: int
    sha: str  # 7 characters
    url: str | None  # where it serves (its 🌐 label), if it says
    username: str
    password: str = field(repr=False)
    generated: bool  # False: the CLI's environment, Superset's default admin/admin


@dataclass(frozen=True)
class StartCheck:
    """What the Start modal checks before Slack's 3 s are up: the PR as it is now, why a
    start of it would be refused (closed, blocked), and the commit a SHA names.

    ``sha`` is the full SHA of the commit asked for (None: none was asked, or it is not one
    of the PR's commits — ``sha_found`` says which).
    """

    pr: PullRequest
    refusal: Refusal | None
    sha: str | None = None
    sha_found: bool = True


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


class Submitter(Protocol):
    """What the queue and GitHub's deliveries need of ``Jobs``: submit a request, tell a
    PR's thread something no job says."""

    def submit(self, request: JobRequest, *, queue: bool = True) -> Answer: ...
    def notify_pr(
        self,
        pr: int,
        sha: str,
        text: str,
        *,
        to: Requester | None = None,
        offer: str = "none",
    ) -> None: ...
