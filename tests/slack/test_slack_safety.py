"""SPEC §12 through the real Bolt app: no stranded jobs, per-user limits, who may dry-run.

Each test reproduces a defect found in review (issue 10) and fails without its fix.
"""

from __future__ import annotations

import urllib.error
from typing import Any

import pytest
from slack_support import OUTSIDER, SlackWorld
from support import age_jobs, wait_until

from bot.adapters.store import StoreError
from bot.sandbox.github import ROUTE_SEARCH_ISSUES
from bot.sandbox.harness import response_url_of

PR = 36121


def fail_first_post(sw: SlackWorld, monkeypatch: pytest.MonkeyPatch, error: Exception) -> None:
    """The bot's next chat.postMessage fails as slack-sdk fails once its own retries gave up."""
    original = sw.bot.client.chat_postMessage
    failed: list[bool] = []

    def post(**kwargs: Any) -> Any:
        if not failed:
            failed.append(True)
            raise error
        return original(**kwargs)

    monkeypatch.setattr(sw.bot.client, "chat_postMessage", post)


@pytest.mark.parametrize(
    "error", [TimeoutError("The read operation timed out"), urllib.error.URLError("timed out")]
)
def test_slack_failing_after_begin_leaves_the_pr_free(
    slack_world: SlackWorld, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    sw = slack_world
    fail_first_post(sw, monkeypatch, error)
    first = sw.command(f"start {PR}")
    assert any("Internal error" in reply for reply in first.replies), first.replies
    assert sw.bot.store.live_job(f"pr:{PR}") is None  # the PR is not busy

    again = sw.command(f"start {PR}")
    assert again.jobs and again.jobs[0].state.value == "succeeded", again.jobs


def test_a_job_that_could_not_even_be_given_up_is_adopted_by_the_same_process(
    slack_world: SlackWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    sw = slack_world
    fail_first_post(sw, monkeypatch, TimeoutError("The read operation timed out"))
    finish = sw.bot.store.finish
    blips: list[bool] = []

    def store_blip(*args: Any, **kwargs: Any) -> Any:
        if not blips:
            blips.append(True)
            raise StoreError("The job store failed", "try again")
        return finish(*args, **kwargs)

    monkeypatch.setattr(sw.bot.store, "finish", store_blip)
    sw.requester.slash_command(f"start {PR}")  # its job stays live: nothing to settle on
    wait_until(
        lambda: any("Internal error" in str(r.get("text")) for r in sw.slack.responses()),
        "the person to be told",
        30,
    )
    stranded = sw.bot.store.live_job(f"pr:{PR}")
    assert stranded is not None  # neither run nor given up

    age_jobs(sw.bot.store, 31)  # no heartbeat for half a minute
    adopted = sw.bot.orchestrator.resume_orphans(30)  # what the adopt ticker does
    assert [job.id for job in adopted] == [stranded.id]
    done = sw.bot.orchestrator.wait(stranded.id, 60)
    assert done is not None and not done.live
    assert sw.bot.store.live_job(f"pr:{PR}") is None


def test_read_only_commands_are_limited_per_user(slack_world: SlackWorld) -> None:
    sw = slack_world
    for _ in range(10):
        answer = sw.command(f"status {PR}", user_id=OUTSIDER)
        assert "Slow down" not in answer.response.text
    sw.world.github_standin.reset_counts()
    eleventh = sw.command("list", user_id=OUTSIDER)
    assert "Slow down" in eleventh.response.text
    # Someone else is not slowed down by it; once their command (queued after it) has been
    # answered, the limited `list` has neither answered on its response URL nor searched.
    assert "Slow down" not in sw.command(f"status {PR}").response.text
    assert sw.slack.responses(response_url_of(eleventh.response)) == []
    assert sw.world.github_standin.count("GET", ROUTE_SEARCH_ISSUES) == 0


def test_cleanup_dry_run_needs_an_allowed_user(slack_world: SlackWorld) -> None:
    sw = slack_world
    sw.world.github_standin.reset_counts()
    answer = sw.command("cleanup --dry-run", user_id=OUTSIDER)
    assert any("may not change" in reply for reply in answer.replies), answer.replies
    assert sw.world.github_standin.count("GET", ROUTE_SEARCH_ISSUES) == 0
    allowed = sw.command("cleanup --dry-run")
    assert any("Nothing to clean up" in reply for reply in allowed.replies), allowed.replies
