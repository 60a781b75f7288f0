"""The start workflow: claim → task definition → clear the name → create → stable →
healthy → labels running → retire the previous SHA (SPEC §6), as a table of steps.

Each step is recorded as it finishes, so a job cut off by a restart resumes from its last
finished step. The table also says what the requester waits for: every step here stands
between the command and the URL, so it does only what the URL depends on. Writes nobody
waits for run elsewhere — the coloured definition of the 🚦 running label is created in
the background while ECS works, and the claim labels' definitions are deleted once the
URL is announced (``JobRun.later``); SPEC §10 allows 3 s of the wait outside ECS.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace

from bot.domain import events as ev
from bot.domain import labels as L
from bot.domain.modes import DeployMode
from bot.domain.naming import service_name
from bot.domain.ttl import expires_at
from bot.errors import (
    RefusedError,
    ShowtimeError,
    SmokeCheckError,
    StoppedTaskError,
    UserInputError,
)
from bot.orchestrator import costs
from bot.orchestrator import decisions as D
from bot.orchestrator.context import Deps, JobRun
from bot.orchestrator.jobs import Job, StartParams, StartRecord, StoreError
from bot.orchestrator.mirror import DeploymentMirror
from bot.orchestrator.ports import PullRequest
from bot.orchestrator.runner import Cancelled, Interrupted

log = logging.getLogger(__name__)


# ----- validation (reads only; the environment limit is held atomically) ---------------------


def validate(deps: Deps, job: Job, known: PullRequest | None = None) -> StartRecord:
    """What this start will do, or a refusal (``UserInputError``/``RefusedError``).

    Reads only — the PR (one GET, labels inline), its commits when a SHA was given, and
    for a new environment ECS's list — plus the store's hold on one environment, so
    two starts at once cannot both take the last one.
    """
    assert job.pr is not None
    info = known if known is not None and known.number == job.pr else deps.github.get_pr(job.pr)
    labels = L.parse_labels(info.labels)
    # Cheapest refusals first: blocked or closed needs no further request.
    raise_refusal(D.refuse_start(state=info.state, merged=info.merged, labels=labels), job.pr)
    sha = _resolve_sha(deps, job.pr, job.sha, info.head_sha) if job.sha else info.head_sha
    plan = D.plan_start(
        labels,
        sha,
        deps.clock.now(),
        deps.policy.stale_claim_after,
    )
    if isinstance(plan, D.Refusal):
        raise RefusedError(plan.message, plan.next_action)
    name = service_name(job.pr, plan.sha7)
    if plan.mode is DeployMode.FRESH:  # redeploys and rolling updates are never refused
        _hold_an_environment(deps, job, name)
        asked = job.params.ttl if isinstance(job.params, StartParams) else None
        ttl = asked or labels.ttl or deps.policy.default_ttl
        costs.hold_for_start(deps, job, name, ttl)
    return StartRecord(
        labels=tuple(info.labels),
        before=tuple(info.labels),
        title=info.title,
        sha=sha,
        sha7=plan.sha7,
        mode=plan.mode,
        previous_sha=plan.previous_sha,
        takeover_sha=plan.takeover.sha if plan.takeover else None,
        takeover_status=plan.takeover.status if plan.takeover else None,
        body=info.body,
        logs_url=deps.logs.console_url(name),
    )


def _hold_an_environment(deps: Deps, job: Job, name: str) -> None:
    """Hold one of SHOWTIME_MAX_ENVIRONMENTS for this job, atomically across jobs.

    ECS's count alone is not enough: two starts validated at the same moment both see
    room for one more. The store checks and holds in one transaction, counting what
    other live jobs hold for services ECS does not list yet; the hold ends with the job.
    """
    names = deps.ecs.environment_names()
    limit = deps.policy.max_environments
    total = deps.store.reserve(
        job.id, "environments", item=name, amount=1, in_use=len(names), seen=names, limit=limit
    )
    if total is not None:
        raise_refusal(D.refuse_new_environment(round(total) - 1, limit), job.pr or 0)


def _resolve_sha(deps: Deps, pr: int, wanted: str, head: str) -> str:
    if head.startswith(wanted.lower()):
        return head  # the head itself (a pinned push, a queued start): no need to list commits
    matches = [sha for sha in deps.github.pr_commit_shas(pr) if sha.startswith(wanted.lower())]
    if not matches:
        raise UserInputError(
            f"`{wanted}` is not a commit of #{pr}",
            "give a SHA from the PR's commits, or leave it out to deploy the PR's head",
        )
    return matches[-1]


def raise_refusal(refusal: D.Refusal | None, pr: int) -> None:
    if refusal is not None:
        error = UserInputError if refusal.bad_input else RefusedError
        raise error(f"#{pr}: {refusal.message}", refusal.next_action)


# ----- the steps ---------------------------------------------------------------------


Work = Callable[[JobRun, StartRecord], StartRecord]
Text = Callable[[JobRun, StartRecord], str]


@dataclass(frozen=True)
class Step:
    """One step of a start: what it says when it begins and ends, and what it does.

    ``begins=None`` makes a silent step (no thread reply of its own).
    """

    name: str
    work: Work
    begins: Text | None = None
    ends: Text | None = None
    when: Callable[[JobRun, StartRecord], bool] = lambda run, record: True


def _service(run: JobRun, record: StartRecord) -> str:
    return service_name(run.pr, record.sha7)


def _claim(run: JobRun, record: StartRecord) -> StartRecord:
    if run.resumed:  # validated by a process that is gone: the labels may have moved
        record = replace(record, labels=run.deps.github.get_pr(run.pr).labels)
    takeover = (
        L.Show(sha=record.takeover_sha, status=record.takeover_status)
        if record.takeover_sha
        else None
    )
    if takeover is not None:
        run.say(
            ev.Warning(
                f"took over a stale claim: {takeover.sha} said {takeover.status} "
                "with no job running it"
            )
        )
    params = run.job.params
    assert isinstance(params, StartParams)
    change = D.claim_labels(
        L.parse_labels(record.labels),
        D.StartPlan(record.mode, record.sha7, record.previous_sha, takeover),
        now=run.deps.clock.now(),
        requester=run.job.requester.label_name,
        ttl=params.ttl,
        default_ttl=run.deps.policy.default_ttl,
        current_names=list(record.labels),
    )
    labels = run.set_labels(change, record.labels)
    # The claim waits for one write; the CLI's colours of what it added (🚦 deploying, a
    # new ⌛) follow while ECS works, where nobody waits for them (SPEC §10).
    github = run.deps.github
    coloured = [name for name in change.add if L.label_definition(name)]
    if coloured:
        run.deps.background.submit(
            "colour the claim's label definitions",
            lambda: github.ensure_label_definitions(coloured),
        )
    record = replace(record, labels=labels)
    if run.when_claimed is not None:
        run.when_claimed(record)  # the GitHub deployment, made in the background too
    return record


def _task_definition(run: JobRun, record: StartRecord) -> StartRecord:
    arn = run.deps.ecs.register_task_definition(run.pr, record.sha, record.body, run.say)
    return replace(record, task_definition=arn)


def _clear_name(run: JobRun, record: StartRecord) -> StartRecord:
    run.deps.ecs.clear_name(_service(run, record), run.say)
    return record


def _create_service(run: JobRun, record: StartRecord) -> StartRecord:
    ttl = L.parse_labels(record.labels).ttl or run.deps.policy.default_ttl
    run.deps.ecs.create_service(
        pr=run.pr,
        sha=record.sha7,
        task_definition_arn=record.task_definition,
        requested_by=run.job.requester,
        expires=expires_at(run.deps.clock.now(), ttl),
        client_token=run.job.id,  # a repeated request of this job creates nothing new
        progress=run.say,
    )
    return replace(record, created_service=True)


def _redeploy(run: JobRun, record: StartRecord) -> StartRecord:
    name = _service(run, record)
    # What it ran before, so a cancel can put it back (SPEC §16).
    previous = next(
        (s.task_definition for s in run.deps.ecs.find_services(run.pr) if s.name == name), None
    )
    run.deps.ecs.redeploy(name, record.task_definition, run.say)
    return replace(record, previous_task_definition=previous or "")


def _wait_stable(run: JobRun, record: StartRecord) -> StartRecord:
    run.deps.ecs.wait_stable(_service(run, record), run.say)
    return record


def _address(run: JobRun, record: StartRecord) -> StartRecord:
    ip = run.deps.ecs.address(_service(run, record))
    return replace(record, address=f"{ip}:{run.deps.policy.env_port}")


def _health_url(run: JobRun, record: StartRecord) -> str:
    return f"http://{record.address}{run.deps.policy.health_path}"


def _health(run: JobRun, record: StartRecord) -> StartRecord:
    progress = _with_newest_log_line(run, _service(run, record))
    run.deps.health.wait_healthy(_health_url(run, record), progress)
    return record


def _with_newest_log_line(run: JobRun, service: str) -> ev.Progress:
    """``run.say``, with the environment's newest log line on the health check's waits.

    "still waiting …, 2m10s — Running database migrations" says more than the HTTP status
    (SPEC §14). The probe knows nothing of logs: the line is read here, on the wait's first
    ``Waiting`` event and then on any whose last read is a minute old (at most one
    GetLogEvents a minute); a read that finds nothing, or fails, leaves the event as it was.
    """
    last_read: float | None = None

    def progress(event: ev.Event) -> None:
        nonlocal last_read
        now = run.deps.clock.monotonic()
        if isinstance(event, ev.Waiting) and (
            last_read is None or now - last_read >= ev.WAIT_REPORT_SECONDS
        ):
            last_read = now
            try:
                lines = run.deps.logs.tail(service, 1).lines
            except Exception:  # the port promises not to raise; a heartbeat never fails
                log.warning("could not read the newest log line of %s", service, exc_info=True)
                lines = ()
            if lines:
                event = replace(event, log_line=lines[-1])
        run.say(event)

    return progress


def _smoke(run: JobRun, record: StartRecord) -> StartRecord:
    """Usable, not just up (SPEC §15): log in as the environment's admin and do what a
    reviewer does first — examples, SQL Lab, a chart — through Superset's REST API.

    The password is read back from the task definition (``admin_login``), never kept by
    the job. Login never working fails the deploy like a health check; a later check that
    keeps failing leaves it up but **degraded**, said wherever the environment is shown.
    """
    smoke = run.deps.smoke
    assert smoke is not None  # the step runs only with a smoke check (``_smoke_wanted``)
    login = run.deps.ecs.admin_login(record.task_definition)
    report = smoke.wait_usable(
        f"http://{record.address}",
        login,
        run.deps.policy.smoke_checks,
        examples=login.examples,
        progress=_with_newest_log_line(run, _service(run, record)),
    )
    if not report.login_ok:
        raise SmokeCheckError(
            f"Superset answers its health check, but nobody can log in: {report.problem()}",
            "read the log in the thread for why (login blocked, the admin user not set up), "
            "fix the PR, then press Retry",
        )
    return replace(record, checked=report.summary(), degraded=report.problem())


def _smoke_wanted(run: JobRun, record: StartRecord) -> bool:
    return bool(run.deps.policy.smoke_checks) and run.deps.smoke is not None


def _smoke_said(run: JobRun, record: StartRecord) -> str:
    if record.degraded:
        return f"Superset is up but degraded: {record.degraded}"
    return f"Superset works: {record.checked}"


def _labels_running(run: JobRun, record: StartRecord) -> StartRecord:
    """🏗️ goes, 🌐 + 🎯 come, a replaced SHA's labels go (one write), then 🚦 deploying
    becomes 🚦 running by renaming its definition: one more write, which takes the claim
    off and puts running on in the same request, coloured — and leaves no deploying
    definition to delete nor a running one to create (SPEC §8, §10).

    Runs only after the new environment passed its checks, so the labels never point at
    something that does not answer.
    """
    names = list(record.labels)
    change = D.running_labels(record.sha7, record.address, L.parse_labels(names).active_sha, names)
    if record.mode is DeployMode.ROLLING and record.previous_sha:
        retired = L.labels_of_sha(names, record.previous_sha)
        change = L.change_against(names, add=change.add, remove=[*change.remove, *retired])
    deploying = L.status_label(record.sha7, L.DEPLOYING)
    running = L.status_label(record.sha7, L.RUNNING)
    if deploying not in names:  # claimed by another tool's word (building, …): one write
        return replace(record, labels=run.set_labels(change, names))
    rest = L.change_against(
        names,
        add=[name for name in change.add if name != running],
        remove=[name for name in change.remove if name != deploying],
    )
    labels = list(run.set_labels(rest, names))
    if run.deps.github.rename_label(deploying, running):
        labels = [running if name == deploying else name for name in labels]
        return replace(record, labels=tuple(dict.fromkeys(labels)))
    # Renamed before a restart, or 🚦 running is defined already (an in-place redeploy).
    swap = L.change_against(labels, add=[running], remove=[deploying])
    return replace(record, labels=run.set_labels(swap, labels))


def _retire_previous(run: JobRun, record: StartRecord) -> StartRecord:
    # Its labels went with the running labels; the service goes now (no DRAINING wait).
    assert record.previous_sha is not None
    run.deps.ecs.delete_service(service_name(run.pr, record.previous_sha))
    return record


STEPS: tuple[Step, ...] = (
    Step(
        "claim",
        _claim,
        lambda run, r: f"{r.mode.headline} {r.sha7}: labelling the PR 🚦 deploying",
        lambda run, r: f"PR #{run.pr} claimed for {r.sha7}",
    ),
    Step(
        "task_definition",
        _task_definition,
        lambda run, r: f"Registering the task definition for {r.sha7}",
        lambda run, r: f"Task definition `{r.task_definition.rsplit('/', 1)[-1]}` registered",
    ),
    Step(
        "clear_name",
        _clear_name,
        lambda run, r: f"Making sure the name `{_service(run, r)}` is free",
        lambda run, r: f"`{_service(run, r)}` is free",
        when=lambda run, r: r.mode is not DeployMode.REDEPLOY,
    ),
    Step(
        "create_service",
        _create_service,
        lambda run, r: f"Creating service `{_service(run, r)}`",
        lambda run, r: f"Service `{_service(run, r)}` created",
        when=lambda run, r: r.mode is not DeployMode.REDEPLOY,
    ),
    Step(
        "redeploy",
        _redeploy,
        lambda run, r: f"Redeploying `{_service(run, r)}` in place (no downtime)",
        lambda run, r: f"New deployment of `{_service(run, r)}` started",
        when=lambda run, r: r.mode is DeployMode.REDEPLOY,
    ),
    Step(
        "wait_stable",
        _wait_stable,
        lambda run, r: "Waiting for the task to start and the service to be stable",
        lambda run, r: "Service is stable",
    ),
    Step("address", _address),
    Step(
        "health",
        _health,
        lambda run, r: f"Checking health at {_health_url(run, r)}",
        lambda run, r: "Superset answers its health check",
    ),
    Step(
        "smoke",
        _smoke,
        lambda run, r: (
            "Checking that Superset works: "
            + ", ".join(check.label for check in run.deps.policy.smoke_checks)
        ),
        _smoke_said,
        when=_smoke_wanted,
    ),
    Step(
        "labels_running",
        _labels_running,
        lambda run, r: "Labelling the PR 🚦 running",
        lambda run, r: f"PR #{run.pr} labelled 🚦 running, 🎯 {r.sha7}",
    ),
    Step(
        "retire_previous",
        _retire_previous,
        lambda run, r: f"Removing the previous environment {r.previous_sha}",
        lambda run, r: f"Previous environment {r.previous_sha} removed",
        when=lambda run, r: r.mode is DeployMode.ROLLING and r.previous_sha is not None,
    ),
)
ORDER = ("validate", *(step.name for step in STEPS))
# From here on the environment comes up whatever is pressed: a cancel before it undoes the
# deploy, one after it is told to press Stop (SPEC §16).
POINT_OF_NO_RETURN = "labels_running"


def cancellable(last_step: str | None) -> bool:
    """Can a start whose last finished step is ``last_step`` still be cancelled?"""
    steps = ORDER
    return last_step not in steps or steps.index(last_step) < steps.index(POINT_OF_NO_RETURN)


def run_start(run: JobRun, mirror: DeploymentMirror) -> ev.Succeeded:
    """Every step not yet done, in order; a failure undoes what this job created."""
    if not run.done("claim", ORDER):
        run.when_claimed = lambda record: mirror.claimed(run, record, ttl=_ttl(run, record))
    try:
        for step in STEPS:
            record = run.record(StartRecord)
            if run.done(step.name, ORDER) or not step.when(run, record):
                continue
            run.check()  # a cancel (or shutdown) between steps stops here
            if step.name == POINT_OF_NO_RETURN:
                run.control.take_cancel()
            if step.begins is not None:
                run.say(ev.StepStarted(step.name, step.begins(run, record)))
            record = step.work(run, record)
            run.step(step.name, record)
            if step.ends is not None:
                run.say(ev.StepFinished(step.name, step.ends(run, record)))
    except Interrupted:
        raise
    except Cancelled:
        run.control.take_cancel()
        undo_cancelled_start(run, mirror)
        raise
    except Exception as exc:
        # A process that lost the job (another replica adopted it and may have built on
        # it since) undoes nothing: the fence raises JobLost here.
        run.fence()
        # Read before the undo deletes the service (its task could no longer be found).
        run.failure_log = failure_log(run, exc)
        # Which task failed, kept for the failed card's Logs button (its log outlives the
        # service); no log at all (the container never ran): no button, no console link.
        try:
            run.step(run.job.step or "validate", failed_record(run, exc, run.failure_log))
        except StoreError:
            log.warning("could not record which task failed", exc_info=True)
        undo_failed_start(run)
        reason = exc.message if isinstance(exc, ShowtimeError) else "internal error"
        record = run.record(StartRecord)
        if run.done("claim", ORDER):
            run.later("mark the deployment failed", lambda: mirror.failed(run, record, reason))
        raise
    record = run.record(StartRecord)
    url = f"http://{record.address}"
    run.later("mark the deployment successful", lambda: mirror.succeeded(run, record, url))
    if record.mode is DeployMode.ROLLING and record.previous_sha:
        previous = {record.previous_sha}
        run.later("retire the previous deployment", lambda: mirror.inactive(run, previous))
    log_tail = None
    if record.degraded:  # why, in the environment's own words (SPEC §15)
        log_tail = run.deps.logs.tail(_service(run, record), FAILURE_LOG_LINES)
    return ev.Succeeded(
        text=f"#{run.pr} {record.mode.outcome} {record.sha7} at {url}",
        url=url,
        estimate=costs.estimate_of(run.deps, run.pr, record.labels),
        checked=record.checked,
        degraded=record.degraded,
        log=log_tail,
    )


def _ttl(run: JobRun, record: StartRecord) -> str:
    return L.parse_labels(record.labels).ttl or run.deps.policy.default_ttl


# The steps during which the new task exists: a failure there is explained by its log.
_TASK_STEPS = frozenset({"wait_stable", "address", "health", "smoke"})
FAILURE_LOG_LINES = 30  # SPEC §14: the thread shows at most 30 lines


def failure_log(run: JobRun, error: BaseException) -> ev.LogTail | None:
    """The failing task's last lines, for a deploy that failed once its task existed
    (tasks stopped, stability timeout, health check never passed); None otherwise.

    A task that stopped is named by the error, so its own log is read (not a successor's);
    one whose container never ran (image missing) has none, and no AWS call is made.
    Best effort: whatever happens here, the deploy's own outcome stays what it was.
    """
    record = run.record(StartRecord)
    if _failing_step(run, record) not in _TASK_STEPS:
        return None
    task = error.task if isinstance(error, StoppedTaskError) and error.task else None
    if never_ran(error):
        return ev.LogTail(problem="no log: the container never started, so it wrote none")
    try:
        return run.deps.logs.tail(_service(run, record), FAILURE_LOG_LINES, task)
    except Exception:  # the port promises not to raise; this is the belt to its braces
        log.warning("could not read the failing task's log", exc_info=True)
        return ev.LogTail(problem="no log: reading it failed (the bot's log has why)")


def never_ran(error: BaseException) -> bool:
    """The failing task's container never ran (its image could not be pulled, …): no log."""
    return isinstance(error, StoppedTaskError) and not error.started


def failed_record(run: JobRun, error: BaseException, tail: ev.LogTail | None) -> StartRecord:
    """The record of a deploy that failed: the task whose log explains it (named by the error,
    else the one whose log was read), and the console link only when there is a log to link —
    a failure before any task existed, or whose container never ran, has none (SPEC §17)."""
    record = run.record(StartRecord)
    if tail is None or never_ran(error):
        return replace(record, failed_task="", logs_url="")
    task = error.task if isinstance(error, StoppedTaskError) else ""
    if not task and tail.stream:  # "<prefix>/<container>/<task id>"
        task = tail.stream.rsplit("/", 1)[-1]
    return replace(record, failed_task=task.rsplit("/", 1)[-1])


def _failing_step(run: JobRun, record: StartRecord) -> str | None:
    """The step that was running when the job failed: the first one not yet done."""
    for step in STEPS:
        if not run.done(step.name, ORDER) and step.when(run, record):
            return step.name
    return None


def undo_failed_start(run: JobRun) -> None:
    """A failed deploy leaves no service it created running, and labels that say failed.

    Best effort: what fails here is said in the thread, and the sweeper finishes it (a
    service whose PR says 🚦 failed is deleted once no job runs for the PR, SPEC §12).
    """
    record = run.record(StartRecord)
    name = service_name(run.pr, record.sha7)
    if record.created_service and record.mode is not DeployMode.REDEPLOY:
        try:
            run.deps.ecs.delete_service(name)
            run.say(ev.Warning(f"deleted `{name}`, which this failed deploy had created"))
        except Exception as exc:
            run.say(
                ev.Warning(
                    f"could not delete `{name}` after the failure ({exc}); "
                    "the sweeper deletes it shortly"
                )
            )
    if not run.done("claim", ORDER):
        return
    names = list(record.labels)
    previous = L.parse_labels(names).active
    if record.mode is DeployMode.ROLLING and previous and previous.url:
        run.say(
            ev.Warning(f"the previous environment {previous.sha} still serves at {previous.url}")
        )
    try:
        change = D.failed_labels(
            record.sha7, names, still_running=record.mode is DeployMode.REDEPLOY
        )
        labels = run.set_labels(change, names)
        run.step(run.job.step or "claim", replace(record, labels=labels))
    except Interrupted:
        raise
    except Exception as exc:
        stale = run.deps.policy.stale_claim_after.total_seconds() / 60
        run.say(
            ev.Warning(
                f"could not label the PR failed ({exc}); its 🚦 deploying claim goes stale "
                f"after {stale:g} minutes"
            )
        )
        log.warning("could not label #%s failed", run.pr, exc_info=True)


def undo_cancelled_start(run: JobRun, mirror: DeploymentMirror) -> None:
    """A cancelled deploy leaves nothing of itself (SPEC §16): the service it created (a
    fresh deploy's, a rolling update's new one) or, for an in-place redeploy, the service back
    on the task definition it ran; the task definition it registered deregistered; the PR's
    labels as they were before its claim (the previous environment keeps its 🎯); its
    GitHub deployment inactive. Each undo is said in the thread; one that fails is said too,
    and the sweeper finishes it."""
    record = run.record(StartRecord)
    name = service_name(run.pr, record.sha7)
    ecs = run.deps.ecs
    if record.created_service and record.mode is not DeployMode.REDEPLOY:
        _undo(run, f"delete `{name}`", f"deleted `{name}`", lambda: ecs.delete_service(name))
    if record.mode is DeployMode.REDEPLOY and run.done("redeploy", ORDER):
        previous = record.previous_task_definition
        if previous:
            _undo(
                run,
                f"put `{name}` back on its previous task definition",
                f"`{name}` is back on its previous task definition",
                lambda: ecs.redeploy(name, previous),
            )
    if record.task_definition:
        arn = record.task_definition
        family = arn.rsplit("/", 1)[-1]
        _undo(
            run,
            f"deregister `{family}`",
            f"deregistered `{family}`",
            lambda: ecs.deregister_task_definition(arn),
        )
    if run.done("claim", ORDER):
        names = list(record.labels)
        change = D.labels_before_claim(names, list(record.before), record.sha7)
        _undo(
            run,
            "put the PR's labels back",
            "the PR's labels are as they were",
            lambda: run.set_labels(change, names),
        )
        run.later("retire the deployment", lambda: mirror.inactive(run, {record.sha7}))


def _undo(run: JobRun, what: str, done: str, work: Callable[[], object]) -> None:
    try:
        work()
        run.say(ev.StepFinished("cancel", f"Undone: {done}"))
    except Interrupted:
        raise
    except Exception as exc:
        log.warning("could not %s after a cancel", what, exc_info=True, extra={"job": run.job.id})
        run.say(ev.Warning(f"could not {what} after the cancel ({exc}); the sweeper finishes it"))


# ----- Check again (SPEC §15): the smoke step alone, on the running environment ----------------


def validate_check(deps: Deps, job: Job, known: PullRequest | None = None) -> StartRecord:
    """The PR's active environment, running, with its address (one GitHub read), and the task
    definition its service runs (ECS's list): what the smoke check needs."""
    assert job.pr is not None
    info = known if known is not None and known.number == job.pr else deps.github.get_pr(job.pr)
    labels = L.parse_labels(info.labels)
    raise_refusal(D.refuse_change(labels), job.pr)
    show = labels.active
    if show is None or show.status != L.RUNNING or not show.address:
        raise UserInputError(
            f"#{job.pr} has no running environment to check",
            f"start one with `/showtime start {job.pr}`",
        )
    if not deps.policy.smoke_checks or deps.smoke is None:
        raise RefusedError(
            "no smoke checks are configured (SHOWTIME_SMOKE_CHECKS is empty)",
            "an admin sets SHOWTIME_SMOKE_CHECKS to use Check again",
        )
    name = service_name(job.pr, show.sha)
    service = next((s for s in deps.ecs.find_services(job.pr) if s.name == name), None)
    if service is None or not service.task_definition:
        raise UserInputError(
            f"`{name}` does not run in ECS", f"start it with `/showtime start {job.pr}`"
        )
    return StartRecord(
        labels=tuple(info.labels),
        title=info.title,
        sha7=show.sha,
        mode=DeployMode.REDEPLOY,
        task_definition=service.task_definition,
        address=show.address,
        logs_url=deps.logs.console_url(name),
    )


def run_check(run: JobRun, mirror: DeploymentMirror) -> ev.Succeeded:
    record = run.record(StartRecord)
    run.say(ev.StepStarted("smoke", "Checking again that Superset works"))
    record = _smoke(run, record)
    run.step("smoke", record)
    run.say(ev.StepFinished("smoke", _smoke_said(run, record)))
    log_tail = (
        run.deps.logs.tail(_service(run, record), FAILURE_LOG_LINES) if record.degraded else None
    )
    url = f"http://{record.address}"
    run.later("update the deployment", lambda: mirror.checked(run, record, url))
    return ev.Succeeded(
        text=f"#{run.pr} {record.sha7} at {url}, checked again",
        url=url,
        estimate=costs.estimate_of(run.deps, run.pr, record.labels),
        checked=record.checked,
        degraded=record.degraded,
        log=log_tail,
    )
