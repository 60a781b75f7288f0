"""The whole system on one machine: stand-ins in this process, the real bot in another.

Used by ``showtime-bot sandbox``, the end-to-end tests and the benchmarks. The bot
runs as a separate process (``python -m bot serve``) configured only through its
normal settings (``SLACK_API_URL``, ``GITHUB_API_URL``, ``AWS_ENDPOINT_URL``, ...),
so what runs here is what runs in production; and it can be killed with -9 and
started again to prove that jobs resume.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs
from urllib.request import Request, urlopen

from bot.adapters.ecs import new_session
from bot.adapters.store import SqlJobStore
from bot.orchestrator.github_events import delivery_keys
from bot.orchestrator.jobs import Job
from bot.sandbox.aws import FAKE_KEY, EcsStandIn, Network, known_services, start_server
from bot.sandbox.github import GitHubStandIn, seed_sandbox
from bot.sandbox.slack import DEFAULT_CHANNEL, MAINTAINER_USER_ID, SlackStandIn
from bot.sandbox.slack_client import Response, SlackRequester
from bot.sandbox.superset import SupersetFleet
from bot.sandbox.webhooks import Delivery, WebhookSender

MAINTAINER_LOGIN = "maintainer"  # the sandbox maintainer on GitHub (write access)
CONTRIBUTOR_LOGIN = "contributor"  # an outside contributor (read access)

BOT_START_TIMEOUT = 30.0
# Named by the bundled task definition; an operator creates both before the first deploy.
SANDBOX_LOG_GROUP = "/ecs/superset-ci"
SANDBOX_EXECUTION_ROLE = "ecsTaskExecutionRole"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Outcome:
    """What one console line or test request led to."""

    response: Response
    jobs: list[Job] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)  # what the bot said through response_url

    @property
    def failed(self) -> bool:
        if not self.response.ok:
            return True
        if any(job.state.value == "failed" for job in self.jobs):
            return True
        return any(text.startswith(("🚫", "❌")) for text in [*self.replies, self.response.text])


def _die_with_parent() -> None:
    """Linux: the bot process gets SIGTERM when the sandbox dies, even by SIGKILL."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Sandbox:
    def __init__(
        self,
        *,
        drain_seconds: float = 4.0,
        stable_seconds: float = 2.0,
        poll_seconds: float = 0.2,
        workdir: str | None = None,
        env: Mapping[str, str] | None = None,
        allowed_users: tuple[str, ...] = (MAINTAINER_USER_ID,),
    ) -> None:
        self._tmp = None if workdir else tempfile.TemporaryDirectory(prefix="showtime-sandbox-")
        self.workdir = Path(workdir or self._tmp.name)  # type: ignore[union-attr]
        self.signing_secret = secrets.token_hex(16)
        self.webhook_secret = secrets.token_hex(16)
        self.slack = SlackStandIn()
        self.github = GitHubStandIn()
        # Every environment is a Superset of its own: the ECS stand-in gives each task its
        # own loopback address, where the fleet serves that task's Superset (its password).
        self.superset = SupersetFleet()
        self.ecs = EcsStandIn(
            drain_seconds=drain_seconds, stable_seconds=stable_seconds, loopback_addresses=True
        )
        self.ecs.on_task(self.superset.task_changed)
        self.poll_seconds = poll_seconds
        self.extra_env = dict(env or {})
        self.allowed_users = allowed_users
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.network: Network | None = None
        self.aws_url = ""
        self._moto: Any = None
        self.requester: SlackRequester | None = None
        self.hooks: WebhookSender | None = None
        self._store: SqlJobStore | None = None

    # ----- lifecycle ----------------------------------------------------------

    def start(self) -> Sandbox:
        self.slack.start()
        self.github.start()
        seed_sandbox(self.github)
        self.github.set_permission(MAINTAINER_LOGIN, "write")
        self.github.set_permission(CONTRIBUTOR_LOGIN, "read")
        self.superset.start()
        self._moto, self.aws_url = start_server()
        # moto's backends live in this process, shared by every server it starts: begin empty.
        urlopen(Request(f"{self.aws_url}/moto-api/reset", method="POST"), timeout=10).close()
        self.ecs.install()
        self.network = self.ecs.setup_network(endpoint_url=self.aws_url)
        self._prepare_account(self.network.region)
        self.start_bot()
        self.requester = SlackRequester(
            f"http://127.0.0.1:{self.port}/slack/events", self.signing_secret, self.slack
        )
        self.hooks = WebhookSender(
            f"http://127.0.0.1:{self.port}/github/webhook", self.webhook_secret, self.github
        )
        return self

    def _prepare_account(self, region: str) -> None:
        """What an operator makes before the first deploy, besides the network (SPEC §17):
        the template's log group and its execution role."""
        session = new_session()

        def client(service: Literal["logs", "iam"]) -> Any:
            return session.client(
                service,
                region_name=region,
                endpoint_url=self.aws_url,
                aws_access_key_id=FAKE_KEY,
                aws_secret_access_key=FAKE_KEY,
            )

        client("logs").create_log_group(logGroupName=SANDBOX_LOG_GROUP)
        client("iam").create_role(
            RoleName=SANDBOX_EXECUTION_ROLE,
            AssumeRolePolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
        )

    def check_config(self) -> subprocess.CompletedProcess[str]:
        """``showtime-bot check-config --live`` with exactly the settings the bot runs with."""
        return subprocess.run(
            [sys.executable, "-m", "bot", "check-config", "--live"],
            env=self.bot_env(),
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def close(self) -> None:
        self.stop_bot()
        if self.requester:
            self.requester.close()
        if self._store:
            self._store.close()
        self.ecs.uninstall()
        if self._moto is not None:
            self._moto.stop()
        self.superset.stop()
        self.github.stop()
        self.slack.stop()
        if self._tmp:
            self._tmp.cleanup()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.workdir / 'showtime.db'}"

    def bot_env(self) -> dict[str, str]:
        assert self.network is not None
        keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "PYTHONPATH")}
        return {
            **keep,
            "SLACK_BOT_TOKEN": self.slack.bot_token,
            "SLACK_SIGNING_SECRET": self.signing_secret,
            "SLACK_API_URL": self.slack.api_url,
            "SHOWTIME_ALLOWED_USERS": ",".join(self.allowed_users),
            "SHOWTIME_GITHUB_LOGINS": f"{MAINTAINER_USER_ID}:{MAINTAINER_LOGIN}",
            "SHOWTIME_NOTIFY_CHANNEL": DEFAULT_CHANNEL,
            "GITHUB_WEBHOOK_SECRET": self.webhook_secret,
            "GITHUB_TOKEN": "sandbox-token",
            "GITHUB_API_URL": self.github.base_url,
            "GITHUB_REPOSITORY": self.github.repository,
            "GITHUB_SECONDS_BETWEEN_WRITES": "0",
            "AWS_ENDPOINT_URL": self.aws_url,
            "AWS_ACCESS_KEY_ID": FAKE_KEY,
            "AWS_SECRET_ACCESS_KEY": FAKE_KEY,
            "AWS_DEFAULT_REGION": self.network.region,
            **self.network.env(),
            "ECS_ASSIGN_PUBLIC_IP": "ENABLED",
            "SHOWTIME_ENV_PORT": str(self.superset.port),
            "SHOWTIME_POLL_SECONDS": str(self.poll_seconds),
            "SHOWTIME_DRAIN_TIMEOUT_SECONDS": "60",
            "SHOWTIME_STABLE_TIMEOUT_SECONDS": "60",
            "SHOWTIME_HEALTH_TIMEOUT_SECONDS": "30",
            # A broken check (`break sqllab <pr>`) is retried for 20 s, not 15 minutes.
            "SHOWTIME_SMOKE_TIMEOUT_SECONDS": "20",
            "SHOWTIME_DB_URL": self.db_url,
            "PORT": str(self.port),
            "LOG_LEVEL": "INFO",
            **self.extra_env,
        }

    def start_bot(self) -> None:
        """Start ``python -m bot serve`` and wait until ``/healthz`` answers."""
        log = open(self.workdir / "bot.log", "ab")  # noqa: SIM115 - the child owns it
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=self.bot_env(),
            cwd=self.workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
        log.close()
        deadline = time.monotonic() + BOT_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the bot exited at start-up:\n{self.bot_log()[-3000:]}")
            with (
                contextlib.suppress(OSError),
                urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1) as answer,
            ):
                if json.load(answer).get("ok"):
                    return
            time.sleep(0.05)
        raise RuntimeError(f"the bot did not answer /healthz in time:\n{self.bot_log()[-3000:]}")

    def kill_bot(self) -> None:
        """SIGKILL: no clean-up at all, as when a machine dies."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stop_bot(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, as Heroku does on restart; returns the exit status."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        return self.process.returncode

    def bot_log(self) -> str:
        path = self.workdir / "bot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # ----- driving it ---------------------------------------------------------

    @property
    def store(self) -> SqlJobStore:
        if self._store is None:
            self._store = SqlJobStore(self.db_url)
        return self._store

    def command(
        self,
        text: str,
        *,
        user_id: str = MAINTAINER_USER_ID,
        wait: bool = True,
        timeout: float = 120.0,
        **kwargs: Any,
    ) -> Outcome:
        """Type ``/showtime {text}``; with ``wait``, return once what it started has finished."""
        assert self.requester is not None
        response = self.requester.slash_command(text, user_id=user_id, **kwargs)
        return self._settle(response, wait, timeout)

    def click(
        self,
        message: Mapping[str, Any],
        action_id: str,
        *,
        user_id: str = MAINTAINER_USER_ID,
        wait: bool = True,
        timeout: float = 120.0,
    ) -> Outcome:
        assert self.requester is not None
        response = self.requester.click(message, action_id, user_id=user_id)
        return self._settle(response, wait, timeout)

    def open_home(
        self, *, user_id: str = MAINTAINER_USER_ID, wait: bool = True, timeout: float = 60.0
    ) -> dict[str, Any] | None:
        """Open the app's Home tab as ``user_id``; with ``wait``, the view the bot publishes."""
        assert self.requester is not None
        published = len(self.slack.home_views(user_id))
        response = self.requester.app_home_opened(user_id)
        if not response.ok:
            raise RuntimeError(f"the bot answered app_home_opened with HTTP {response.status_code}")
        if not wait:
            return None
        self.slack.wait_for(
            lambda: len(self.slack.home_views(user_id)) > published,
            timeout,
            "the Home tab to be published",
        )
        return self.slack.home_view(user_id)

    def click_home(
        self,
        view: Mapping[str, Any],
        action_id: str,
        *,
        value: str | None = None,
        user_id: str = MAINTAINER_USER_ID,
        wait: bool = True,
        timeout: float = 120.0,
    ) -> Outcome:
        """Press a button on the Home tab ``view``; with ``wait``, until it is answered there."""
        assert self.requester is not None
        before = home_marks(self.store, self.slack, user_id)
        response = self.requester.click_home(view, action_id, user_id, value=value)
        if not wait:
            return Outcome(response)
        return settle_home(self.store, self.slack, response, user_id, before, timeout)

    def _settle(self, response: Response, wait: bool, timeout: float) -> Outcome:
        if not wait:
            return Outcome(response)
        return settle(self.store, self.slack, response, timeout)

    def github_event(
        self, send: Callable[[WebhookSender], Delivery], pr: int, *, wait: bool = True
    ) -> Delivery:
        """Deliver what a person did on GitHub; with ``wait``, until the PR's work is done."""
        assert self.hooks is not None
        delivery = send(self.hooks)
        if wait and delivery.status == 202:
            # The work is queued behind the answer: done once the bot recorded the delivery
            # as handled and the PR's jobs (and what follows them) have finished.
            handled = delivery_keys(delivery.guid)
            self.wait_for(
                lambda: (
                    self.store.remembered(handled)
                    and not [j for j in self.store.recent(limit=20, pr=pr) if j.live]
                    and pr not in self.store.queued_prs()
                ),
                timeout=120,
            )
        return delivery

    def wait_idle(self, timeout: float = 120.0) -> None:
        """Until the bot's job store shows no live job and none queued."""
        self.wait_for(
            lambda: not self.store.live_jobs() and not self.store.queued_prs(),
            timeout,
            "every job to finish, queued ones too",
        )

    def wait_for(
        self, predicate: Callable[[], bool], timeout: float = 60.0, what: str = "the condition"
    ) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError(f"gave up after {timeout:g}s waiting for {what}")
            time.sleep(0.05)

    def status_message(self, pr: int, channel: str = "C0SHOWTIME") -> dict[str, Any] | None:
        """The newest top-level message about ``pr`` in the channel."""
        for message in reversed(self.slack.channel_messages(channel)):
            if f"#{pr}" in str(message.get("text", "")):
                return message
        return None

    def services(self) -> list[dict[str, Any]]:
        """Every showtime service ECS knows, ACTIVE and DRAINING (what a person would check)."""
        assert self.network is not None
        found = known_services(self.network, self.aws_url)
        return [s for s in found if s.get("status") in ("ACTIVE", "DRAINING")]


