"""The Bolt app: listeners only. Each acks at once and hands the body to ``Intake``.

Bolt runs a listener on its ``listener_executor`` and answers Slack once the
listener calls ``ack()``. So listeners do nothing after ``ack()`` but queue the
request on the intake pool: a burst of slow requests (GitHub paces its calls)
then waits in that queue, while new requests still get their ack at once. Jobs
themselves run on the orchestrator's own pool, never here.
"""

from __future__ import annotations

import logging
import os
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.config import Settings
from bot.slack.intake import Intake

log = logging.getLogger(__name__)

LISTENER_THREADS = 16  # each only acks and queues: microseconds of work
INTAKE_THREADS = 32  # validations, status and list answers, status messages


def build_app(
    settings: Settings, client: WebClient, intake: Intake, *, verify_token: bool = True
) -> App:
    app = _bolt(settings, client, verify_token)
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

    @app.action(re.compile(r"^showtime_"))
    def button(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        work.submit(intake.handle_action, body, respond)  # type: ignore[arg-type]

    return app


def _bolt(settings: Settings, client: WebClient, verify_token: bool) -> App:
    """Bolt, single-workspace, with our client, whatever else the environment holds."""
    # Bolt silently switches to OAuth (multi-workspace install) mode when it sees these
    # variables; this bot is a single-workspace app with a bot token.
    for var in ("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET"):
        if os.environ.pop(var, None) is not None:
            log.warning("%s is set but ignored: the bot uses SLACK_BOT_TOKEN, not OAuth", var)
    # The client already carries the token (settings may have read it from .env); Bolt
    # would read SLACK_BOT_TOKEN again by itself and warn that it goes unused.
    token = os.environ.pop("SLACK_BOT_TOKEN", None)
    secret = settings.slack_signing_secret
    try:
        return App(
            client=client,
            signing_secret=secret.get_secret_value() if secret else None,
            token_verification_enabled=verify_token,
            listener_executor=ThreadPoolExecutor(LISTENER_THREADS, thread_name_prefix="bolt"),
            process_before_response=False,
            # Socket Mode needs no signature; HTTP mode verifies every request (401 otherwise).
            request_verification_enabled=not settings.socket_mode,
        )
    finally:
        if token is not None:
            os.environ["SLACK_BOT_TOKEN"] = token
