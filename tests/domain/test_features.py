from bot.domain.features import parse_feature_flags

DESCRIPTION = """\
### SUMMARY
Adds the embedded dashboard toggle.

FEATURE_EMBEDDED_SUPERSET=true
- FEATURE_DRILL_TO_DETAIL=no
* `FEATURE_ALERT_REPORTS = 1`
FEATURE_TAGGING_SYSTEM=False\r
"""


def test_flag_lines_become_superset_feature_variables() -> None:
    flags = parse_feature_flags(DESCRIPTION)

    assert flags.flags == {
        "SUPERSET_FEATURE_EMBEDDED_SUPERSET": True,
        "SUPERSET_FEATURE_DRILL_TO_DETAIL": False,
        "SUPERSET_FEATURE_ALERT_REPORTS": True,
        "SUPERSET_FEATURE_TAGGING_SYSTEM": False,
    }
    assert flags.warnings == ()


def test_environment_uses_the_cli_value_spelling_sorted_by_name() -> None:
    env = parse_feature_flags("FEATURE_B=yes\nFEATURE_A=0").environment()

    assert env == [
        {"name": "SUPERSET_FEATURE_A", "value": "False"},
        {"name": "SUPERSET_FEATURE_B", "value": "True"},
    ]


def test_unreadable_flag_lines_are_skipped_with_a_warning_naming_the_line() -> None:
    flags = parse_feature_flags("intro\nFEATURE_X=maybe\nFEATURE_lower=true\nFEATURE_OK=true")

    assert flags.flags == {"SUPERSET_FEATURE_OK": True}
    assert len(flags.warnings) == 2
    assert "line 2 `FEATURE_X=maybe`" in flags.warnings[0]
    assert "true or false" in flags.warnings[0]
    assert "line 3 `FEATURE_lower=true`" in flags.warnings[1]


def test_prose_and_other_assignments_are_ignored_silently() -> None:
    text = "Set FEATURE_X=true in your config.\nDEBUG=true\nfeature_x=true\n"

    flags = parse_feature_flags(text)

    assert flags.flags == {}
    assert flags.warnings == ()


def test_a_later_line_wins_and_the_conflict_is_reported() -> None:
    flags = parse_feature_flags("FEATURE_X=true\nFEATURE_X=false")

    assert flags.flags == {"SUPERSET_FEATURE_X": False}
    assert flags.warnings and "overrides" in flags.warnings[0]


def test_no_description_means_no_flags() -> None:
    assert parse_feature_flags(None).flags == {}
    assert parse_feature_flags("").environment() == []
