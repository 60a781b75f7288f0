"""Settings (SPEC §4), read once from the environment or ``.env``.

Every variable is typed here; settings that only one mode needs (Slack tokens to
serve, subnets to deploy) are checked when that mode starts, by ``require``, so
``showtime-bot sandbox`` or ``showtime-bot jobs`` do not demand Slack tokens.
Problems are reported together, by variable name, never with the value.
"""

from __future__ import annotations

import contextlib
import re
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal, NamedTuple

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.domain.cost import LIST_PRICES, Rates
from bot.domain.smoke import DEFAULT_CHECKS, Check, parse_checks
from bot.domain.ttl import TTL_VALUES
from bot.errors import ConfigurationError

CommaList = Annotated[list[str], NoDecode]

BUNDLED_TASK_DEFINITION = Path(__file__).parent / "data" / "task-definition.json"


class GitHubPermission(NamedTuple):
    """A permission the bot's GitHub token or App needs, named as GitHub's settings name it."""

    name: str  # as a fine-grained token's or an App's settings page shows it
    access: Literal["read", "write"]
    app_key: str  # its key in an App installation's ``permissions``
    only_with: str | None = None  # needed only while this setting is on

    def __str__(self) -> str:
        when = f" (when {self.only_with} is on)" if self.only_with else ""
        return f"{self.name}: {self.access}{when}"


# The one list of what the bot needs on GitHub: check-config --live checks it, and the README
# and .env.example say it in these words (``github_permissions_text``).
GITHUB_PERMISSIONS = (
    GitHubPermission("Issues", "write", "issues"),  # labels, label definitions, comments
    GitHubPermission("Pull requests", "read", "pull_requests"),  # a PR, its head and commits
    GitHubPermission("Deployments", "write", "deployments", "SHOWTIME_GITHUB_DEPLOYMENTS"),
    GitHubPermission("Metadata", "read", "metadata"),  # the repository, collaborators' roles
)
# A classic token grants all of them with either scope (public_repo: public repositories).
CLASSIC_TOKEN_SCOPES = ("repo", "public_repo")


def github_permissions_text() -> str:
    """``Issues: write, Pull requests: read, Deployments: write (when …), Metadata: read``."""
    return ", ".join(str(permission) for permission in GITHUB_PERMISSIONS)


