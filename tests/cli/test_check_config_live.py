"""``showtime-bot check-config --live`` (SPEC §17) against the Slack and GitHub stand-ins
over loopback and moto's AWS server: one line per check, what to fix on a ✗, exit 2 on any
✗, and never a secret, not even the start of one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.request import Request, urlopen

import boto3
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from moto.server import ThreadedMotoServer

from bot.__main__ import main
from bot.sandbox.aws import FAKE_KEY, EcsStandIn, start_server
from bot.sandbox.github import GitHubStandIn
from bot.sandbox.harness import SANDBOX_EXECUTION_ROLE, SANDBOX_LOG_GROUP, Sandbox, free_port
from bot.sandbox.slack import SlackStandIn
from bot.sandbox.socket_mode import SocketModeStandIn

GITHUB_TOKEN = "ghp_preflight0secret0token0value0123456"
SIGNING_SECRET = "preflight-signing-secret-value"
REGION = "us-west-2"


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    server: ThreadedMotoServer
    server, url = start_server()
    yield url
    server.stop()


@dataclass
class Live:
    """The stand-ins, moto's AWS with what an operator makes first, and the bot's settings."""

    slack: SlackStandIn
    github: GitHubStandIn
    aws_url: str
    env: dict[str, str] = field(default_factory=dict)

    def secrets(self) -> list[str]:
        names = ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "GITHUB_TOKEN")
        return [self.env[n] for n in names if self.env.get(n)]


@pytest.fixture
def live(moto_url: str, no_configuration: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Live]:
    # Environments never look at AMIs; loading moto's catalogue costs ~0.2 s per reset.
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    # moto's backends live in this process, shared by every server: begin empty.
    urlopen(Request(f"{moto_url}/moto-api/reset", method="POST"), timeout=10).close()
    network = EcsStandIn().setup_network(endpoint_url=moto_url)
    _aws("logs", moto_url).create_log_group(logGroupName=SANDBOX_LOG_GROUP)
    _aws("iam", moto_url).create_role(
        RoleName=SANDBOX_EXECUTION_ROLE, AssumeRolePolicyDocument=json.dumps({"Statement": []})
    )
    with SlackStandIn() as slack, GitHubStandIn() as github:
        found = Live(slack, github, moto_url)
        found.env = {
            "SLACK_BOT_TOKEN": slack.bot_token,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack.api_url,
            "GITHUB_TOKEN": GITHUB_TOKEN,
            "GITHUB_API_URL": github.base_url,
            "GITHUB_REPOSITORY": github.repository,
            "AWS_ENDPOINT_URL": moto_url,
            "AWS_ACCESS_KEY_ID": FAKE_KEY,
            "AWS_SECRET_ACCESS_KEY": FAKE_KEY,
            **network.env(),
        }
        yield found


def _aws(service: Any, url: str) -> Any:
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=url,
        aws_access_key_id=FAKE_KEY,
        aws_secret_access_key=FAKE_KEY,
    )


def check(
    live: Live, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], **env: str
) -> tuple[int, list[str]]:
    """Run ``check-config --live`` with the live settings (and ``env`` over them)."""
    live.env.update(env)
    for name, value in live.env.items():
        monkeypatch.setenv(name, value)
    status = main(["check-config", "--live"])
    out, err = capsys.readouterr()
    for secret in live.secrets():
        assert secret[:10] not in out + err, "a secret (or its start) was printed"
    lines = [line for line in out.splitlines() if line.startswith(("✓", "✗"))]
    return status, lines


def failures(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("✗")]


def test_settings_that_work_pass_every_check(
    live: Live, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    status, lines = check(live, monkeypatch, capsys)

    assert status == 0, lines
    assert failures(lines) == []
    text = "\n".join(lines)
    for expected in (
        "Slack: the bot token works — @showtime",
        "GitHub: the token works — it is showtime-bot",
        "may write to apache/superset",
        "Issues: write — covered by the token's repo scope",
        "Pull requests: read",
        "Deployments: write",
        "Metadata: read",
        "AWS: credentials work",
        "ECS cluster superset-ci is ACTIVE",
        f"log group {SANDBOX_LOG_GROUP} exists",
        f"execution role {SANDBOX_EXECUTION_ROLE} exists",
    ):
        assert expected in text, text


def test_a_wrong_slack_token_names_slack_and_exits_2(
    live: Live, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    status, lines = check(live, monkeypatch, capsys, SLACK_BOT_TOKEN="xoxb-wrong-0000-token")

    assert status == 2
    [slack] = failures(lines)
    assert slack.startswith("✗ Slack: auth.test refused SLACK_BOT_TOKEN (invalid_auth) — ")
    assert "OAuth & Permissions" in slack
    assert any(line.startswith("✓ GitHub") for line in lines)  # the others still ran


def test_a_wrong_github_token_names_github_and_exits_2(
    live: Live, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    status, lines = check(live, monkeypatch, capsys, GITHUB_TOKEN=live.github.bad_token)

    assert status == 2
    [github] = failures(lines)
    assert github.startswith("✗ GitHub: GITHUB_TOKEN was refused (401 Bad credentials) — ")


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"ECS_CLUSTER": "no-such-cluster"}, "ECS cluster no-such-cluster does not exist"),
        ({"ECS_SUBNETS": "subnet-00000000000000001"}, "subnet subnet-00000000000000001 does"),
        ({"ECS_SECURITY_GROUPS": "sg-00000000000000001"}, "security group sg-00000000000000001"),
    ],
    ids=["cluster", "subnet", "security-group"],
)
def test_missing_aws_resources_are_named_and_exit_2(
    live: Live,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    named: str,
) -> None:
    status, lines = check(live, monkeypatch, capsys, **env)

    assert status == 2
    [aws] = failures(lines)
    assert aws.startswith("✗ AWS: ") and named in aws and " — " in aws


def test_a_missing_log_group_and_execution_role_are_named(
    live: Live, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _aws("logs", live.aws_url).delete_log_group(logGroupName=SANDBOX_LOG_GROUP)
    _aws("iam", live.aws_url).delete_role(RoleName=SANDBOX_EXECUTION_ROLE)
    status, lines = check(live, monkeypatch, capsys)

    assert status == 2
    log_group, role = failures(lines)
    assert f"log group {SANDBOX_LOG_GROUP} does not exist in {REGION} — create it" in log_group
    assert f"execution role {SANDBOX_EXECUTION_ROLE} does not exist" in role


def test_services_that_cannot_be_reached_are_named_not_tracebacks(
    live: Live, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    status, lines = check(
        live, monkeypatch, capsys, SLACK_API_URL=f"{closed}/api/", GITHUB_API_URL=closed
    )

    assert status == 2
    slack, github = failures(lines)
    assert slack.startswith("✗ Slack: could not reach 127.0.0.1:") and "SLACK_API_URL" in slack
    assert github.startswith("✗ GitHub: could not reach http://127.0.0.1:")
    assert "GITHUB_API_URL" in github
    assert any(line.startswith("✓ AWS") for line in lines)


def test_a_classic_token_without_the_repo_scope_fails_each_permission(
    live: Live, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    live.github.set_token_scopes("read:org")
    status, lines = check(live, monkeypatch, capsys, SHOWTIME_GITHUB_DEPLOYMENTS="false")

    assert status == 2
    missing = failures(lines)
    assert [line.split(" — ")[0] for line in missing] == [
        "✗ GitHub: Issues: write",
        "✗ GitHub: Pull requests: read",
        "✗ GitHub: Metadata: read",  # Deployments is not needed with the mirror off
    ]
    assert "no public_repo or repo scope (it has: read:org)" in missing[0]


def test_a_fine_grained_token_is_said_to_be_unreadable_not_failed(
    live: Live, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    token = "github_pat_preflight0fine0grained0token"
    status, lines = check(live, monkeypatch, capsys, GITHUB_TOKEN=token)

    assert status == 0, lines
    [note] = [line for line in lines if "fine-grained" in line]
    assert note.startswith("✓ GitHub: a fine-grained token's permissions cannot be read back")
    assert "Issues: write, Pull requests: read, Deployments: write" in note


def test_a_token_whose_user_may_only_read_fails(
    live: Live, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    live.github.set_permission(live.github.bot_login, "read")
    status, lines = check(live, monkeypatch, capsys)

    assert status == 2
    [role] = failures(lines)
    assert "showtime-bot may not write to apache/superset (role: Read) — " in role


def test_socket_mode_checks_the_app_token(
    live: Live, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with SocketModeStandIn(live.slack):
        status, lines = check(live, monkeypatch, capsys, SLACK_APP_TOKEN=live.slack.app_token)
    assert status == 0, lines
    assert "✓ Slack: Socket Mode — SLACK_APP_TOKEN may open a connection" in lines

    status, lines = check(live, monkeypatch, capsys, SLACK_APP_TOKEN="xapp-1-A0-1-wrong")
    assert status == 2
    [socket] = failures(lines)
    assert socket.startswith("✗ Slack: apps.connections.open refused SLACK_APP_TOKEN")


# ----- a GitHub App ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def app_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def app_live(live: Live, app_key: rsa.RSAPrivateKey) -> Iterator[Live]:
    public = app_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    private = app_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    with GitHubStandIn(app_id=777, app_public_key=public.decode(), installation_id=88) as github:
        live.github = github
        del live.env["GITHUB_TOKEN"]
        live.env.update(
            GITHUB_API_URL=github.base_url,
            GITHUB_APP_ID="777",
            GITHUB_APP_PRIVATE_KEY=private.replace("\n", "\\n"),  # one line, as in a .env
            GITHUB_APP_INSTALLATION_ID="88",
        )
        yield live


def test_an_app_is_checked_through_its_installation(
    app_live: Live, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    status, lines = check(app_live, monkeypatch, capsys)

    assert status == 0, lines
    text = "\n".join(lines)
    assert "✓ GitHub: the App showtime (id 777) signs in" in text
    assert "✓ GitHub: Deployments: write — granted to the App (write)" in text
    key = app_live.env["GITHUB_APP_PRIVATE_KEY"]
    assert key.split("\\n")[1][:20] not in text


def test_an_app_missing_a_permission_names_it(
    app_live: Live, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    app_live.github.set_installation_permissions(
        issues="write", pull_requests="read", metadata="read"
    )
    status, lines = check(app_live, monkeypatch, capsys)

    assert status == 2
    [deployments] = failures(lines)
    assert deployments.startswith(
        "✗ GitHub: Deployments: write — the App's installation has none — "
    )
    assert "or set SHOWTIME_GITHUB_DEPLOYMENTS=false" in deployments
    status, _ = check(app_live, monkeypatch, capsys, SHOWTIME_GITHUB_DEPLOYMENTS="false")
    assert status == 0


def test_an_app_id_that_does_not_match_its_key_is_refused(
    app_live: Live, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    status, lines = check(app_live, monkeypatch, capsys, GITHUB_APP_ID="778")

    assert status == 2
    [app] = failures(lines)
    assert app.startswith(
        "✗ GitHub: the App's JWT was refused (401 A JSON web token could not be decoded) — "
    )


# ----- the sandbox --------------------------------------------------------------------------


@pytest.mark.e2e
def test_the_sandbox_configuration_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    with Sandbox() as sandbox:
        result = sandbox.check_config()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all live checks passed" in result.stdout
    assert sandbox.slack.bot_token not in result.stdout + result.stderr
