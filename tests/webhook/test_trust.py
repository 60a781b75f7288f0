"""A GitHub delivery is a claim about the past (SPEC §11): the bot acts on the PR as it is now.

Each test is a way deliveries lie — late, twice, out of order, after a person acted in Slack,
from someone not allowed, while GitHub cannot say who may act — sent signed over HTTP to the
real bot, with GitHub's side (the stand-in) changed the way the person's action would.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from hook_support import READER, WRITER, HookWorld

from bot.domain import labels as L
from bot.domain.requester import Requester
from bot.orchestrator.github_events import delivery_keys
from bot.orchestrator.jobs import JobKind, JobState
from bot.sandbox.github import ROUTE_PERMISSION
from bot.slack import views

PR = 36121


def head(hw: HookWorld) -> str:
    return hw.world.github_standin.head_sha(PR)


def running(hw: HookWorld) -> str | None:
    shows = L.parse_labels(hw.world.labels(PR)).shows
    return next((s.sha for s in shows if s.status == L.RUNNING), None)


def deployed_shas(hw: HookWorld) -> list[str]:
    """Every SHA a start job of the PR deployed (or tried to), oldest first."""
    return [
        j.record.sha  # type: ignore[union-attr]
        for j in hw.jobs(PR)
        if j.kind is JobKind.START and j.step not in (None, "validate")
    ]


def started(hw: HookWorld) -> str:
    """An environment of the PR's head, started by an allowed person's trigger label."""
    hw.hooks.label(PR, L.TRIGGER_START, WRITER)
    hw.idle(PR)
    assert running(hw) == head(hw)[:7]
    return head(hw)


def thread_texts(hw: HookWorld) -> list[str]:
    message = hw.status_message(PR)
    return [str(m.get("text", "")) for m in hw.slack.thread(message["channel"], message["ts"])]


# ----- a head nobody allowed is never deployed ------------------------------------------------


def test_a_readers_push_after_a_writers_queued_push_deploys_neither_readers_commit(
    hook_world: HookWorld,
) -> None:
    """The writer's push waits for the running update, pinned to its SHA; a reader then
    pushes. When the job ends nothing of the reader's is deployed, and the thread says so."""
    hw = hook_world
    first = started(hw)
    hw.gate.clear()  # the next deploy waits at its health check
    hw.hooks.push(PR, WRITER)
    hw.wait_until(lambda: hw.bot.store.live_job(f"pr:{PR}"), "the writer's update to run")
    hw.hooks.push(PR, WRITER)  # queued behind it, pinned to this head
    hw.wait_until(lambda: hw.bot.store.queued_prs() == [PR], "the writer's push to wait")
    hw.hooks.push(PR, READER)
    readers = head(hw)
    hw.gate.set()
    hw.idle(PR)
    assert readers not in deployed_shas(hw)
    assert running(hw) not in (readers[:7], first[:7])
    said = "\n".join(thread_texts(hw))
    assert f"new commit `{readers[:7]}` by @{READER}" in said and "may not deploy" in said
    assert "queued before it is dropped" in said


def test_a_trigger_label_during_a_job_deploys_the_head_it_was_added_on_only(
    hook_world: HookWorld,
) -> None:
    hw = hook_world
    started(hw)
    github = hw.world.github_standin
    hw.gate.clear()
    hw.hooks.push(PR, WRITER)
    hw.wait_until(lambda: hw.bot.store.live_job(f"pr:{PR}"), "the update to run")
    github.push_commit(PR)  # a new head; the maintainer wants it, and adds the label
    asked = head(hw)
    hw.hooks.label(PR, L.TRIGGER_START, WRITER)  # while the job runs: queued, pinned to it
    hw.wait_until(lambda: hw.bot.store.queued_prs() == [PR], "the trigger to wait")
    github.push_commit(PR)  # someone not allowed moves the head again (unheard)
    hw.gate.set()
    hw.idle(PR)
    shas = deployed_shas(hw)
    assert head(hw) not in shas  # nobody allowed it
    assert asked not in shas  # no longer the head when its turn came
    hw.wait_until(  # said once its turn came (the notice follows the queue's update)
        lambda: any(f"`{asked[:7]}`" in t and "not deployed" in t for t in thread_texts(hw)),
        "the thread to say what was not deployed",
    )


# ----- old news changes nothing --------------------------------------------------------------