# What each variable is for; used in error messages and the README.
MEANINGS: dict[str, str] = {
    "SLACK_BOT_TOKEN": "the bot token (xoxb-…) from the Slack app's OAuth page",
    "SLACK_SIGNING_SECRET": "the Slack app's signing secret, to verify requests in HTTP mode",
    "SLACK_APP_TOKEN": "an app-level token (xapp-…) with connections:write; set ⇒ Socket Mode",
    "SLACK_API_URL": "Slack Web API base URL",
    "SHOWTIME_ALLOWED_USERS": "comma-separated Slack user IDs allowed to change things",
    "SHOWTIME_ALLOWED_USERGROUPS": "comma-separated Slack user group IDs allowed to change things",
    "SHOWTIME_NOTIFY_CHANNEL": "channel for notices that have no thread yet",
    "SHOWTIME_GITHUB_LOGINS": "U123:login,U456:login2 — Slack user → GitHub login",
    "SHOWTIME_MAX_ENVIRONMENTS": "most environments running at once",
    "SHOWTIME_JOB_WORKERS": "jobs that run at once; more wait in a queue",
    "SHOWTIME_PR_COMMENTS": "post a PR comment when an environment runs, fails or stops",
    "GITHUB_TOKEN": "a GitHub token with Issues: write, Pull requests: read, Deployments: write "
    "(when SHOWTIME_GITHUB_DEPLOYMENTS is on), Metadata: read (a classic token: repo, or "
    "public_repo for a public repository)",
    "GITHUB_APP_ID": "GitHub App ID (instead of GITHUB_TOKEN)",
    "GITHUB_APP_PRIVATE_KEY": "GitHub App private key, PEM",
    "GITHUB_APP_INSTALLATION_ID": "GitHub App installation ID",
    "GITHUB_REPOSITORY": "owner/name of the repository whose PRs get environments",
    "GITHUB_API_URL": "GitHub REST API base URL",
    "GITHUB_WEBHOOK_SECRET": "secret that enables POST /github/webhook",
    "SHOWTIME_AUTO_REDEPLOY": "with webhooks on: a push rolls a running environment to the new head",
    "SHOWTIME_GITHUB_DEPLOYMENTS": "mirror environments as GitHub Deployments on the PR page",
    "GITHUB_SECONDS_BETWEEN_WRITES": "pause between GitHub writes (secondary rate limits)",
    "AWS_REGION": "AWS region of the ECS cluster",
    "AWS_ENDPOINT_URL": "AWS endpoint override (sandbox, tests, LocalStack)",
    "ECS_CLUSTER": "ECS cluster name",
    "ECS_SUBNETS": "comma-separated subnet IDs for the environments' tasks",
    "ECS_SECURITY_GROUPS": "comma-separated security group IDs for the environments' tasks",
    "ECS_ASSIGN_PUBLIC_IP": "ENABLED or DISABLED",
    "ECS_TASK_DEFINITION_FILE": "JSON task definition template",
    "ECS_TASK_ROLE_ARN": "IAM role (ARN or name) the environments' tasks get; unset = none, "
    "so PR code gets no AWS credentials",
    "ECS_EXECUTION_ROLE_ARN": "IAM role (ARN or name) ECS pulls the image and writes the log "
    "with; a name becomes an ARN in the bot's own account",
    "SHOWTIME_IMAGE_TEMPLATE": "image per PR and short SHA, with {pr} and {sha}",
    "SHOWTIME_ENV_PORT": "port the environment serves on",
    "SHOWTIME_HEALTH_PATH": "health check path",
    "SHOWTIME_POLL_SECONDS": "base poll interval for every wait",
    "SHOWTIME_DRAIN_TIMEOUT_SECONDS": "longest wait for a DRAINING service to go",
    "SHOWTIME_STABLE_TIMEOUT_SECONDS": "longest wait for the service to be stable",
    "SHOWTIME_HEALTH_TIMEOUT_SECONDS": "longest wait for the health check",
    "SHOWTIME_SMOKE_CHECKS": "what must pass before an environment is ready: comma-separated "
    "login, examples, sqllab, chart; empty = the health check alone",
    "SHOWTIME_SMOKE_TIMEOUT_SECONDS": "how long failing smoke checks are retried "
    "(examples may still be loading)",
    "SHOWTIME_DEFAULT_TTL": "TTL label added when a PR has none (24h, 48h, 72h, 1w, close)",
    "SHOWTIME_SWEEP_SECONDS": "how often expired environments are looked for",
    "SHOWTIME_STALE_LOCK_MINUTES": "age after which a claim with no live job is stale",
    "SHOWTIME_COST_VCPU_HOUR": "USD per vCPU-hour for the cost estimate (Fargate Linux/x86 list price)",
    "SHOWTIME_COST_GB_HOUR": "USD per GB-hour of memory for the cost estimate (list price)",
    "SHOWTIME_COST_IPV4_HOUR": "USD per public IPv4 address-hour (with ECS_ASSIGN_PUBLIC_IP=ENABLED)",
    "SHOWTIME_MONTHLY_BUDGET": "USD a calendar month (UTC); a new environment or an Extend that "
    "would take the estimate past it is refused; unset = no budget",
    "SHOWTIME_DB_URL": "job store URL (DATABASE_URL if set, else sqlite:///showtime.db)",
    "LOG_LEVEL": "DEBUG, INFO, WARNING or ERROR",
    "LOG_FORMAT": "text or json",
    "PORT": "HTTP port in HTTP mode",
}


