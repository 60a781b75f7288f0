"""Deterministic resource names (the CLI's, so both tools find the same things)."""

from __future__ import annotations

import re

_SERVICE = re.compile(r"pr-(\d+)-([0-9a-f]{7})-service")


def service_name(pr: int, sha: str) -> str:
    """The one ECS service name an environment has: ``pr-{pr}-{sha7}-service``."""
    return f"pr-{pr}-{sha[:7]}-service"


def parse_service_name(name: str) -> tuple[int, str] | None:
    """``pr-36121-abc1234-service`` → ``(36121, "abc1234")``; other names → ``None``."""
    match = _SERVICE.fullmatch(name)
    return (int(match.group(1)), match.group(2)) if match else None


def image_name(template: str, pr: int, sha: str) -> str:
    return template.format(pr=pr, sha=sha[:7])
