"""``showtime-bot sandbox``: start everything, then the console (or a script)."""

from __future__ import annotations

import logging
import sys
import time

from bot.sandbox.console import Console
from bot.sandbox.harness import Sandbox

PROMPT = "showtime> "


def run_sandbox(*, script: str | None, drain_seconds: float, stable_seconds: float) -> int:
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's server logs every request
    began = time.monotonic()
    print(
        "Starting the sandbox: Slack, GitHub and AWS (moto) stand-ins on 127.0.0.1, and the bot…",
        flush=True,
    )
    sandbox = Sandbox(drain_seconds=drain_seconds, stable_seconds=stable_seconds)
    try:
        sandbox.start()
    except Exception as exc:
        print(f"The sandbox could not start: {exc}", file=sys.stderr)
        sandbox.close()
        return 1
    interactive = script is None and sys.stdin.isatty()
    console = Console(sandbox, prompt=PROMPT if interactive else "")
    print(
        f"Ready in {time.monotonic() - began:.1f}s — bot on http://127.0.0.1:{sandbox.port} "
        f"(log: {sandbox.workdir / 'bot.log'}). Type `/showtime help`, or `help` for the console.",
        flush=True,
    )
    try:
        if script is not None:
            stream = sys.stdin if script == "-" else open(script, encoding="utf-8")  # noqa: SIM115
            with stream:
                console.run_lines(stream, echo=True)
        else:
            _interactive(console)
    except KeyboardInterrupt:
        print("\nStopping…", flush=True)
    finally:
        console.close()
        sandbox.close()
    if script is not None:
        status = "failed" if console.errors else "passed"
        print(f"\nScript {status}: {console.errors} step(s) errored.", flush=True)
    return 1 if console.errors and script is not None else 0


def _interactive(console: Console) -> None:
    while True:
        console.reading = True
        try:
            line = input(PROMPT)
        except EOFError:
            return
        finally:
            console.reading = False
        if line.strip() in ("quit", "exit"):
            return
        console.handle(line, wait=False)
