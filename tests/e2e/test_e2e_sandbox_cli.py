"""`showtime-bot sandbox --script`: the sample script passes; a failing step fails the run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_sandbox(script: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "sandbox",
            "--drain-seconds",
            "2",
            "--stable-seconds",
            "0.5",
            "--script",
            str(script),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
    )


def test_sample_script_passes_and_shows_the_draining_wait(tmp_path: Path) -> None:
    result = run_sandbox(ROOT / "examples" / "sandbox-demo.txt", tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "Script passed: 0 step(s) errored." in out
    assert "is DRAINING; waiting" in out
    # The first start, the start after the stop, the start the queued one waited behind.
    assert out.count("🎉 @maintainer #36121 runs") == 3
    assert "#36121 start cancelled by @maintainer after" in out  # Cancel inside DRAINING
    assert "queued behind the running deploy" in out
    assert "#36121 now runs" in out  # the push rolled it forward
    assert "#36122 runs" in out and "PR merged" in out  # the trigger label, then the close
    assert "*1 environment*" in out


def test_failure_script_shows_the_crash_log_then_retry_succeeds(tmp_path: Path) -> None:
    result = run_sandbox(ROOT / "examples" / "sandbox-failure.txt", tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "Script passed: 0 step(s) errored." in out
    # The failure's reply in the thread: the reason, then the task's own last lines.
    failure = out[out.index("failed: a task of pr-36122-") :]
    assert "Essential container in task exited" in failure.splitlines()[0]
    assert "📜 *The task's last 12 lines of log*" in failure
    assert "ModuleNotFoundError: No module named" in failure
    assert "✓ failed, as expected" in out
    # Retry, on the failed status message, deploys the fixed image.
    assert "🎉 @maintainer #36122 runs" in out
    # `logs` and the Logs button answer only the person who asked.
    answers = [line for line in out.splitlines() if line.startswith("👁  only you │ 📜")]
    assert len(answers) == 2, answers
    assert "the last 5 lines of `pr-36122-" in answers[0]
    assert "Booting worker with pid: 7" in out


def test_a_step_that_errors_fails_the_run(tmp_path: Path) -> None:
    script = tmp_path / "bad.txt"
    script.write_text("/showtime start 36000\nlabels 36000\nclick nothing\n")
    result = run_sandbox(script, tmp_path)
    assert result.returncode == 1
    assert "2 step(s) errored" in result.stdout
    assert "merged" in result.stdout


def test_ctrl_c_leaves_no_process_behind(tmp_path: Path) -> None:
    import signal
    import time

    import psutil

    sandbox = subprocess.Popen(
        [sys.executable, "-m", "bot", "sandbox"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
    )
    assert sandbox.stdout is not None
    ready = ""
    deadline = time.monotonic() + 60
    while "Ready in" not in ready and time.monotonic() < deadline:
        ready += sandbox.stdout.readline()
    bots = [
        p for p in psutil.Process(sandbox.pid).children(recursive=True) if "serve" in p.cmdline()
    ]
    assert bots, ready
    sandbox.send_signal(signal.SIGINT)
    assert sandbox.wait(30) == 0
    _, alive = psutil.wait_procs(bots, timeout=10)
    assert alive == []


def test_the_console_shows_the_home_tab_and_presses_its_buttons(tmp_path: Path) -> None:
    script = tmp_path / "home.txt"
    script.write_text("/showtime start 36121\nhome\nclick stop 36121\nhome\n")
    result = run_sandbox(script, tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    first, after = out.split("showtime> click stop 36121")
    assert "🏠 Home │ ━━ 🎪 Showtime environments ━━" in first
    assert "━━ Your environments (1) ━━" in first and "[Open] [Stop] [Extend TTL]" in first
    assert "💵 ≈ $0.034/h · $0.00 so far · $1.64 more until it expires" in first
    assert "🏠 Home │ ✅ `stop` #36121: #36121 stopped" in after
    assert "━━ All environments (0) ━━" in after
