"""Reading an environment's own log (SPEC §14): CloudWatch Logs through the stand-in, which
writes each task's log where the bundled template's awslogs options say."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ecs_support import create

from bot.adapters.ecs import EcsEngine, EcsLogs, TasksStoppedError
from bot.clock import FakeClock
from bot.config import Settings
from bot.sandbox.aws import BOOT_LINES, CRASH_LINES, EcsStandIn

PR, SHA = 36121, "abc1234"
NAME = f"pr-{PR}-{SHA}-service"


def deploy(engine: EcsEngine, pr: int = PR, sha: str = SHA) -> None:
    create(engine, pr, sha)
    engine.wait_stable(f"pr-{pr}-{sha}-service")


def failed_deploy(engine: EcsEngine) -> TasksStoppedError:
    with pytest.raises(TasksStoppedError) as failure:
        deploy(engine)
    return failure.value


@pytest.fixture
def logs(ecs_settings: Settings, ecs_clock: FakeClock) -> EcsLogs:
    return EcsLogs(ecs_settings, clock=ecs_clock)


def test_a_running_environment_shows_its_boot_log_for_one_list_and_one_read(
    ecs_engine: EcsEngine, ecs_standin: EcsStandIn, logs: EcsLogs
) -> None:
    deploy(ecs_engine)
    ecs_standin.reset()

    tail = logs.tail(NAME, 5)

    assert tail.problem == ""
    assert tail.lines == tuple(line.format(port=8080) for line in BOOT_LINES[-5:])
    assert tail.truncated  # the boot sequence is longer than 5 lines
    assert tail.stream.startswith("ecs/superset-ci/")
    assert "arn:" not in tail.stream
    # SPEC §14's budget: the task (one ListTasks), then one GetLogEvents.
    assert dict(ecs_standin.calls) == {"ListTasks": 1, "GetLogEvents": 1}


def test_a_task_that_crashed_on_boot_is_read_by_the_arn_the_error_carries(
    ecs_engine: EcsEngine, ecs_standin: EcsStandIn, logs: EcsLogs
) -> None:
    ecs_standin.crash_on_boot(ecs_engine.image(PR, SHA))
    error = failed_deploy(ecs_engine)
    assert "Essential container in task exited" in error.message
    assert error.task.startswith("arn:aws:ecs:") and error.started
    ecs_standin.reset()

    tail = logs.tail(NAME, 30, error.task)

    assert tail.lines == CRASH_LINES
    assert tail.lines[-1].startswith("ModuleNotFoundError")
    assert dict(ecs_standin.calls) == {"GetLogEvents": 1}  # the task is known: no ECS call


def test_a_missing_image_never_started_so_its_task_has_no_stream(
    ecs_engine: EcsEngine, ecs_standin: EcsStandIn, logs: EcsLogs
) -> None:
    ecs_standin.mark_image_missing(ecs_engine.image(PR, SHA))
    error = failed_deploy(ecs_engine)
    assert error.image_missing and not error.started

    tail = logs.tail(NAME, 30, error.task)

    assert tail.lines == ()
    assert tail.problem.startswith("no log yet: task `")
    assert "has written nothing" in tail.problem and "arn:" not in tail.problem


def test_access_denied_is_one_sentence_at_once_never_an_exception_or_a_retry(
    ecs_engine: EcsEngine, ecs_standin: EcsStandIn, logs: EcsLogs
) -> None:
    deploy(ecs_engine)
    ecs_standin.reset()
    ecs_standin.fail_next(
        "GetLogEvents",
        "AccessDeniedException",
        "User: arn:aws:sts::123456789012:assumed-role/bot/i-0 is not authorized to perform: "
        "logs:GetLogEvents",
    )

    tail = logs.tail(NAME, 30)

    assert tail.lines == ()
    assert tail.problem == (
        "no log: the bot may not read logs — add logs:GetLogEvents on the log group "
        "`/ecs/superset-ci` to its IAM policy"
    )
    assert ecs_standin.calls["GetLogEvents"] == 1


def test_a_missing_log_group_says_which_setting_to_check(
    ecs_engine: EcsEngine, ecs_standin: EcsStandIn, logs: EcsLogs
) -> None:
    deploy(ecs_engine)
    ecs_standin.fail_next(
        "GetLogEvents", "ResourceNotFoundException", "The specified log group does not exist."
    )

    tail = logs.tail(NAME, 30)

    assert "the log group `/ecs/superset-ci` does not exist" in tail.problem
    assert "ECS_TASK_DEFINITION_FILE" in tail.problem


def test_a_service_without_a_running_task_says_so(logs: EcsLogs, ecs_standin: EcsStandIn) -> None:
    tail = logs.tail("pr-1-aaaaaaa-service", 30)
    assert "runs no task now" in tail.problem
    assert "GetLogEvents" not in ecs_standin.calls


def test_hostile_output_is_bounded_in_lines_and_length(
    ecs_engine: EcsEngine, ecs_standin: EcsStandIn, logs: EcsLogs, ecs_clock: FakeClock
) -> None:
    flood = "\n".join(f"<!channel> line {n}" for n in range(5000))
    ecs_standin.crash_loop(ecs_engine.image(PR, SHA), [flood, "x" * 10_000])
    deploy(ecs_engine)
    ecs_clock.advance(2.0)  # its first failed worker, a second after booting

    tail = logs.tail(NAME, 30)

    assert len(tail.lines) == 30
    assert tail.lines[-1] == "x" * 2000  # one line is cut here already
    assert tail.lines[-2] == "<!channel> line 4999"  # raw: whoever shows it escapes it
    assert tail.truncated


def test_during_a_redeploy_the_new_deployments_task_is_read(
    ecs_engine: EcsEngine, ecs_standin: EcsStandIn, logs: EcsLogs, ecs_clock: FakeClock
) -> None:
    deploy(ecs_engine)
    ecs_standin.crash_loop(ecs_engine.image(PR, SHA), ["from the new deployment"])
    ecs_engine.redeploy(NAME, ecs_engine.register_task_definition(PR, SHA, ""))
    ecs_standin.reset()

    during = logs.tail(NAME, 1)  # the old task serves; the new one is still PENDING

    assert during.problem.startswith("no log yet")
    # Two tasks run: which is newer takes one DescribeTasks.
    assert dict(ecs_standin.calls) == {"ListTasks": 1, "DescribeTasks": 1, "GetLogEvents": 1}
    ecs_clock.advance(25.0)  # the new task runs, the old one is stopped
    assert logs.tail(NAME, 1).lines == ("from the new deployment",)


def test_a_template_without_awslogs_is_one_sentence_and_no_call(
    ecs_make_settings: object, ecs_network: object, ecs_standin: EcsStandIn, tmp_path: Path
) -> None:
    template = json.loads(Path("bot/data/task-definition.json").read_text())
    del template["containerDefinitions"][0]["logConfiguration"]
    path = tmp_path / "td.json"
    path.write_text(json.dumps(template))
    settings = ecs_make_settings(ecs_network, ecs_task_definition_file=path)  # type: ignore[operator]

    tail = EcsLogs(settings).tail(NAME, 30)

    assert "does not log through the awslogs driver" in tail.problem
    assert sum(ecs_standin.calls.values()) == 0
