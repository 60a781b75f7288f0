"""What a person is told: the answer to a request, errors, who asked — for every way in.

Shared by the slash command and status-message buttons (``intake.py``) and by what people
do from the app's Home and Messages tabs (``home_desk.py``): a request made from either is
answered in the same words. ``Say`` is where an answer goes (an ephemeral reply, the Home
tab's notice); ``Replies.show`` says what became of a request (``Jobs.submit``'s ``Answer``).
Every outsider's word (a login, a message from GitHub or AWS) goes through ``quote``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.domain import commands as C
from bot.domain.requester import Requester
from bot.errors import NothingToDo, RemoteError, ShowtimeError, UserInputError, public_text
from bot.orchestrator import models as M
from bot.orchestrator.jobs import Job, JobKind, StartRecord
from bot.slack import views
from bot.slack.text import link as link_to
from bot.slack.text import mention, quote

log = logging.getLogger(__name__)

MAX_ERROR_TEXT = 1500  # characters of one part of an error answer

CANNOT_POST = {
    "not_in_channel",
    "channel_not_found",
    "is_archived",
    "restricted_action",
    "cannot_dm_bot",
    "missing_scope",
}


Say = Callable[..., None]


class Respond(Protocol):
    def __call__(
        self,
        text: str = ...,
        blocks: Any = ...,
        response_type: str = ...,
        replace_original: bool = ...,
    ) -> Any: ...


class Replies:
    """Who asked, and what became of their request, in Slack's words."""

    def __init__(self, client: WebClient, github_logins: Mapping[str, str]) -> None:
        self.client = client
        self.github_logins = github_logins

    def requester(self, user_id: str, user_name: str) -> Requester:
        """A Slack user; the 🤡 label names their GitHub login when SHOWTIME_GITHUB_LOGINS
        knows it, else their Slack name."""
        name = self.github_logins.get(user_id) or user_name or user_id
        return Requester.slack(user_id, name)

    def presser(self, body: dict[str, Any]) -> Requester:
        """Who pressed a button (an interaction's ``user``)."""
        user = body["user"]
        return self.requester(user["id"], user.get("username") or user.get("name", ""))

    def show(
        self, answer: M.Answer, request: M.JobRequest, say: Say, *, quiet_duplicate: bool
    ) -> None:
        """What became of a request, said only to the person who asked."""
        if isinstance(answer, M.Started):
            job = answer.job
            log.info(
                "job %s started by %s",
                job.correlation_id,
                job.requester.stored,
                extra={"kind": job.kind, "pr": job.pr},
            )
        elif isinstance(answer, M.Queued):
            self._show_queued(answer, request, say)
        elif isinstance(answer, M.Busy):
            job = answer.job
            link = self.thread_link(job.channel, job.thread_ts)
            if job.kind is JobKind.STOP and request.kind is JobKind.STOP:
                say(f"⏳ #{job.pr} is already being stopped by {who_asked(job.requester)}{link}.")
            elif job.kind is JobKind.START and request.kind is JobKind.START:
                sha = job.record.sha7 if isinstance(job.record, StartRecord) else ""
                say(
                    f"⏳ #{job.pr}: {who_asked(job.requester)} is already deploying "
                    f"`{sha}`, the same commit{link}."
                )
            else:
                say(f"⏳ {busy_text(job)}{link}")
        elif isinstance(answer, M.Duplicate):
            job = answer.job
            if not quiet_duplicate and not job.live and job.step is None:
                # The same press was answered before it changed anything (refused, or
                # nothing to do): it still changes nothing.
                say(
                    f"ℹ️ That press was answered already (`{job.kind}` #{request.pr}): nothing changed."
                )
            elif not quiet_duplicate:
                state = "is already running" if job.live else "was already done"
                say(f"⏳ That press {state} (`{job.kind}` #{request.pr}).")
        elif isinstance(answer, M.Refused):
            say(error_text(answer.error))
        elif isinstance(answer, M.CannotPost):
            say(cannot_post(answer.error))

    def _show_queued(self, answer: M.Queued, request: M.JobRequest, say: Say) -> None:
        """A request that waits for the PR's running job: what will happen, and Cancel queued."""
        behind, entry = answer.behind, answer.entry
        link = self.thread_link(behind.channel, behind.thread_ts)
        running = f"`{behind.kind}` by {who_asked(behind.requester)}{link}"
        if entry.kind is JobKind.STOP and behind.kind is JobKind.START:
            text = f"⏹ #{entry.pr}: cancelling the running deploy ({running}), then stopping."
        else:
            what = f"`{entry.kind}`" + (f" of `{entry.sha[:7]}`" if entry.sha else "")
            text = (
                f"⏳ #{entry.pr}: your {what} is queued behind the running deploy ({running}); "
                "it runs when that one ends."
            )
        replaced = answer.replaced
        if replaced is not None and replaced.requester.stored == request.requester.stored:
            text += f" It replaces the `{replaced.kind}` you had queued."
        elif replaced is not None:
            who = who_asked(replaced.requester)
            text += f" It replaces the `{replaced.kind}` {who} had queued, who is told."
        say(text, views.queued_blocks(text, entry.pr, entry.id))

    def thread_link(self, channel: str | None, ts: str | None) -> str:
        """The " — see its thread" link to a status message (nothing when Slack gives none)."""
        if not channel or not ts:
            return ""
        try:
            link = self.client.chat_getPermalink(channel=channel, message_ts=ts).get("permalink")
        except SlackApiError:
            return ""
        return f" — {link_to(link, 'see its thread')}" if link else ""