# What RegisterTaskDefinition accepts as taskRoleArn: a role's ARN, or its name.
_ROLE = re.compile(r"(?:arn:aws[a-z-]*:iam::[0-9]{12}:role/)?[\w+=,.@/-]{1,512}", re.ASCII)


def _split_commas(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Every variable of SPEC §4. Field names are the variable names, lower-cased."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        populate_by_name=True,
    )

    # Slack
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    # Not used: read only to refuse them, since Bolt switches to OAuth when it sees both.
    slack_client_id: str | None = None
    slack_client_secret: SecretStr | None = None
    showtime_allowed_users: CommaList = Field(default_factory=list)
    showtime_allowed_usergroups: CommaList = Field(default_factory=list)
    showtime_notify_channel: str | None = None
    showtime_github_logins: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)
    showtime_max_environments: int = Field(default=30, ge=1)
    showtime_job_workers: int = Field(default=64, ge=1, le=1000)
    showtime_pr_comments: bool = False

    # GitHub
    github_token: SecretStr | None = None
    github_app_id: str | None = None
    github_app_private_key: SecretStr | None = None
    github_app_installation_id: int | None = None
    github_repository: str = "apache/superset"
    github_api_url: str = "https://api.github.com"
    github_webhook_secret: SecretStr | None = None
    showtime_auto_redeploy: bool = True
    showtime_github_deployments: bool = True
    github_seconds_between_writes: float = Field(default=1.0, ge=0)

    # AWS
    aws_region: str = "us-west-2"
    aws_endpoint_url: str | None = None
    ecs_cluster: str = "superset-ci"
    ecs_subnets: CommaList = Field(default_factory=list)
    ecs_security_groups: CommaList = Field(default_factory=list)
    ecs_assign_public_ip: Literal["ENABLED", "DISABLED"] = "ENABLED"
    ecs_task_definition_file: Path = BUNDLED_TASK_DEFINITION
    ecs_task_role_arn: str | None = None
    ecs_execution_role_arn: str = "ecsTaskExecutionRole"
    showtime_image_template: str = "apache/superset:pr-{pr}-{sha}-ci"
    showtime_env_port: int = Field(default=8080, ge=1, le=65535)
    showtime_health_path: str = "/health"

    # Waits and sweeps
    showtime_poll_seconds: float = Field(default=5.0, gt=0)
    showtime_drain_timeout_seconds: float = Field(default=600.0, gt=0)
    showtime_stable_timeout_seconds: float = Field(default=900.0, gt=0)
    showtime_health_timeout_seconds: float = Field(default=900.0, gt=0)
    showtime_smoke_checks: Annotated[tuple[Check, ...], NoDecode] = parse_checks(DEFAULT_CHECKS)
    showtime_smoke_timeout_seconds: float = Field(default=900.0, gt=0)
    showtime_default_ttl: str = "48h"
    showtime_sweep_seconds: float = Field(default=300.0, gt=0)
    showtime_stale_lock_minutes: float = Field(default=60.0, gt=0)

    # Cost estimate and budget (SPEC §13)
    showtime_cost_vcpu_hour: Decimal = Field(default=LIST_PRICES.vcpu_hour, ge=0)
    showtime_cost_gb_hour: Decimal = Field(default=LIST_PRICES.gb_hour, ge=0)
    showtime_cost_ipv4_hour: Decimal = Field(default=LIST_PRICES.ipv4_hour, ge=0)
    showtime_monthly_budget: Decimal | None = Field(default=None, gt=0)

    # Store, logging, HTTP
    showtime_db_url: str = Field(
        default="sqlite:///showtime.db",
        validation_alias=AliasChoices("showtime_db_url", "database_url"),
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    port: int = Field(default=3000, ge=1, le=65535)

    @field_validator(
        "showtime_allowed_users",
        "showtime_allowed_usergroups",
        "ecs_subnets",
        "ecs_security_groups",
        mode="before",
    )
    @classmethod
    def _comma_list(cls, value: object) -> object:
        return _split_commas(value)

    @field_validator("showtime_github_logins", mode="before")
    @classmethod
    def _logins(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        pairs: dict[str, str] = {}
        for item in value.split(","):
            if not item.strip():
                continue
            user, sep, login = item.partition(":")
            if not sep or not user.strip() or not login.strip():
                raise ValueError("expected U123:login pairs separated by commas")
            pairs[user.strip()] = login.strip()
        return pairs

    @field_validator("showtime_monthly_budget", mode="before")
    @classmethod
    def _no_budget(cls, value: object) -> object:
        # An empty variable means no budget, like an unset one.
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("slack_api_url", "github_api_url", "aws_endpoint_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None if value is None else value
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("must be an http(s) URL")
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _slash(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"

    @field_validator("github_api_url")
    @classmethod
    def _no_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("github_repository")
    @classmethod
    def _repo(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", value):
            raise ValueError("must be owner/name")
        return value

    @field_validator("ecs_task_role_arn")
    @classmethod
    def _role(cls, value: str | None) -> str | None:
        if not value:
            return None  # an empty variable means no role, like an unset one
        if not _ROLE.fullmatch(value):
            raise ValueError(
                "must be an IAM role ARN (arn:aws:iam::123456789012:role/name) or name"
            )
        return value

    @field_validator("ecs_execution_role_arn")
    @classmethod
    def _execution_role(cls, value: str) -> str:
        if not _ROLE.fullmatch(value):
            raise ValueError(
                "must be an IAM role ARN (arn:aws:iam::123456789012:role/name) or name"
            )
        return value

    @field_validator("showtime_smoke_checks", mode="before")
    @classmethod
    def _smoke_checks(cls, value: object) -> object:
        return parse_checks(value) if isinstance(value, str) else value

    @field_validator("showtime_default_ttl")
    @classmethod
    def _ttl(cls, value: str) -> str:
        if value not in TTL_VALUES:
            raise ValueError(f"must be one of {', '.join(TTL_VALUES)}")
        return value

    @field_validator("showtime_image_template")
    @classmethod
    def _image(cls, value: str) -> str:
        try:
            value.format(pr=1, sha="abcdef0")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError("may only use the {pr} and {sha} placeholders") from exc
        return value

    @field_validator("showtime_health_path")
    @classmethod
    def _path(cls, value: str) -> str:
        return value if value.startswith("/") else "/" + value

    @field_validator("ecs_task_definition_file")
    @classmethod
    def _file(cls, value: Path) -> Path:
        if not value.is_file():
            raise ValueError("file does not exist")
        return value

    # ----- derived views -------------------------------------------------

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None and bool(self.slack_app_token.get_secret_value())

    @property
    def cost_rates(self) -> Rates:
        return Rates(
            self.showtime_cost_vcpu_hour, self.showtime_cost_gb_hour, self.showtime_cost_ipv4_hour
        )

    @property
    def github_app_configured(self) -> bool:
        return bool(
            self.github_app_id and self.github_app_private_key and self.github_app_installation_id
        )


Need = Literal["slack", "github", "aws"]


def missing_settings(settings: Settings, needs: tuple[Need, ...]) -> list[str]:
    """Lines naming each variable a mode needs but does not have, with its purpose."""
    problems: list[str] = []

    def need(var: str, ok: bool, why: str = "") -> None:
        if not ok:
            problems.append(f"{var}: missing — {why or MEANINGS[var]}")

    if "slack" in needs:
        need("SLACK_BOT_TOKEN", _secret_set(settings.slack_bot_token))
        if settings.slack_client_id and _secret_set(settings.slack_client_secret):
            problems.append(
                "SLACK_CLIENT_ID, SLACK_CLIENT_SECRET: set — this bot is a single-workspace app "
                "with SLACK_BOT_TOKEN, and Bolt would switch to OAuth installs; unset them"
            )
        if not settings.socket_mode:
            need(
                "SLACK_SIGNING_SECRET",
                _secret_set(settings.slack_signing_secret),
                MEANINGS["SLACK_SIGNING_SECRET"] + " (or set SLACK_APP_TOKEN for Socket Mode)",
            )
    if "github" in needs:
        app_vars = (
            settings.github_app_id,
            settings.github_app_private_key,
            settings.github_app_installation_id,
        )
        if any(app_vars) and not all(app_vars):
            for var, value in zip(
                ("GITHUB_APP_ID", "GITHUB_APP_PRIVATE_KEY", "GITHUB_APP_INSTALLATION_ID"),
                app_vars,
                strict=True,
            ):
                need(var, bool(value), MEANINGS[var] + " (all three GitHub App variables)")
        elif not settings.github_app_configured:
            need(
                "GITHUB_TOKEN",
                _secret_set(settings.github_token),
                MEANINGS["GITHUB_TOKEN"] + " (or the three GITHUB_APP_* variables)",
            )
    if "aws" in needs:
        need("ECS_SUBNETS", bool(settings.ecs_subnets))
        need("ECS_SECURITY_GROUPS", bool(settings.ecs_security_groups))
    return problems


def _secret_set(value: SecretStr | None) -> bool:
    return value is not None and bool(value.get_secret_value().strip())


def describe_validation_error(error: ValidationError) -> list[str]:
    """One line per bad variable: its name, what is wrong, what it is for. No values."""
    lines: list[str] = []
    for item in error.errors(include_input=False, include_url=False):
        field = str(item["loc"][0]) if item["loc"] else "?"
        var = field.upper()
        meaning = MEANINGS.get(var, "")
        reason = item["msg"].removeprefix("Value error, ")
        lines.append(f"{var}: invalid — {reason}" + (f" ({meaning})" if meaning else ""))
    return lines


def _invalid_fields(error: ValidationError) -> set[str]:
    """The Settings fields ``error`` is about (an error may name a field by its alias)."""
    by_alias = {
        alias.lower(): name
        for name, info in Settings.model_fields.items()
        if isinstance(info.validation_alias, AliasChoices)
        for alias in info.validation_alias.choices
        if isinstance(alias, str)
    }
    fields: set[str] = set()
    for item in error.errors(include_input=False, include_url=False):
        loc = str(item["loc"][0]).lower() if item["loc"] else ""
        name = loc if loc in Settings.model_fields else by_alias.get(loc)
        if name:
            fields.add(name)
    return fields


def load_settings(needs: tuple[Need, ...] = (), **overrides: object) -> Settings:
    """Read settings and check what ``needs`` demands; raise one ConfigurationError.

    The error names every bad variable at once, invalid and missing together: with
    invalid values the settings are read again with defaults in their place, only to
    find what is missing as well (an operator fixing one variable per restart would
    otherwise meet the next problem only after the next deploy).
    """
    invalid: list[str] = []
    settings: Settings | None = None
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        invalid = describe_validation_error(exc)
        defaults = {
            name: Settings.model_fields[name].get_default(call_default_factory=True)
            for name in _invalid_fields(exc)
        }
        # The defaults are valid, so this only fails if an error named no field: then
        # the invalid variables are reported without the missing ones.
        with contextlib.suppress(ValidationError):
            settings = Settings(**{**overrides, **defaults})
    named = {line.split(":", 1)[0] for line in invalid}
    missing = [
        line
        for line in (missing_settings(settings, needs) if settings is not None else [])
        if line.split(":", 1)[0] not in named  # invalid and needed: said once, as invalid
    ]
    if invalid or missing or settings is None:
        heading = " and ".join(
            word for word, lines in (("invalid", invalid), ("missing", missing)) if lines
        )
        raise ConfigurationError(
            f"{heading.capitalize()} configuration:\n  " + "\n  ".join(invalid + missing),
            "fix or set these variables in the environment or .env (see .env.example), "
            "then start again",
        )
    return settings
