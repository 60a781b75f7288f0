"""The /showtime grammar: every form of SPEC §5, and hostile text never raises."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain import commands
from bot.domain.commands import (
    USAGE,
    Cleanup,
    CommandError,
    Freeze,
    Help,
    ListEnvironments,
    Logs,
    SetTtl,
    Start,
    Status,
    Stop,
    Unfreeze,
    parse_command,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Help()),
        ("help", Help()),
        ("start 36121", Start(36121)),
        ("start #36121", Start(36121)),
        ("start https://github.com/apache/superset/pull/36121", Start(36121)),
        ("start <https://github.com/apache/superset/pull/36121>", Start(36121)),
        ("start https://github.com/apache/superset/pull/36121/files", Start(36121)),
        ("START 36121 ABC1234", Start(36121, "abc1234")),
        ("start 36121 abc1234 ttl=72h", Start(36121, "abc1234", "72h")),
        ("start 36121 ttl=1w", Start(36121, None, "1w")),
        ("start 36121 " + "a" * 40, Start(36121, "a" * 40)),
        ("stop 36121", Stop(36121)),
        ("status #36121", Status(36121)),
        ("list", ListEnvironments()),
        ("ttl 36121 close", SetTtl(36121, "close")),
        ("freeze 36121", Freeze(36121)),
        ("unfreeze 36121", Unfreeze(36121)),
        ("cleanup", Cleanup()),
        ("cleanup --dry-run", Cleanup(dry_run=True)),
        ("  /showtime   status   36121  ", Status(36121)),
    ],
)
def test_valid_commands(text: str, expected: object) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("launch 36121", "Unknown command `launch`"),
        ("start", "needs a pull request"),
        ("start abc", "not a pull request number"),
        ("start -5", "not a pull request number"),
        ("start 0", "not a plausible"),
        ("start 99999999999", "not a plausible"),
        ("start 36121 abc12", "not a commit SHA"),
        ("start 36121 " + "a" * 41, "not a commit SHA"),
        ("start 36121 xyz1234", "not a commit SHA"),
        ("start 36121 ttl=3d", "not a TTL"),
        ("start 36121 abc1234 def5678", "unexpected words"),
        ("start https://github.com/someone/else/pull/1", "this bot serves apache/superset"),
        ("stop 36121 now", "unexpected words"),
        ("status", "needs a pull request"),
        ("ttl 36121", "needs a pull request and a TTL"),
        ("ttl 36121 2d", "not a TTL"),
        ("list everything", "unexpected words"),
        ("cleanup --force", "only `--dry-run`"),
        ("help me", "takes no arguments"),
        ("start ３６１２１", "not a pull request number"),
    ],
)
def test_bad_input_says_what_was_wrong_and_shows_usage(text: str, says: str) -> None:
    result = parse_command(text)
    assert isinstance(result, CommandError)
    assert says in result.problem
    assert result.text.endswith(USAGE)


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("strat 36121", "Did you mean `start`?"),
        ("stauts 36121", "Did you mean `status`?"),
        ("extend 36121 72h", "Did you mean `ttl`?"),  # the button is Extend TTL
        ("redeploy 36121", "Did you mean `start`?"),
        ("delete 36121", "Did you mean `stop`?"),
        ("banana 36121", None),
    ],
)
def test_a_mistyped_or_differently_named_command_gets_a_hint(text: str, hint: str | None) -> None:
    result = parse_command(text)
    assert isinstance(result, CommandError) and result.problem.startswith("Unknown command")
    if hint is None:
        assert "Did you mean" not in result.problem
    else:
        assert result.problem.endswith(hint)
    assert result.text.endswith(USAGE)


def test_every_hint_names_a_command_the_grammar_knows() -> None:
    for verb in {*commands._VERBS, *commands._SYNONYMS.values()}:
        parsed = parse_command(verb)
        assert not (isinstance(parsed, CommandError) and "Unknown command" in parsed.problem)


def test_user_text_is_echoed_safely() -> None:
    result = parse_command("start <@U123>`rm -rf`" + "x" * 100)
    assert isinstance(result, CommandError)
    assert "<@" not in result.problem and "`rm" not in result.problem
    assert len(result.problem) < 200


HOSTILE = st.one_of(
    st.text(max_size=600),
    st.text(alphabet=st.sampled_from(list(";|&$`\\'\"<>(){}*?!\n\r\t\x00 ")), max_size=80),
    st.lists(
        st.sampled_from(
            ["start", "stop", "ttl", "status", "36121", "#1", "ttl=", "--dry-run", "\n", "🎪"]
        ),
        max_size=8,
    ).map(" ".join),
    st.text(min_size=500, max_size=5000),
    st.from_regex(r"start [0-9]{1,30}( [0-9a-f]{1,45})?( ttl=[a-z0-9]{0,5})?", fullmatch=True),
)


@given(HOSTILE)
def test_hostile_text_never_raises(text: str) -> None:
    result = parse_command(text)
    assert isinstance(
        result,
        CommandError
        | Help
        | Start
        | Stop
        | Status
        | ListEnvironments
        | SetTtl
        | Freeze
        | Unfreeze
        | Cleanup,
    )
    if isinstance(result, CommandError):
        assert result.problem and "\n" not in result.problem


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("logs 36121", Logs(36121, 30)),
        ("logs #36121 200", Logs(36121, 200)),
        ("LOGS https://github.com/apache/superset/pull/36121 1", Logs(36121, 1)),
    ],
)
def test_logs_takes_a_pr_and_a_number_of_lines(text: str, expected: Logs) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("logs", "`logs` needs a pull request number"),
        ("logs 36121 201", "`201` lines is too many: `logs` shows at most 200"),
        ("logs 36121 " + "9" * 80, "is too many"),
        ("logs 36121 0", "at least 1 line"),
        ("logs 36121 ten", "`ten` is not a number of lines (1–200, default 30)"),
        ("logs 36121 -5", "is not a number of lines"),
        ("logs 36121 ٣", "is not a number of lines"),  # a digit, but not an ASCII one
        ("logs 36121 30 more", "unexpected words"),
        ("logs abc", "not a pull request number"),
    ],
)
def test_bad_logs_input_says_what_and_shows_the_usage(text: str, says: str) -> None:
    result = parse_command(text)
    assert isinstance(result, CommandError)
    assert says in result.text
    assert "`logs <pr> [<lines>]`" in result.text  # the usage line lists it