# ----- presses ---------------------------------------------------------------------------


def click_key(
    action_id: str,
    container: dict[str, Any],
    message: dict[str, Any],
    action: dict[str, Any],
    body: dict[str, Any],
) -> str:
    """Same button on the same version of the same message ⇒ same key (double clicks).

    On the Home tab the "message" is the published view: its id and hash name the version,
    and the button's value which environment (one view holds many PRs' buttons).
    """
    if on_home(body):
        view = body.get("view") or {}
        parts = [action_id, view.get("id"), view.get("hash"), action.get("value")]
    else:
        parts = [
            action_id,
            container.get("channel_id"),
            container.get("message_ts"),
            message.get("edited", {}).get("ts"),
            message.get("blocks"),
        ]
    material = json.dumps(parts, sort_keys=True, default=str)
    return "click:" + hashlib.sha256(material.encode()).hexdigest()[:40]


def on_home(body: dict[str, Any]) -> bool:
    """Pressed on the App Home tab (a view, not a message)."""
    return (body.get("view") or {}).get("type") == "home" or (
        (body.get("container") or {}).get("type") == "view"
    )


def button_target(action: dict[str, Any]) -> tuple[int, str | None]:
    """The PR (and the rest: a SHA, a queued job's id) a status-message button is for."""
    parsed = views.parse_button_value(str(action.get("value", "")))
    if parsed is None:
        raise UserInputError("this button carries no pull request; it is from an old message")
    return parsed


# ----- words -----------------------------------------------------------------------------


def busy_text(job: Job) -> str:
    """Who runs what on the PR, since when (the answer to a second request for it)."""
    started = job.created_at.strftime("%H:%M UTC")
    who = who_asked(job.requester)
    subject = f"#{job.pr}" if job.pr is not None else "cleanup"
    return (
        f"{subject} is busy: `{job.kind}` started by {who} at {started} is still running. "
        "Follow it in its thread; try again when it has finished."
    )


def who_asked(requester: Requester) -> str:
    """A Slack user as a mention; anyone else by name, quoted (a login is an outsider's)."""
    return mention(requester.slack_user) or quote(requester.label_name, 80)


def error_text(exc: ShowtimeError, usage: bool = True) -> str:
    """An error for the person who asked: its words can quote GitHub or AWS, so escaped."""
    # Nothing to do is no refusal: how things are, for the one who asked (SPEC §17).
    icon = "ℹ️" if isinstance(exc, NothingToDo) else "❌" if isinstance(exc, RemoteError) else "🚫"
    text = quote(public_text(exc.message), MAX_ERROR_TEXT, multiline=True)
    if exc.next_action:
        text += f"\n*Next:* {quote(public_text(exc.next_action), MAX_ERROR_TEXT, multiline=True)}"
    if usage and isinstance(exc, UserInputError):
        text += f"\n{quote(C.USAGE, MAX_ERROR_TEXT)}"
    return f"{icon} {text}"


def cannot_post(error: str) -> str:
    if error in CANNOT_POST:
        return (
            f"🚫 I can't post in this conversation (`{error}`), so I changed nothing. "
            "Invite the bot: `/invite @showtime` (or use a public channel it is in), then try again."
        )
    return f"❌ Slack refused the status message (`{error}`), so I changed nothing; try again."


def internal_error_text(ref: str) -> str:
    return f"❌ Internal error (ref `{ref}`); the bot's logs have the details."


def ref(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:8]


def whisper(respond: Respond) -> Say:
    """Answer only the person who asked (ephemeral), never replacing the message pressed on."""

    def say(text: str, blocks: list[dict[str, Any]] | None = None) -> None:
        respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)

    return say


@contextmanager
def answering(say: Say, body: dict[str, Any], *, usage: bool) -> Iterator[None]:
    """Errors a person can act on are said as they are; anything else gets a reference."""
    try:
        yield
    except ShowtimeError as exc:
        say(error_text(exc, usage=usage))
    except Exception:
        reference = ref(body)
        log.exception("Slack request failed", extra={"ref": reference})
        say(internal_error_text(reference))
