"""Deterministic resource names (the CLI's, so both tools find the same things)."""

from __future__ import annotations

import re

_SERVICE_NAME = re.compile(r"^pr-(\d+)(?:-([0-9a-f]{7,40}))?-service$")


def service_name(pr: int, sha: str) -> str:
    """``pr-{pr}-{sha7}-service``: deterministic, so every tool finds the same service."""
    return f"pr-{pr}-{sha[:7]}-service"


def parse_service_name(name: str) -> tuple[int, str | None] | None:
    """``(pr, sha7)`` from a showtime service name; the CLI's oldest names have no SHA."""
    match = _SERVICE_NAME.match(name)
    if match is None:
        return None
    return int(match.group(1)), match.group(2)
