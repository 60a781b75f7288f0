"""Changes to a PR's environment other than a deploy: stop, TTL, freeze/unfreeze."""

from __future__ import annotations

from dataclasses import replace

from bot.domain import events as ev
from bot.domain import labels as L
from bot.domain.naming import parse_service_name, service_name
from bot.errors import NothingToDo, RefusedError, UserInputError
from bot.orchestrator import costs
from bot.orchestrator import decisions as D
from bot.orchestrator.context import Deps, JobRun
from bot.orchestrator.jobs import (
    SMOKE_JOBS,
    Job,
    JobKind,
    PrRecord,
    StopRecord,
    TtlParams,
    smoke_results,
)
from bot.orchestrator.mirror import DeploymentMirror
from bot.orchestrator.ports import PullRequest

STOP_ORDER = ("validate", "delete_services", "labels")


def validate(deps: Deps, job: Job, known: PullRequest | None = None) -> PrRecord:
    """Reads only: the PR (one GET; a stop of a PR without labels also asks ECS). Refused on
    a blocked PR; a button pressed on a message about an environment that is gone is out of
    date (stop still works); a change that would change nothing is ``NothingToDo`` — the
    person who asked hears how things are, and nothing is posted or written (SPEC §17)."""
    assert job.pr is not None
    info = known if known is not None and known.number == job.pr else deps.github.get_pr(job.pr)
    labels = L.parse_labels(info.labels)
    if refusal := D.refuse_change(labels):
        raise RefusedError(refusal.message, refusal.next_action)
    if job.params.button and job.kind is not JobKind.STOP and not labels.has_environment:
        raise UserInputError(
            f"#{job.pr} has no environment any more; this message is out of date",
            f"start one with `/showtime start {job.pr}`",
        )
    if job.kind is JobKind.STOP:
        if D.teardown_labels(list(info.labels)).empty:
            # No label to remove: only ECS can say whether anything runs (a label-less
            # service the CLI left). A stop with labels to remove costs no look here.
            services = [service.name for service in deps.ecs.find_services(job.pr)]
            _nothing_to_do(D.nothing_to_stop(job.pr, info.labels, services))
        return StopRecord(labels=tuple(info.labels), title=info.title)
    if job.kind in (JobKind.FREEZE, JobKind.UNFREEZE):
        _nothing_to_do(D.nothing_to_freeze(job.pr, labels, frozen=job.kind is JobKind.FREEZE))
    if job.kind is JobKind.TTL and isinstance(job.params, TtlParams):
        ttl = _target_ttl(deps, job.params, labels)
        _nothing_to_do(D.nothing_to_set(job.pr, labels, ttl))
        budget = deps.policy.monthly_budget
        if ttl is not None and budget is not None:
            # A longer TTL is more money: held against the monthly budget like a new environment.
            costs.hold_for_ttl(deps, job, costs.ttl_change(deps, job.pr, info.labels, ttl), ttl)
    active = labels.active
    record = PrRecord(labels=tuple(info.labels), title=info.title, head=info.head_sha)
    if active is None:
        return record
    # Its Logs button stays on the status message whatever job ran on it last (no AWS call),
    # and so does what its smoke check found (the job store's, no call either).
    smoke = smoke_results(deps.store.recent(SMOKE_JOBS, pr=job.pr)).get((job.pr, active.sha))
    return replace(
        record,
        logs_url=deps.logs.console_url(service_name(job.pr, active.sha)),
        checked=smoke.checked if smoke else "",
        degraded=smoke.degraded if smoke else "",
    )


def _nothing_to_do(refusal: D.Refusal | None) -> None:
    if refusal is not None:
        raise NothingToDo(refusal.message, refusal.next_action)


def _target_ttl(deps: Deps, params: TtlParams, labels: L.PrLabels) -> str | None:
    """The TTL a ``ttl`` command or an Extend press asks for, given the PR's current one;
    None when Extend is at the longest step already."""
    return D.ttl_target(
        labels, asked=params.ttl, extend=params.extend, default_ttl=deps.policy.default_ttl
    )


