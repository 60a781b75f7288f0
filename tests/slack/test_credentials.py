"""An environment's admin login (SPEC §15), through the real Bolt app: `/showtime creds <pr>`
and the Credentials button answer only the allowed person who asked, ephemerally, with the
password its task definition carries; the CLI's environments say admin / admin and why."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from slack_support import OUTSIDER, SlackWorld
from support import SLACK_USER

from bot.adapters.ecs.taskdef import app_environment
from bot.domain import labels as L
from bot.sandbox.aws import cli_environment
from bot.sandbox.slack import DEFAULT_CHANNEL, block_kit_problems
from bot.slack import views

PR = 36121
URL = "http://203.0.113.10:8080"
CLI_PR, CLI_SHA = 36122, "c11c11c"


def answers(sw: SlackWorld, user: str = SLACK_USER) -> list[dict[str, Any]]:
    """What was said through response URLs to ``user``, in order."""
    return [r for r in sw.slack.responses() if r["user"] == user]


def said(answer: dict[str, Any]) -> str:
    return "\n".join(
        [b["text"]["text"] for b in answer["blocks"] if b["type"] == "section"]
        + [e["text"] for b in answer["blocks"] if b["type"] == "context" for e in b["elements"]]
    )


def password_of(sw: SlackWorld, pr: int = PR) -> str:
    """The ADMIN_PASSWORD of the task definition the PR's service runs, as ECS has it."""
    ecs = boto3.client("ecs", region_name=sw.world.network.region)
    (service,) = [s for s in sw.world.services() if s["serviceName"].startswith(f"pr-{pr}-")]
    definition = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])
    return app_environment(definition["taskDefinition"])["ADMIN_PASSWORD"]


def sha7(sw: SlackWorld) -> str:
    return sw.world.github_standin.head_sha(PR)[:7]


@pytest.fixture
def running(slack_world: SlackWorld) -> SlackWorld:
    """The Slack world with #36121 running, started by the maintainer."""
    slack_world.command(f"start {PR}")
    return slack_world


def test_creds_answers_the_asker_alone_with_the_environments_own_password(
    running: SlackWorld,
) -> None:
    sw = running
    password = password_of(sw)
    assert len(password) >= 20

    outcome = sw.command(f"creds {PR}")

    (answer,) = [a for a in answers(sw) if a["text"].startswith("Admin login")]
    assert answer["is_ephemeral"] and answer["response_type"] == "ephemeral"
    assert answer["text"] == f"Admin login of #{PR} `{sha7(sw)}`"  # no password in it
    text = said(answer)
    assert f"`{sha7(sw)}` — <{URL}|{URL}>" in text
    assert f"user `admin` · password `{password}`" in text
    assert block_kit_problems(answer["blocks"]) == []
    assert outcome.jobs == []  # read-only: no job, nothing in the store
    # Nothing was posted where others read it.
    for message in sw.slack.channel_messages(DEFAULT_CHANNEL):
        assert password not in str(message)
        assert password not in str(sw.slack.thread(DEFAULT_CHANNEL, message["ts"]))


def test_the_credentials_button_on_the_status_message_and_in_the_ready_dm(
    running: SlackWorld,
) -> None:
    sw = running
    status = sw.status_message()
    assert views.ACTION_CREDENTIALS in sw.buttons(status)
    (ready,) = sw.slack.direct_messages(SLACK_USER)
    password = password_of(sw)
    before = sw.slack.message(status["channel"], status["ts"])

    sw.click(status, views.ACTION_CREDENTIALS)
    sw.click(ready, views.ACTION_CREDENTIALS)

    pressed = [a for a in answers(sw) if a["text"].startswith("Admin login")]
    assert [a["channel"] for a in pressed] == [DEFAULT_CHANNEL, ready["channel"]]
    for answer in pressed:
        assert answer["is_ephemeral"] and not answer["replace_original"]
        assert f"password `{password}`" in said(answer)
    # The messages pressed on are unchanged.
    assert sw.slack.message(status["channel"], status["ts"]) == before
    assert (sw.slack.message(ready["channel"], ready["ts"]) or {})["edit_count"] == 0


def test_an_outsider_gets_no_credentials_from_the_command_or_the_button(
    running: SlackWorld,
) -> None:
    sw = running
    password = password_of(sw)

    typed = sw.command(f"creds {PR}", user_id=OUTSIDER, user_name="outsider")
    pressed = sw.click(sw.status_message(), views.ACTION_CREDENTIALS, user_id=OUTSIDER)

    for outcome in (typed, pressed):
        assert outcome.replies[0].startswith("🚫 You (<@U0OUTSIDER>")
    assert all(password not in str(a) for a in answers(sw, OUTSIDER))


def test_creds_of_a_pr_without_an_environment_says_so(slack_world: SlackWorld) -> None:
    outcome = slack_world.command(f"creds {PR}")
    assert outcome.replies[0].startswith(
        f"🚫 #{PR} has no active environment (🎯), so there is no login to show"
    )


def test_a_cli_environment_is_admin_admin_and_says_why(slack_world: SlackWorld) -> None:
    sw = slack_world
    _cli_environment(sw)

    sw.command(f"creds {CLI_PR}")

    (answer,) = [a for a in answers(sw) if a["text"].startswith("Admin login")]
    assert answer["is_ephemeral"]
    assert "admin / admin (the CLI's default: this environment has no password of its own)" in said(
        answer
    )
    assert "<http://198.51.100.7:8080|http://198.51.100.7:8080>" in said(answer)


def test_a_button_for_an_environment_that_is_gone_says_so(running: SlackWorld) -> None:
    sw = running
    status = sw.status_message()
    # Stopped behind the bot's back (the CLI, or labels removed by hand): the message still
    # offers Credentials for an environment that is gone.
    sw.world.github_standin.set_labels(PR, [])

    pressed = sw.click(status, views.ACTION_CREDENTIALS)

    assert pressed.replies[0].startswith(f"🚫 #{PR} no longer has the environment `{sha7(sw)}`")


def _cli_environment(sw: SlackWorld) -> None:
    """An environment as the superset-showtime CLI makes it: a task definition without
    ADMIN_PASSWORD, a service tagged by it, and its labels on the PR."""
    network = sw.world.network
    cli_environment(
        boto3.client("ecs", region_name=network.region),
        network,
        CLI_PR,
        CLI_SHA,
        container={
            "name": "superset-ci",
            "image": f"apache/superset:pr-{CLI_PR}-{CLI_SHA}-ci",
            "environment": [{"name": "SUPERSET_LOAD_EXAMPLES", "value": "yes"}],
        },
    )
    sw.world.github_standin.set_labels(
        CLI_PR,
        [
            L.active_label(CLI_SHA),
            L.status_label(CLI_SHA, L.RUNNING),
            L.address_label(CLI_SHA, "198.51.100.7:8080"),
            L.ttl_label("48h"),
        ],
    )
