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

The description is the PR author's text, and it may hold hundreds of such lines:
``warning_summary`` makes ONE message of them all (SPEC §12: up to 10 listed, then
"and N more"), each quoting at most 80 characters of its line inside a code span
the line's own backticks cannot close. Escaping for Slack is the Slack side's job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ENV_PREFIX = "SUPERSET_FEATURE_"
QUOTE_LIMIT = 80  # characters of a description line a warning quotes
LISTED_WARNINGS = 10  # warnings a summary lists; the others are counted

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

    def warning_summary(self) -> str | None:
        """Every warning in one message (the first ten listed), or ``None`` without any.

        One thread reply whatever the description holds: 300 bad lines once took 300
        replies and the bot's whole Slack rate limit.
        """
        if not self.warnings:
            return None
        count = len(self.warnings)
        lines = [
            f"Feature flags: {count} line{'s' if count != 1 else ''} of the PR description "
            f"{'need' if count != 1 else 'needs'} a look:"
        ]
        lines.extend(f"• {warning}" for warning in self.warnings[:LISTED_WARNINGS])
        if count > LISTED_WARNINGS:
            lines.append(f"… and {count - LISTED_WARNINGS} more")
        return "\n".join(lines)


def parse_feature_flags(description: str | None) -> FeatureFlags:
    """Read every ``FEATURE_<NAME>=true|false|1|0|yes|no`` line; a later line wins."""
    flags: dict[str, bool] = {}
    warnings: list[str] = []
    for number, line in enumerate((description or "").splitlines(), start=1):
        match = _CANDIDATE.match(line)
        if match is None:
            continue
        name, raw_value = match.group(1), match.group(2)
        shown = _quoted(line)
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


def _quoted(line: str) -> str:
    """At most QUOTE_LIMIT characters of ``line``, fit to sit between backticks.

    A backtick of the line would end the code span early and let the rest of the
    line be read as formatting: it becomes the look-alike "ˋ" (U+02CB).
    """
    shown = line.strip().replace("`", "ˋ")
    return shown if len(shown) <= QUOTE_LIMIT else shown[: QUOTE_LIMIT - 1] + "…"