def run_stop(run: JobRun, mirror: DeploymentMirror) -> ev.Succeeded:
    """Delete the PR's services (found in ECS, not only through labels) and its labels.

    Done once ECS accepted the deletions and the labels are gone; DRAINING is the next
    start's business. Each half is recorded, so a resumed stop skips what it did.
    """
    pr = run.pr
    record = run.record(StopRecord)
    if not run.done("delete_services", STOP_ORDER):
        run.say(ev.StepStarted("delete_services", f"Deleting the ECS services of #{pr}"))
        deleted = tuple(run.deps.ecs.delete_pr_environments(pr))
        record = replace(record, deleted=deleted)
        run.step("delete_services", record)
        what = ", ".join(f"`{n}`" for n in deleted) or "none was running"
        run.say(ev.StepFinished("delete_services", f"ECS services deleted: {what}"))
    names = list(record.labels)  # read at validation, moments ago (no second GET)
    gone = {show.sha for show in L.parse_labels(names).shows}
    gone.update(_sha_of_service(name) for name in record.deleted)
    run.later("mark the deployments inactive", lambda: mirror.inactive(run, gone - {""}))
    change = D.teardown_labels(names)
    run.say(ev.StepStarted("labels", f"Removing {len(change.remove)} showtime label(s)"))
    record = replace(record, labels=run.set_labels(change, names))
    run.step("labels", record)
    run.say(ev.StepFinished("labels", f"Removed {len(change.remove)} showtime label(s)"))
    if not record.deleted and not change.remove:
        return ev.Succeeded(text=f"#{pr} had no environment; nothing to stop")
    what = ", ".join(f"`{n}`" for n in record.deleted) or "no running service"
    return ev.Succeeded(text=f"#{pr} stopped: deleted {what} and {len(change.remove)} label(s)")


def _sha_of_service(name: str) -> str:
    parsed = parse_service_name(name)
    return (parsed[1] or "") if parsed else ""


def run_ttl(run: JobRun) -> ev.Succeeded:
    """Set the PR-level TTL, or with ``extend`` move it one step (24h → 48h → 72h → 1w)."""
    params = run.job.params
    assert isinstance(params, TtlParams)
    record = run.record(PrRecord)
    names = list(record.labels)
    ttl = _target_ttl(run.deps, params, L.parse_labels(names))
    assert ttl is not None, "validation refuses an Extend at the longest TTL (same labels)"
    change = costs.ttl_change(run.deps, run.pr, names, ttl)
    record = replace(record, labels=run.set_labels(D.set_ttl_labels(names, ttl), names))
    run.step("labels", record)
    costs.record_expiries(run.deps, change.expiries)
    said = change.text()
    return ev.Succeeded(
        text=f"#{run.pr} TTL is now {ttl} (`{L.ttl_label(ttl)}`)" + (f": {said}" if said else ""),
        estimate=costs.estimate_of(run.deps, run.pr, record.labels),
    )


def run_freeze(run: JobRun) -> ev.Succeeded:
    record = run.record(PrRecord)
    names = list(record.labels)
    frozen = run.job.kind is JobKind.FREEZE
    change = D.freeze_labels(names, frozen=frozen)
    record = replace(record, labels=run.set_labels(change, names))
    run.step("labels", record)
    estimate = costs.estimate_of(run.deps, run.pr, record.labels)
    if frozen:
        return ev.Succeeded(
            text=f"#{run.pr} is frozen: new commits do not redeploy it", estimate=estimate
        )
    active = L.parse_labels(list(record.labels)).active
    head = record.head[:7]
    if active is None or not head or head == active.sha:
        return ev.Succeeded(text=f"#{run.pr} is unfrozen", estimate=estimate)
    # A push while it was frozen was not deployed; unfreezing does not deploy it either.
    return ev.Succeeded(
        text=f"#{run.pr} is unfrozen; it runs `{active.sha}`, and its newest commit "
        f"`{head}` is not deployed: press *Redeploy* to deploy it",
        estimate=estimate,
    )