def test_a_push_delivered_after_a_newer_one_does_not_roll_back(hook_world: HookWorld) -> None:
    hw = hook_world
    started(hw)
    github = hw.world.github_standin
    github.push_commit(PR)
    older = github.pull_request_payload(PR, "synchronize", WRITER)  # delivered late
    hw.hooks.push(PR, WRITER)
    hw.idle(PR)
    newest = head(hw)
    assert running(hw) == newest[:7]
    assert hw.hooks.send("pull_request", older).status == 202
    hw.idle(PR)
    assert running(hw) == newest[:7]
    assert [s["serviceName"] for s in hw.world.services()] == [f"pr-{PR}-{newest[:7]}-service"]


def test_the_same_body_under_a_new_guid_is_a_repeat(hook_world: HookWorld) -> None:
    hw = hook_world
    started(hw)
    delivery = hw.hooks.push(PR, WRITER)
    hw.idle(PR)
    before = len(hw.jobs(PR))
    replay = hw.hooks.post(delivery.event, delivery.body, guid=str(uuid.uuid4()))
    assert replay.status == 202
    hw.idle(PR)
    assert len(hw.jobs(PR)) == before


def test_a_push_delivered_after_a_stop_in_slack_does_not_bring_it_back(
    hook_world: HookWorld,
) -> None:
    hw = hook_world
    started(hw)
    github = hw.world.github_standin
    github.push_commit(PR)
    late = github.pull_request_payload(PR, "synchronize", WRITER)
    stopped = hw.command(f"stop {PR}")
    assert [j.state for j in stopped.jobs] == [JobState.SUCCEEDED]
    hw.hooks.send("pull_request", late)
    hw.idle(PR)
    assert hw.world.showtime_labels() == [] and hw.world.services() == []


def test_a_trigger_label_already_taken_off_does_nothing(hook_world: HookWorld) -> None:
    hw = hook_world
    github = hw.world.github_standin
    github.set_labels(PR, [L.TRIGGER_START])
    payload = github.pull_request_payload(PR, "labeled", WRITER, label=L.TRIGGER_START)
    github.set_labels(PR, [])  # a maintainer removed it again before the delivery came
    hw.hooks.send("pull_request", payload)
    assert hw.idle(PR) == []


def test_a_close_delivered_after_the_pr_was_reopened_does_nothing(hook_world: HookWorld) -> None:
    hw = hook_world
    started(hw)
    github = hw.world.github_standin
    github.close_pr(PR)
    closed = github.pull_request_payload(PR, "closed", WRITER)
    github.reopen_pr(PR)
    hw.hooks.send("pull_request", closed)
    hw.idle(PR)
    assert running(hw) == head(hw)[:7] and len(hw.world.services()) == 1


# ----- unknown is not no -----------------------------------------------------------------------


def test_a_permission_look_up_that_fails_is_asked_again_not_refused(
    hook_world: HookWorld,
) -> None:
    hw = hook_world
    github = hw.world.github_standin
    github.set_permission("new-committer", "write")
    github.fail_next("GET", ROUTE_PERMISSION, 502, times=12)  # beyond the adapter's own retries
    hw.hooks.label(PR, L.TRIGGER_START, "new-committer")
    jobs = hw.idle(PR)
    assert [(j.kind, j.state) for j in jobs] == [(JobKind.START, JobState.SUCCEEDED)]
    assert github.comments(PR) == []  # nobody was told in public they lack access


def test_giving_up_on_a_permission_says_what_to_do_and_a_redelivery_works(
    hook_world: HookWorld,
) -> None:
    hw = hook_world
    started(hw)
    github = hw.world.github_standin
    github.set_permission("new-committer", "write")
    github.fail_next("GET", ROUTE_PERMISSION, 502, times=100_000)
    delivery = hw.hooks.push(PR, "new-committer")
    hw.wait_until(
        lambda: any("could not say what @new-committer may do" in t for t in thread_texts(hw)),
        "the line saying so",
    )
    assert github.comments(PR) == [] and not hw.bot.store.remembered(
        delivery_keys(delivery.guid)
    )  # not handled: a redelivery may try again
    github.clear_faults()  # GitHub is back
    hw.hooks.redeliver(delivery)
    hw.idle(PR)
    assert running(hw) == head(hw)[:7]


# ----- the shape of what is signed ------------------------------------------------------------


def _payload(hw: HookWorld) -> dict[str, Any]:
    return hw.world.github_standin.pull_request_payload(
        PR, "labeled", WRITER, label=L.TRIGGER_START
    )


