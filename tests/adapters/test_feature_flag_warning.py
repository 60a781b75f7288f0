"""A PR description full of bad feature-flag lines costs one thread reply (SPEC §12).

300 ``FEATURE_…=x`` lines once gave 300 warning replies and used up the bot's Slack
rate limit; now the task definition builder gives one warning, quoting ≤ 80 characters
of each listed line inside a code span the line's own backticks cannot close.
"""

from __future__ import annotations

import html
import re
from typing import Any

from bot.adapters.ecs.taskdef import build_task_definition, load_template
from bot.config import BUNDLED_TASK_DEFINITION

SHA = "abc1234def5678"


def build(description: str) -> tuple[dict[str, Any], list[str]]:
    return build_task_definition(
        load_template(BUNDLED_TASK_DEFINITION),
        pr=36121,
        sha=SHA,
        image="apache/superset:pr-36121-abc1234-ci",
        description=description,
        env_port=8080,
        task_role_arn=None,
    )


def test_three_hundred_bad_flag_lines_make_one_bounded_warning() -> None:
    hostile = "FEATURE_X`<!here>`=`<!channel>` " + "y" * 200
    description = "\n".join([*(f"FEATURE_{n}=x" for n in range(300)), hostile, "FEATURE_GOOD=true"])

    body, warnings = build(description)

    assert len(warnings) == 1
    text = warnings[0]
    assert "and 291 more" in text
    quotes = re.findall(r"`([^`]*)`", text)
    assert len(quotes) == 10 and all(len(html.unescape(q)) <= 80 for q in quotes)
    # The flags that could be read still apply.
    env = {e["name"]: e["value"] for e in body["containerDefinitions"][0]["environment"]}
    assert env["SUPERSET_FEATURE_GOOD"] == "True"


def test_backticks_in_a_quoted_line_stay_inside_its_code_span() -> None:
    _, [text] = build("FEATURE_X`<!here>`=`*bold*` <!channel>")

    # One code span holding the whole quote: nothing of the line is outside it.
    quotes = re.findall(r"`([^`]*)`", text)
    assert len(quotes) == 1
    assert "<!here>" in quotes[0] and "<!channel>" in quotes[0]
    outside = re.sub(r"`[^`]*`", "", text)
    assert "<" not in outside and "*bold*" not in outside
