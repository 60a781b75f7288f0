"""Cancel reaches a deploy inside GitHub's rate-limit backoff too (SPEC §16): the real
GitHub adapter over the stand-in, whose secondary rate limit asks for ten minutes."""

from __future__ import annotations

from support import SLACK_USER, World

from bot.domain import events as ev
from bot.domain.requester import Requester
from bot.orchestrator.jobs import Job, JobKind, JobState, StartParams
from bot.orchestrator.models import Cancelling, JobRequest, Started
from bot.sandbox.github.routes import ROUTE_ISSUE_LABELS

PR = 36121
CANCELLER = Requester.slack("U0CANCELLER", "canceller")


def test_a_cancel_ends_the_rate_limit_wait_of_the_claim(world: World) -> None:
    github = world.github_standin
    # The claim's label write meets GitHub's secondary rate limit: "come back in 10 minutes".
    github.fail_next("POST", ROUTE_ISSUE_LABELS, 403, headers={"Retry-After": "600"})
    pressed: list[object] = []

    def press_cancel(job: Job, event: ev.Event) -> None:
        if not pressed and isinstance(event, ev.StepStarted) and event.step == "claim":
            pressed.append(world.orchestrator.jobs.cancel(PR, CANCELLER))

    world.recorder.hooks.append(press_cancel)
    began = world.clock.monotonic()
    answer = world.orchestrator.submit(
        JobRequest(
            kind=JobKind.START,
            pr=PR,
            requester=Requester.slack(SLACK_USER, "maintainer"),
            params=StartParams(),
        )
    )
    assert isinstance(answer, Started)
    done = world.orchestrator.wait(answer.job.id, 30)

    assert pressed and isinstance(pressed[0], Cancelling)
    assert done is not None and done.state is JobState.CANCELLED, done and done.outcome
    assert world.clock.monotonic() - began < 600  # the ten minutes were not waited out
    assert github.count("POST", ROUTE_ISSUE_LABELS) == 1  # not tried again after the cancel
    assert not [label for label in github.labels(PR) if label.startswith("🎪 ")]
    assert world.services(status=None) == []  # never created
