"""The environment's own log in what the orchestrator tells (SPEC §14): a failed deploy's
last lines on its ``Failed`` event, the newest line on health-check heartbeats, and the
``logs`` query. On the in-memory fakes, then on the stand-ins for the AWS budget."""

from __future__ import annotations

import pytest
from support import FakeWorld, World

from bot.domain import events as ev
from bot.errors import StoppedTaskError, UserInputError
from bot.sandbox.aws import CRASH_LINES

PR = 36121


def failed_event(world: FakeWorld | World, job_id: str) -> ev.Failed:
    failed = [e for e in world.events_of(job_id) if isinstance(e, ev.Failed)]
    assert len(failed) == 1
    return failed[0]


def stopped(task: str, *, started: bool = True) -> StoppedTaskError:
    error = StoppedTaskError(
        "a task of the service stopped: Essential container in task exited",
        "push a fix or press Retry",
        service="AWS",
        operation="DescribeTasks",
    )
    error.task, error.started = task, started
    return error


def deploy_failed_and_was_undone(world: FakeWorld, job_state: str, sha: str) -> None:
    assert job_state == "failed"
    assert f"🎪 {sha} 🚦 failed" in world.labels(PR)
    assert world.service_names() == []


# ----- a failed deploy ----------------------------------------------------------------------


def test_a_health_check_that_never_passes_carries_the_tasks_last_lines(
    fake_world: FakeWorld,
) -> None:
    sha = fake_world.gh.head_sha(PR)[:7]
    service = f"pr-{PR}-{sha}-service"
    fake_world.logs.lines[service] = [f"line {n}" for n in range(100)]
    assert fake_world.probe is not None
    fake_world.probe.status = lambda url: 503

    job = fake_world.start(PR)

    failed = failed_event(fake_world, job.id)
    assert "did not answer 200" in failed.reason
    assert failed.log is not None
    assert failed.log.lines == tuple(f"line {n}" for n in range(70, 100))
    deploy_failed_and_was_undone(fake_world, job.state.value, sha)
    # Read before the undo deleted the service; thirty lines, the service's current task.
    assert fake_world.logs.reads[-1] == (service, 30, None)


def test_a_stopped_task_is_read_by_the_task_the_error_names(fake_world: FakeWorld) -> None:
    sha = fake_world.gh.head_sha(PR)[:7]
    task = "arn:aws:ecs:us-west-2:000000000000:task/superset-ci/0f3c"
    fake_world.logs.lines[task] = ["Traceback (most recent call last):", "ImportError: x"]
    fake_world.logs.lines[f"pr-{PR}-{sha}-service"] = ["a successor's log"]
    assert fake_world.aws is not None
    fake_world.aws.fail_next("wait_stable", stopped(task))

    job = fake_world.start(PR)

    failed = failed_event(fake_world, job.id)
    assert failed.reason.startswith("a task of the service stopped")
    assert failed.log is not None and failed.log.lines[-1] == "ImportError: x"
    assert fake_world.logs.reads[-1][2] == task
    deploy_failed_and_was_undone(fake_world, job.state.value, sha)


def test_a_container_that_never_started_has_no_log_and_costs_no_read(
    fake_world: FakeWorld,
) -> None:
    assert fake_world.aws is not None
    fake_world.aws.fail_next("wait_stable", stopped("arn:…/task/c/1", started=False))

    job = fake_world.start(PR)

    failed = failed_event(fake_world, job.id)
    assert failed.log == ev.LogTail(problem="no log: the container never started, so it wrote none")
    assert fake_world.logs.reads == []


def test_a_failure_before_the_service_exists_reads_no_log(fake_world: FakeWorld) -> None:
    assert fake_world.aws is not None
    fake_world.aws.fail_next("create_service", RuntimeError("boom"))

    job = fake_world.start(PR)

    assert job.state.value == "failed"
    assert failed_event(fake_world, job.id).log is None
    assert fake_world.logs.reads == []


@pytest.mark.parametrize("how", ["problem", "raises"])
def test_a_log_that_cannot_be_read_changes_nothing_of_the_outcome(
    fake_world: FakeWorld, how: str
) -> None:
    sha = fake_world.gh.head_sha(PR)[:7]
    assert fake_world.probe is not None
    fake_world.probe.status = lambda url: 503
    if how == "problem":
        fake_world.logs.problem = "no log: the bot may not read logs — add logs:GetLogEvents"
    else:
        fake_world.logs.fail = RuntimeError("a port that breaks its promise")

    job = fake_world.start(PR)

    failed = failed_event(fake_world, job.id)
    assert "did not answer 200 within 15m" in failed.reason
    assert failed.log is not None and failed.log.lines == ()
    assert failed.log.problem.startswith("no log: ")
    deploy_failed_and_was_undone(fake_world, job.state.value, sha)


# ----- the heartbeat ----------------------------------------------------------------------


