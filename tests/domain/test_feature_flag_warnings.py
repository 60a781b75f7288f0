"""Feature-flag warnings about a PR description: one message, bounded quotes (SPEC §12)."""

from __future__ import annotations

import re

from bot.domain.features import parse_feature_flags


def test_no_warnings_no_message() -> None:
    assert parse_feature_flags("FEATURE_A=true").warning_summary() is None


def test_one_message_lists_ten_and_counts_the_rest() -> None:
    flags = parse_feature_flags("\n".join(f"FEATURE_{n}=x" for n in range(12)))

    summary = flags.warning_summary()

    assert summary is not None
    lines = summary.splitlines()
    assert lines[0] == "Feature flags: 12 lines of the PR description need a look:"
    assert lines[1].startswith("• line 1 `FEATURE_0=x` skipped")
    assert len([line for line in lines if line.startswith("• ")]) == 10
    assert lines[-1] == "… and 2 more"


def test_a_quoted_line_is_at_most_80_characters_and_keeps_its_code_span() -> None:
    line = "FEATURE_`X`=" + "`" * 5 + "y" * 200
    flags = parse_feature_flags(line)

    [warning] = flags.warnings

    quotes = re.findall(r"`([^`]*)`", warning)
    assert len(quotes) == 1
    assert len(quotes[0]) == 80 and quotes[0].endswith("…")
    assert quotes[0].startswith("FEATURE_ˋXˋ=ˋˋˋˋˋyyy")
