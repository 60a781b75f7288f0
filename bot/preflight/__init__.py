"""``showtime-bot check-config --live``: ask Slack, GitHub and AWS whether the settings work.

``check-config`` alone only reads the settings; ``--live`` makes the calls ``serve`` will
depend on — read-only ones — and says, one line per check, what works (``✓``) and what does
not and how to fix it (``✗ … — …``), so an operator finds a wrong token, a missing
permission or a cluster in another region before the first deploy does. Each service's
checks are in their own module; none writes anything anywhere.

No line carries a secret: lines are built from names, ids, error codes and GitHub's short
error messages, never from an exception's text, and every configured secret is masked from
them anyway.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import SecretStr

from bot.config import Settings
from bot.preflight import aws_checks, github_checks, slack_checks
from bot.preflight.check import Check

MASK = "[masked]"


def run_checks(settings: Settings) -> list[Check]:
    """Every live check, Slack then GitHub then AWS; a service that cannot be reached or
    refuses its credentials ends its own checks, not the others'."""
    return [
        *slack_checks.checks(settings),
        *github_checks.checks(settings),
        *aws_checks.checks(settings),
    ]


def report(settings: Settings, checks: Iterable[Check]) -> list[str]:
    """The lines to print, with every configured secret masked (belt and braces)."""
    secrets = [
        value.get_secret_value().strip()
        for value in (
            settings.slack_bot_token,
            settings.slack_app_token,
            settings.slack_signing_secret,
            settings.github_token,
            settings.github_app_private_key,
            settings.github_webhook_secret,
        )
        if isinstance(value, SecretStr) and value.get_secret_value().strip()
    ]
    lines = []
    for check in checks:
        line = check.line()
        for secret in secrets:
            line = line.replace(secret, MASK)
        lines.append(line)
    return lines
