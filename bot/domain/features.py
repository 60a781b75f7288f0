"""Feature flags from a PR description (SPEC §6).

A PR author turns Superset feature flags on for their environment with lines like
``FEATURE_EMBEDDED_SUPERSET=true`` in the PR description. Superset reads
``SUPERSET_FEATURE_<NAME>`` environment variables (``superset/config.py``), so each
line becomes one such variable in the task definition. Values are written as
``True``/``False``, the form the superset-showtime CLI writes, so an environment
looks the same whichever tool deployed it.

A line that starts like a flag but cannot be read (bad name, value that is not a
boolean) is skipped with a warning the thread shows: a silently ignored typo would
leave the author wondering why their feature is off.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ENV_PREFIX = "SUPERSET_FEATURE_"

_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})

# Optional Markdown list marker and inline-code backticks around the whole line,
# because authors paste flags as "- `FEATURE_X=true`" as often as bare lines.
_CANDIDATE = re.compile(r"^\s*(?:[-*+]\s+)?`?\s*(FEATURE_\S*?)\s*=\s*(.*?)\s*`?\s*$")
_NAME = re.compile(r"FEATURE_[A-Z][A-Z0-9_]*")


@dataclass(frozen=True)
class FeatureFlags:
    """Flags read from a description: ``flags`` maps ``SUPERSET_FEATURE_<NAME>`` to on/off."""

    flags: dict[str, bool]
    warnings: tuple[str, ...] = ()

    def environment(self) -> list[dict[str, str]]:
        """ECS container ``environment`` entries, sorted so the task definition is stable."""
        return [
            {"name": name, "value": "True" if enabled else "False"}
            for name, enabled in sorted(self.flags.items())
        ]


def parse_feature_flags(description: str | None) -> FeatureFlags:
    """Read every ``FEATURE_<NAME>=true|false|1|0|yes|no`` line; a later line wins."""
    flags: dict[str, bool] = {}
    warnings: list[str] = []
    for number, line in enumerate((description or "").splitlines(), start=1):
        match = _CANDIDATE.match(line)
        if match is None:
            continue
        name, raw_value = match.group(1), match.group(2)
        shown = line.strip()
        if not _NAME.fullmatch(name):
            warnings.append(
                f"line {number} `{shown}` skipped: a flag name is FEATURE_ followed by "
                "capital letters, digits and underscores"
            )
            continue
        value = raw_value.lower()
        if value in _TRUE:
            enabled = True
        elif value in _FALSE:
            enabled = False
        else:
            warnings.append(
                f"line {number} `{shown}` skipped: the value must be true or false "
                "(1/0 and yes/no also work)"
            )
            continue
        env_name = ENV_PREFIX + name.removeprefix("FEATURE_")
        if env_name in flags and flags[env_name] != enabled:
            warnings.append(f"line {number} `{shown}` overrides an earlier line for the same flag")
        flags[env_name] = enabled
    return FeatureFlags(flags=flags, warnings=tuple(warnings))