def settle(
    store: SqlJobStore, slack: SlackStandIn, response: Response, timeout: float = 60.0
) -> Outcome:
    """Wait until what a request started has finished: its jobs, or its direct answers.

    Every job remembers the request's ``response_url``; a request that starts no job
    (status, list, a refusal) answers through that URL or in the ack itself.
    """
    url = response_url_of(response)
    if not response.ok or not url:
        return Outcome(response)
    deadline = time.monotonic() + timeout
    quiet_since: float | None = None
    while time.monotonic() < deadline:
        jobs = [j for j in store.recent(limit=30) if j.params.response_url == url]
        replies = [str(r.get("text", "")) for r in slack.responses(url)]
        if jobs and not any(job.live for job in jobs):
            refused = any(
                (j.outcome or "").startswith(("refused", "not started", "nothing to do"))
                for j in jobs
            )
            if replies or not refused:
                return Outcome(response, jobs, replies)
        elif not jobs and (replies or response.text):
            # Answered without a job: done once it stays that way for a moment.
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since > 0.3:
                return Outcome(response, jobs, replies)
        time.sleep(0.02)
    raise TimeoutError(
        f"what {response.request.body[:80]!r} started did not finish in {timeout:g}s"
    )


HOME_ANSWERS = ("⏳", "✅", "❌", "🚫")