ODD_SHAPES: list[tuple[str, Any, str]] = [
    ("label", "a string", "label"),
    ("sender", "a string", "sender"),
    ("action", 7, "action"),
    ("pull_request", [], "pull_request"),
    ("number", "36121", "pull_request.number"),
    ("number", True, "pull_request.number"),
    ("number", -1, "pull_request.number"),
    ("head", None, "pull_request.head"),
    ("sha", "not-a-sha", "pull_request.head.sha"),
    ("login", ["x"], "sender.login"),
    ("name", {"x": 1}, "label.name"),
]


def _bend(payload: dict[str, Any], field: str, value: Any) -> dict[str, Any]:
    where = {
        "number": payload["pull_request"],
        "head": payload["pull_request"],
        "sha": payload["pull_request"]["head"],
        "login": payload["sender"],
        "name": payload["label"],
    }.get(field, payload)
    where[field] = value
    return payload


@pytest.mark.parametrize(("field", "value", "named"), ODD_SHAPES)
def test_a_signed_payload_of_the_wrong_shape_is_a_400_naming_the_field(
    hook_world: HookWorld, field: str, value: Any, named: str
) -> None:
    hw = hook_world
    body = json.dumps(_bend(_payload(hw), field, value), allow_nan=True).encode()
    answer = hw.hooks.post("pull_request", body, guid=str(uuid.uuid4()))
    assert answer.status == 400, answer.answer
    assert f"`{named}`" in answer.answer["error"]
    assert hw.idle(PR) == []


def test_a_body_that_is_not_json_is_a_400_not_a_traceback(hook_world: HookWorld) -> None:
    hw = hook_world
    for body in (b"not json", b"[1, 2]", b'{"action": NaN}', b'{"n": Infinity}', b"{" * 5000):
        answer = hw.hooks.post("pull_request", body, guid=str(uuid.uuid4()))
        assert answer.status == 400 and "Traceback" not in json.dumps(answer.answer)


def test_a_delivery_without_a_guid_is_a_400(hook_world: HookWorld) -> None:
    hw = hook_world
    body = json.dumps(_payload(hw)).encode()
    assert hw.hooks.post("pull_request", body, guid="").status == 400
    assert hw.idle(PR) == []


def test_handled_deliveries_are_kept_a_week_then_forgotten(hook_world: HookWorld) -> None:
    hw = hook_world
    delivery = hw.hooks.push(PR, WRITER)  # no environment: handled, nothing to do
    hw.idle(PR)
    keys = delivery_keys(delivery.guid)
    events = hw.bot.orchestrator.events
    hw.world.clock.advance(timedelta(days=6).total_seconds())
    events.prune()
    assert hw.bot.store.remembered(keys)
    hw.world.clock.advance(timedelta(days=2).total_seconds())
    events.prune()
    assert not hw.bot.store.remembered(keys)


# ----- who asked, typed ----------------------------------------------------------------------


def test_a_login_shaped_like_a_slack_id_is_never_a_mention_nor_someones_own(
    hook_world: HookWorld,
) -> None:
    hw = hook_world
    lookalike = "U0MAINTAINER"  # exactly the Slack id of the allowed Slack user
    hw.world.github_standin.set_permission(lookalike, "write")
    hw.hooks.label(PR, L.TRIGGER_START, lookalike)
    hw.idle(PR)
    shown = json.dumps(hw.slack.channel_messages("C0SHOWTIME")) + "\n".join(thread_texts(hw))
    assert f"<@{lookalike}>" not in shown
    assert f"requested by {lookalike} on GitHub" in shown
    home = hw.open_home(lookalike)
    assert "Your environments (0)" in json.dumps(home)
    (service,) = hw.bot.ports.ecs.find_services(PR)
    assert service.requested_by == Requester.github(lookalike)  # tagged "github:U0MAINTAINER"


def test_a_trigger_while_a_stop_runs_is_not_lost(hook_world: HookWorld) -> None:
    """Not refused as busy either: it waits for the stop and then deploys."""
    hw = hook_world
    started(hw)
    stop = hw.command(f"stop {PR}")
    assert stop.jobs
    hw.hooks.label(PR, L.TRIGGER_START, WRITER)
    hw.idle(PR)
    assert running(hw) == head(hw)[:7]
    assert views.ACTION_STOP  # the status message of the new deploy has its buttons again
