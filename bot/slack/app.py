"""The Bolt app: listeners only. Each acks at once and hands the body to ``Intake`` (the slash
command, the buttons) or its ``HomeDesk`` (the Home tab, the Start modal) — but the Start
modal's submission, whose errors Slack takes only in the ack (see below).

Bolt runs a listener on its ``listener_executor`` and answers Slack once the
listener calls ``ack()``. So listeners do nothing after ``ack()`` but queue the
request on the intake pool: a burst of slow requests (GitHub paces its calls)
then waits in that queue, while new requests still get their ack at once. Jobs
themselves run on the orchestrator's own pool, never here.

Every ack is told to an ``AckRecorder`` (the operators' metrics) with its payload type and
how long Bolt took to give it, whichever listener gave it and over HTTP or the socket.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_bolt import Ack, App, BoltRequest, BoltResponse, Respond
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_bolt.request import payload_utils
from slack_sdk import WebClient

from bot.config import Settings
from bot.slack import modal
from bot.slack.intake import Intake

log = logging.getLogger(__name__)

LISTENER_THREADS = 16  # each only acks and queues: microseconds of work
INTAKE_THREADS = 32  # validations, status and list answers, status messages

# (payload type, seconds from the request reaching Bolt to its ack): see ``TimedApp``.
AckRecorder = Callable[[str, float], None]


def no_ack_recorder(kind: str, seconds: float) -> None:
    """An ``AckRecorder`` that keeps nothing."""


def build_app(
    settings: Settings,
    client: WebClient,
    intake: Intake,
    *,
    verify_token: bool = True,
    acks: AckRecorder = no_ack_recorder,
) -> App:
    app = _bolt(settings, client, verify_token, acks)
    work = ThreadPoolExecutor(INTAKE_THREADS, thread_name_prefix="intake")

    @app.command("/showtime")
    def showtime(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        command = intake.parse(body.get("text", ""))
        answer = intake.immediate_answer(command, str(body.get("user_id", "")))
        if answer is not None:
            ack(text=answer, response_type="ephemeral")
            return
        ack()
        work.submit(intake.handle_command, command, body, respond)  # type: ignore[arg-type]

    # Before the catch-all below (Bolt runs the first listener that matches): the modal
    # opens with the press's trigger_id, good for 3 s, so not behind the intake queue.
    @app.action(modal.ACTION_START)
    def start_button(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        intake.home_desk.open_start_modal(body)

    @app.view(modal.CALLBACK_START)
    def start_submitted(ack: Ack, body: dict[str, Any]) -> None:
        # The one listener that works before its ack: errors beside a field can only be
        # said in the ack. ``check_start_form`` bounds its GitHub read to 2 s of Slack's 3.
        checked = intake.home_desk.check_start_form(body)
        if isinstance(checked, dict):
            ack(response_action="errors", errors=checked)
            return
        ack()
        work.submit(intake.home_desk.start_from_modal, checked, body)

    @app.action(re.compile(r"^showtime_"))
    def button(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        work.submit(intake.handle_action, body, respond)  # type: ignore[arg-type]

    @app.event("app_home_opened")
    def home_opened(ack: Ack, event: dict[str, Any]) -> None:
        ack()
        work.submit(intake.home_desk.handle_home_opened, event)

    return app


class TimedApp(App):
    """Bolt's App, timing each ack.

    ``dispatch`` is where both ways in meet (the WSGI adapter and the Socket Mode client
    call it, then send its answer to Slack), and it returns as soon as a listener acked:
    its duration is what Slack waits for, Bolt's 10 ms polls for ``ack()`` included.
    """

    def __init__(self, *, acks: AckRecorder, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._acks = acks

    def dispatch(self, req: BoltRequest) -> BoltResponse:
        began = time.perf_counter()
        response = super().dispatch(req)
        if 200 <= response.status < 300:  # refused or unhandled requests are no acks
            self._acks(payload_type(req.body), time.perf_counter() - began)
        return response


def payload_type(body: dict[str, Any]) -> str:
    """What Slack sent: command, action, view_submission, event, options (else other)."""
    if payload_utils.is_slash_command(body):
        return "command"
    if payload_utils.is_action(body):
        return "action"
    if payload_utils.is_view_submission(body):
        return "view_submission"
    if payload_utils.is_event(body):
        return "event"
    if payload_utils.is_options(body):
        return "options"
    return "other"


def _bolt(settings: Settings, client: WebClient, verify_token: bool, acks: AckRecorder) -> App:
    """Bolt, single-workspace, with our client.

    Bolt reads SLACK_BOT_TOKEN itself and, given a client too, warns that the token goes
    unused — it is the same token, in the client: that one warning is dropped. (Bolt also
    switches to OAuth when SLACK_CLIENT_ID and SLACK_CLIENT_SECRET are set; the settings
    refuse those at start-up, see ``bot.config``.)
    """
    secret = settings.slack_signing_secret
    return TimedApp(
        acks=acks,
        client=client,
        signing_secret=secret.get_secret_value() if secret else None,
        token_verification_enabled=verify_token,
        listener_executor=ThreadPoolExecutor(LISTENER_THREADS, thread_name_prefix="bolt"),
        process_before_response=False,
        # Socket Mode needs no signature; HTTP mode verifies every request (401 otherwise).
        request_verification_enabled=not settings.socket_mode,
        logger=_BOLT_LOGGER,
    )


class _DropTokenSkipped(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != warning_client_prioritized_and_token_skipped()


_BOLT_LOGGER = logging.getLogger("slack_bolt.App")
_BOLT_LOGGER.addFilter(_DropTokenSkipped())