def home_marks(store: SqlJobStore, slack: SlackStandIn, user: str) -> tuple[set[str], int]:
    """What exists before a Home tab press: the jobs, and how many views ``user`` was shown."""
    return {j.id for j in store.recent(limit=50)}, len(slack.home_views(user))


def settle_home(
    store: SqlJobStore,
    slack: SlackStandIn,
    response: Response,
    user: str,
    before: tuple[set[str], int],
    timeout: float = 60.0,
) -> Outcome:
    """Wait until a Home tab press is answered on the Home tab (a press there has no
    ``response_url``): the job it started has ended and the tab says how, or — no job — the
    refusal or notice has been published and nothing moved for a moment.

    ``replies`` are the answers the tab showed (sections starting ⏳ ✅ ❌ 🚫), in order.
    """
    if not response.ok:
        return Outcome(response)
    known, shown = before
    deadline = time.monotonic() + timeout
    quiet: tuple[int, float] | None = None
    while time.monotonic() < deadline:
        views = slack.home_views(user)[shown:]
        jobs = [
            j
            for j in store.recent(limit=50)
            if j.id not in known and j.requester.slack_user == user
        ]
        replies = [
            str(block["text"]["text"])
            for view in views
            for block in view.get("blocks", [])
            if block.get("type") == "section"
            and str(block.get("text", {}).get("text", "")).startswith(HOME_ANSWERS)
        ]
        ended = any(r.startswith(("✅", "❌")) for r in replies)
        if views and not any(j.live for j in jobs) and (ended or not jobs):
            if quiet is None or quiet[0] != len(views):
                quiet = (len(views), time.monotonic())
            elif time.monotonic() - quiet[1] > 0.3:
                return Outcome(response, jobs, replies)
        time.sleep(0.02)
    raise TimeoutError(f"the Home tab press did not settle in {timeout:g}s")


def response_url_of(response: Response) -> str | None:
    fields = parse_qs(response.request.body)
    if "response_url" in fields:
        return fields["response_url"][0]
    if "payload" in fields:
        return str(json.loads(fields["payload"][0]).get("response_url") or "") or None
    return None
