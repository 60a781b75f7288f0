"""The PR's queue of one (SPEC §16): what waits for the PR's running job, run when it ends.

A start or a stop for a PR whose job runs is not refused as busy: it becomes the PR's one
``QueuedJob`` in the job store (so it survives a restart and every replica sees it), pinned
to its SHA. A newer request replaces it, and whoever asked for the replaced one is told; a
queued stop is never replaced by a start. When the PR's job ends, the queued one is submitted
like any request — GitHub's only if its SHA is still the PR's head (SPEC §11).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import replace

from bot.domain.labels import parse_labels
from bot.errors import NothingToDo, RefusedError, ShowtimeError
from bot.orchestrator import decisions
from bot.orchestrator.context import Deps
from bot.orchestrator.jobs import Job, JobKind, QueuedJob, StartParams, StartRecord, pr_lock
from bot.orchestrator.models import Answer, Busy, JobRequest, Queued, Refused, Reporting, Submitter

log = logging.getLogger(__name__)


class PrQueue:
    def __init__(self, deps: Deps, jobs: Submitter) -> None:
        self._deps = deps
        self._jobs = jobs

    def enqueue(self, request: JobRequest, running: Job) -> Answer:
        """``request`` waits for ``running``: ``Queued``, or why it does not."""
        assert request.pr is not None
        if request.kind is JobKind.STOP and running.kind is JobKind.STOP:
            return Busy(running)  # already being stopped: a second stop would find nothing
        sha = request.sha
        if request.kind is JobKind.START and sha is None:
            try:  # pinned to the head of now: a later push is a request of its own
                sha = (request.known_pr or self._deps.github.get_pr(request.pr)).head_sha
            except ShowtimeError as exc:
                return Refused(exc)
        if request.kind is JobKind.START and _same_commit(request, sha, running):
            return Busy(running)  # that very commit is being deployed: once is enough
        entry = QueuedJob(
            id=uuid.uuid4().hex,
            pr=request.pr,
            kind=request.kind,
            requester=request.requester,
            sha=sha,
            head_only=request.head_only,
            needs_environment=request.needs_environment,
            params=request.params,
            channel=request.reporting.channel,
        )
        waiting, replaced = self._deps.store.enqueue(entry)
        if waiting.id != entry.id:
            return Refused(
                RefusedError(
                    f"#{request.pr} is being stopped: a stop is queued behind the running "
                    f"`{running.kind}`, so this `{request.kind}` is not queued",
                    f"start it again once it has stopped (`/showtime start {request.pr}`)",
                )
            )
        if replaced is not None and replaced.requester.stored != entry.requester.stored:
            self._tell_replaced(replaced, entry)  # the asker knows: the answer says so
        log.info("#%s: %s queued behind job %s", request.pr, request.kind, running.correlation_id)
        return Queued(entry, running, replaced)

    def _tell_replaced(self, replaced: QueuedJob, by: QueuedJob) -> None:
        what = _queued_text(replaced)
        text = f"the queued {what} was replaced by a newer request from {by.requester.label_name}"
        self._jobs.notify_pr(replaced.pr, (replaced.sha or "")[:7], text, to=replaced.requester)

    def next_of(self, job: Job) -> None:
        """A job of the PR ended: its queued job (if any) runs now."""
        if job.pr is not None:
            self.next_queued(job.pr)

    def next_queued(self, pr: int) -> str:
        """Run the PR's queued job now that no job runs for it; what became of it."""
        try:
            entry = self._deps.store.queued(pr)
            if entry is None:
                return "nothing queued"
            return self._run_queued(entry)
        except Exception:
            log.exception("the queued job of #%s failed to start", pr, extra={"pr": pr})
            return "failed to start (it stays queued)"

    def _run_queued(self, entry: QueuedJob) -> str:
        request = JobRequest(
            kind=entry.kind,
            requester=entry.requester,
            pr=entry.pr,
            sha=entry.sha,
            params=entry.params,
            reporting=Reporting.in_pr_thread(entry.channel or self._deps.policy.notify_channel),
            idempotency_key=f"queued:{entry.id}",  # a crash between run and dequeue runs it once
        )
        if entry.head_only:
            now = self._deps.github.get_pr(entry.pr)
            labels = parse_labels(now.labels)
            why = decisions.stale_follow_up(
                now.state, now.head_sha, labels, entry.sha or "", entry.needs_environment
            )
            if why:
                self._deps.store.dequeue(entry.id)
                sha7 = (entry.sha or "")[:7]
                self._jobs.notify_pr(
                    entry.pr, sha7, f"{_queued_text(entry)} not deployed: {why}", offer="redeploy"
                )
                return f"dropped: {why}"
            request = replace(request, known_pr=now)
        answer = self._jobs.submit(request, queue=False)
        if isinstance(answer, Busy):
            return "still waiting"  # another job took the PR first; its end runs this
        self._deps.store.dequeue(entry.id)
        if isinstance(answer, Refused):
            # A stop queued behind a deploy it cancelled finds nothing left: that is no refusal.
            done = isinstance(answer.error, NothingToDo)
            why = "had nothing left to do" if done else "was refused"
            self._jobs.notify_pr(
                entry.pr,
                (entry.sha or "")[:7],
                f"the queued {_queued_text(entry)} {why}: {answer.error}",
                to=entry.requester,
            )
        return type(answer).__name__.lower()

    def left(self) -> None:
        """Queued jobs whose PR has no live job (their process stopped between the two)."""
        for pr in self._deps.store.queued_prs():
            if self._deps.store.live_job(pr_lock(pr)) is None:
                self.next_queued(pr)


def _same_commit(request: JobRequest, sha: str | None, running: Job) -> bool:
    """Is ``running`` a deploy of the commit ``request`` asks for? Before the running one
    has read the PR (just begun), a request for the head and a deploy of the head are."""
    if running.kind is not JobKind.START:
        return False
    deploying = running.record.sha if isinstance(running.record, StartRecord) else ""
    deploying = deploying or running.sha or ""
    if not deploying:
        return request.sha is None  # both deploy the head the PR has now
    return bool(sha) and deploying.lower().startswith((sha or "").lower())


def _queued_text(entry: QueuedJob) -> str:
    """ "start of `abc1234` (asked by maintainer)", for messages about a queued request."""
    params = entry.params
    what = "update" if isinstance(params, StartParams) and params.reason else str(entry.kind)
    sha = f" of `{entry.sha[:7]}`" if entry.sha else ""
    return f"{what}{sha} (asked by {entry.requester.label_name})"