def test_health_check_heartbeats_carry_the_newest_line_read_at_most_once_a_minute(
    fake_world: FakeWorld,
) -> None:
    sha = fake_world.gh.head_sha(PR)[:7]
    service = f"pr-{PR}-{sha}-service"
    fake_world.logs.lines[service] = ["Loading configuration", "Running database migrations"]
    assert fake_world.probe is not None
    fake_world.probe.status = lambda url: 503

    job = fake_world.start(PR)

    waits = [e for e in fake_world.events_of(job.id) if isinstance(e, ev.Waiting)]
    health = [e for e in waits if e.step == "health_check"]
    assert len(health) >= 15  # one a minute for 15 minutes
    assert {e.log_line for e in health} == {"Running database migrations"}
    assert all(e.log_line == "" for e in waits if e.step != "health_check")
    heartbeat_reads = [r for r in fake_world.logs.reads if r[1] == 1]
    assert len(heartbeat_reads) == len(health) <= 16  # 15 minutes: at most one a minute


# ----- `logs <pr>` --------------------------------------------------------------------------


def test_logs_reads_the_active_environment(fake_world: FakeWorld) -> None:
    fake_world.start(PR)
    sha = fake_world.gh.head_sha(PR)[:7]
    service = f"pr-{PR}-{sha}-service"
    fake_world.logs.lines[service] = [f"line {n}" for n in range(300)]

    answer = fake_world.orchestrator.queries.logs(PR, 200)

    assert (answer.pr, answer.sha, answer.service) == (PR, sha, service)
    assert answer.tail.lines == tuple(f"line {n}" for n in range(100, 300))
    assert answer.console_url == f"https://console.example/{service}/logs"


def test_logs_of_a_pr_without_an_environment_is_bad_input(fake_world: FakeWorld) -> None:
    with pytest.raises(UserInputError, match="has no active environment"):
        fake_world.orchestrator.queries.logs(PR, 30)
    assert fake_world.logs.reads == []


def test_logs_of_a_given_sha_reads_that_environment_without_asking_github(
    fake_world: FakeWorld,
) -> None:
    calls = sum(fake_world.gh.calls.values())
    answer = fake_world.orchestrator.queries.logs(PR, 30, "ABCDEF1234")
    assert answer.service == f"pr-{PR}-abcdef1-service"
    assert sum(fake_world.gh.calls.values()) == calls
    with pytest.raises(UserInputError, match="not a commit SHA"):
        fake_world.orchestrator.queries.logs(PR, 30, "../x")


# ----- on the stand-ins: what AWS is asked ----------------------------------------------------


def test_a_boot_crash_fails_with_its_traceback_for_one_read(world: World) -> None:
    sha = world.github_standin.head_sha(PR)[:7]
    world.ecs_standin.crash_on_boot(f"apache/superset:pr-{PR}-{sha}-ci")
    world.ecs_standin.reset()

    job = world.start(PR)

    failed = failed_event(world, job.id)
    assert "Essential container in task exited" in failed.reason
    assert failed.log is not None and failed.log.lines == CRASH_LINES
    assert world.ecs_standin.calls["GetLogEvents"] == 1
    assert f"🎪 {sha} 🚦 failed" in world.labels(PR)
    assert world.services() == []


def test_access_denied_on_the_log_leaves_the_failure_as_it_was(world: World) -> None:
    sha = world.github_standin.head_sha(PR)[:7]
    world.ecs_standin.crash_on_boot(f"apache/superset:pr-{PR}-{sha}-ci")
    world.ecs_standin.fail_next("GetLogEvents", "AccessDeniedException", "not authorized")

    job = world.start(PR)

    failed = failed_event(world, job.id)
    assert "Essential container in task exited" in failed.reason
    assert failed.log is not None and "add logs:GetLogEvents" in failed.log.problem
    assert f"🎪 {sha} 🚦 failed" in world.labels(PR)
    assert world.services() == []


def test_a_crash_loop_heartbeat_reads_the_log_at_most_once_a_minute(world: World) -> None:
    sha = world.github_standin.head_sha(PR)[:7]
    world.ecs_standin.crash_loop(f"apache/superset:pr-{PR}-{sha}-ci", ["worker failed to boot"])
    world.health = lambda url: 503
    world.ecs_standin.reset()

    job = world.start(PR)

    health = [
        e for e in world.events_of(job.id) if isinstance(e, ev.Waiting) and e.step == "health_check"
    ]
    # The first wait comes as the task has just booted; then its workers keep failing.
    assert health[0].log_line == "Booting worker with pid: 7"
    assert len(health) > 10 and {e.log_line for e in health[1:]} == {"worker failed to boot"}
    # 15 minutes of health checks: a read on the first wait and at most one a minute after,
    # plus the failure's own read of thirty lines.
    assert world.ecs_standin.calls["GetLogEvents"] <= 16 + 1
    assert world.ecs_standin.calls["GetLogEvents"] == len(health) + 1
    failed = failed_event(world, job.id)
    assert failed.log is not None and failed.log.lines[-1] == "worker failed to boot"


def test_logs_costs_one_github_read_one_list_tasks_and_one_get_log_events(world: World) -> None:
    world.start(PR)
    world.github_standin.reset_counts()
    world.ecs_standin.reset()

    answer = world.orchestrator.queries.logs(PR, 30)

    assert answer.tail.lines[-1] == "Booting worker with pid: 7"
    assert world.github_standin.total() == 1
    assert dict(world.ecs_standin.calls) == {"ListTasks": 1, "GetLogEvents": 1}
