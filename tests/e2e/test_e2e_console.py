"""A scripted console session against the real bot: every answer reads as Slack shows it
(SPEC §17), never as the JSON it travels in."""

from __future__ import annotations

import io
import re

from bot.sandbox.console import Console
from bot.sandbox.harness import Sandbox


def test_a_console_session_shows_rendered_answers_only(sandbox: Sandbox, new_pr: int) -> None:
    out = io.StringIO()
    console = Console(sandbox, out)
    try:
        console.run_lines(
            [
                "help",
                "?",
                "/showtime help",
                f"start {new_pr}",
                f"status {new_pr}",
                f"click open {new_pr}",
                "list",
                f"stop {new_pr}",
            ],
            echo=True,
        )
    finally:
        console.close()

    shown = out.getvalue()
    assert console.errors == 0, shown
    assert '{"' not in shown and '"response_type"' not in shown and "\\u00b7" not in shown
    step = {line: text for line, text in _steps(shown)}
    # The console's own commands, twice; the bot's usage once, rendered.
    assert step["help"] == step["?"] and "click <button> [<pr>]" in step["help"]
    assert step["/showtime help"].startswith("👁  only you │ *Showtime* gives a pull request")
    assert "`stop <pr>` · `cancel <pr>` · `status <pr>`" in step["/showtime help"]
    sha = sandbox.github.head_sha(new_pr)[:7]
    ran = re.search(
        rf"🎉 @maintainer #{new_pr} runs {sha} at (http://127\.0\.0\.\d+:\d+)",
        step[f"start {new_pr}"],
    )
    assert ran, step[f"start {new_pr}"]
    assert f"*running {sha}*" in step[f"status {new_pr}"]
    # Each environment is its own (stand-in) Superset, on its own loopback address.
    assert step[f"click open {new_pr}"].strip() == f"🌐 [Open] opens {ran.group(1)}"
    assert f"#{new_pr} (https://github.com/" in step["list"] and "*running*" in step["list"]
    assert f"#{new_pr} stopped" in step[f"stop {new_pr}"]


def _steps(shown: str) -> list[tuple[str, str]]:
    """(the line typed, what the console printed for it), in order."""
    parts = shown.split("\nshowtime> ")[1:]
    return [
        (part.split("\n", 1)[0], part.split("\n", 1)[1] if "\n" in part else "") for part in parts
    ]
