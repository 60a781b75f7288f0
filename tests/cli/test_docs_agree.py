"""The docs a newcomer reads first agree with each other and with the code (SPEC §17):
`.env.example` names every setting, there is one list of GitHub permissions, the manifest's
usage hint names every command, and the README says what must exist before the first deploy.

SPEC is not in the repository, so its lists are kept here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from bot import config
from bot.domain.commands import CommandError, parse_command

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
ENV_EXAMPLE = (ROOT / ".env.example").read_text()

# SPEC §4's table, in its order, and PORT (§3).
SPEC_VARIABLES = (
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "SLACK_API_URL",
    "SHOWTIME_ALLOWED_USERS",
    "SHOWTIME_ALLOWED_USERGROUPS",
    "SHOWTIME_NOTIFY_CHANNEL",
    "SHOWTIME_GITHUB_LOGINS",
    "SHOWTIME_MAX_ENVIRONMENTS",
    "GITHUB_TOKEN",
    "GITHUB_APP_ID",
    "GITHUB_APP_PRIVATE_KEY",
    "GITHUB_APP_INSTALLATION_ID",
    "GITHUB_REPOSITORY",
    "GITHUB_API_URL",
    "GITHUB_WEBHOOK_SECRET",
    "GITHUB_SECONDS_BETWEEN_WRITES",
    "AWS_REGION",
    "AWS_ENDPOINT_URL",
    "ECS_CLUSTER",
    "ECS_SUBNETS",
    "ECS_SECURITY_GROUPS",
    "ECS_ASSIGN_PUBLIC_IP",
    "ECS_TASK_DEFINITION_FILE",
    "SHOWTIME_IMAGE_TEMPLATE",
    "SHOWTIME_ENV_PORT",
    "SHOWTIME_HEALTH_PATH",
    "SHOWTIME_POLL_SECONDS",
    "SHOWTIME_DRAIN_TIMEOUT_SECONDS",
    "SHOWTIME_STABLE_TIMEOUT_SECONDS",
    "SHOWTIME_HEALTH_TIMEOUT_SECONDS",
    "SHOWTIME_DEFAULT_TTL",
    "SHOWTIME_SWEEP_SECONDS",
    "SHOWTIME_STALE_LOCK_MINUTES",
    "SHOWTIME_DB_URL",
    "LOG_LEVEL",
    "LOG_FORMAT",
    "SHOWTIME_AUTO_REDEPLOY",
    "SHOWTIME_GITHUB_DEPLOYMENTS",
    "ECS_EXECUTION_ROLE_ARN",
    "ECS_TASK_ROLE_ARN",
    "SHOWTIME_COST_VCPU_HOUR",
    "SHOWTIME_COST_GB_HOUR",
    "SHOWTIME_COST_IPV4_HOUR",
    "SHOWTIME_MONTHLY_BUDGET",
    "SHOWTIME_SMOKE_CHECKS",
    "SHOWTIME_SMOKE_TIMEOUT_SECONDS",
    "PORT",
)
# Settings another change adds to bot/config.py; until it lands, MEANINGS cannot explain them.
LANDING_IN_CONFIG = {
    "ECS_EXECUTION_ROLE_ARN",
    "SHOWTIME_SMOKE_CHECKS",
    "SHOWTIME_SMOKE_TIMEOUT_SECONDS",
}

# The one list of GitHub permissions (SPEC §17), said the same way everywhere.
GITHUB_PERMISSIONS = (
    "Issues: write, Pull requests: read, Deployments: write "
    "(when SHOWTIME_GITHUB_DEPLOYMENTS is on), Metadata: read"
)
CLASSIC_TOKEN = "(a classic token: repo, or public_repo for a public repository)"

# SPEC §5's commands, as the manifest's usage hint lists them.
COMMAND_VERBS = [
    "start",
    "stop",
    "status",
    "list",
    "logs",
    "ttl",
    "freeze",
    "unfreeze",
    "cancel",
    "creds",
    "notify",
    "cleanup",
    "help",
]
# Verbs the grammar (bot/domain/commands.py) gains in another change.


def plain(text: str) -> str:
    """Markdown and comment markup off, whitespace folded: what a reader reads."""
    text = re.sub(r"^\s*#\s?", "", text, flags=re.M)
    return re.sub(r"\s+", " ", text.replace("*", "").replace("`", ""))


@pytest.mark.parametrize("name", SPEC_VARIABLES)
def test_env_example_shows_every_setting_with_a_comment(name: str) -> None:
    lines = ENV_EXAMPLE.splitlines()
    found = [i for i, line in enumerate(lines) if re.fullmatch(rf"(# )?{name}=.*", line)]
    assert found, f"{name} is not in .env.example"
    above = lines[found[0] - 1]
    assert above.startswith("# ") and "=" not in above.split()[1], f"{name} has no comment"


@pytest.mark.parametrize("name", SPEC_VARIABLES)
def test_the_code_and_the_readme_explain_every_setting(name: str) -> None:
    assert f"| `{name}` |" in README, f"README's Settings table lacks {name}"
    if name in LANDING_IN_CONFIG and name.lower() not in config.Settings.model_fields:
        pytest.skip(f"{name} is not a setting of bot/config.py yet")
    assert config.MEANINGS.get(name), f"bot.config.MEANINGS lacks {name}"


def test_env_example_holds_only_obvious_fakes() -> None:
    assert not re.search(r"(?<!\d)\d{12}(?!\d)", ENV_EXAMPLE)  # no account id
    assert not re.search(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b", ENV_EXAMPLE)
    for resource in re.findall(r"\b(?:subnet|sg)-[0-9a-f]+", ENV_EXAMPLE):
        assert re.fullmatch(r"(?:subnet|sg)-0+[1-9]", resource), resource


@pytest.mark.parametrize(
    ("where", "text"),
    [
        ("README.md", README),
        (".env.example", ENV_EXAMPLE),
        ('MEANINGS["GITHUB_TOKEN"]', config.MEANINGS["GITHUB_TOKEN"]),
    ],
)
def test_one_list_of_github_permissions(where: str, text: str) -> None:
    said = plain(text)
    assert f"{GITHUB_PERMISSIONS} {CLASSIC_TOKEN}" in said, where
    # Wherever the permissions are named, it is the whole list, in the same words.
    for match in re.finditer("issues: write", said, flags=re.I):
        assert said[match.start() :].startswith(GITHUB_PERMISSIONS), (
            where,
            said[match.start() :][:120],
        )


def test_the_configs_permissions_constant_says_the_same() -> None:
    """`check-config --live` checks ``config.GITHUB_PERMISSIONS``; said in these words."""
    assert plain(config.github_permissions_text()).strip() == GITHUB_PERMISSIONS


def test_the_usage_hint_lists_every_command() -> None:
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    (command,) = manifest["features"]["slash_commands"]
    hint = command["usage_hint"]
    assert hint.split()[0].split("|") == COMMAND_VERBS
    for verb in COMMAND_VERBS:
        parsed = parse_command(verb)
        unknown = isinstance(parsed, CommandError) and parsed.problem.startswith("Unknown command")
        assert not unknown, f"the grammar does not know {verb}"


def test_direct_messages_need_the_messages_tab_and_no_more_scopes() -> None:
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    home = manifest["features"]["app_home"]
    assert home["messages_tab_enabled"] is True
    assert home["messages_tab_read_only_enabled"] is True  # the bot reads no DMs
    # chat.postMessage(channel=<user id>) needs only chat:write; no conversations.open.
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == {
        "commands",
        "chat:write",
        "usergroups:read",
    }


def test_the_readme_keeps_its_first_lines_and_says_what_comes_first() -> None:
    assert README.splitlines()[:12] == [
        "# Showtime bot",
        "",
        "Try it on this machine, with no Slack, GitHub or AWS account (Python 3.11):",
        "",
        "```bash",
        "python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[sandbox]' && showtime-bot sandbox",
        "```",
        "",
        "Run the tests (the whole suite, end-to-end included):",
        "",
        "```bash",
        "python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[dev]' && pytest",
    ]
    aws = plain(_section("### Before you start in AWS"))
    for needed in (
        "ECS cluster",
        "/ecs/superset-ci",
        "ecsTaskExecutionRole",
        "AmazonECSTaskExecutionRolePolicy",
        "internet gateway",
        "inbound TCP 8080",
        "IAM",
    ):
        assert needed in aws, needed
    apache = plain(_section("### At Apache"))
    for needed in ("ASF Infra", "GitHub App", "apache/superset", "manifest.yml"):
        assert needed in apache, needed
    assert "GITHUB_REPOSITORY=<you>/superset" in apache


def _section(heading: str) -> str:
    start = README.index(f"\n{heading}\n")
    end = README.find("\n#", start + len(heading) + 2)
    return README[start:end]
