"""``masking`` — what masking costs a failure tail, a heartbeat line and a `logs` answer.

Everything the environments print passes ``mask_secrets`` before it reaches a thread (SPEC
§12): a failure's last 30 lines (at most 2,500 characters), the newest log line on a
heartbeat, up to 200 lines of `logs`. The texts here are what Superset prints while it boots,
with a GitHub token and a Redis URL with a password in them. Each case is masked 200 times;
the table gives the per-call p50 and p99 in this process (no network, no sandbox).
"""

from __future__ import annotations

import statistics
import time

from benchmarks.table import Table
from bot.domain.masking import mask_secrets

GHP = "ghp_" + "A1b2C3d4" * 4 + "zz"  # shaped like a classic token; not a real one
LINE = "INFO  [alembic.runtime.migration] step {n}: Running upgrade -> {n:040x}, user=admin"
ROUNDS = 200


def _text(lines: int, limit: int) -> str:
    body = "\n".join(LINE.format(n=n) for n in range(lines))[:limit]
    return body + f" {GHP} redis://:pw@cache:6379/0"


CASES = (
    ("heartbeat line (150 chars)", _text(1, 150)),
    ("failure tail (30 lines, 2,500 chars)", _text(30, 2400)),
    ("`logs` answer (200 lines)", _text(200, 20000)),
)


def run() -> list[Table]:
    table = Table(
        "Masking what environments print (SPEC §12), per call",
        ["text", "characters", "p50 ms", "p99 ms", "masked"],
        decimals=3,
    )
    for name, text in CASES:
        took = []
        for _ in range(ROUNDS):
            started = time.perf_counter()
            shown = mask_secrets(text)
            took.append((time.perf_counter() - started) * 1000)
        took.sort()
        p99 = took[int(len(took) * 0.99) - 1]
        masked = GHP not in shown and ":pw@" not in shown
        table.add(name, len(text), statistics.median(took), p99, "yes" if masked else "NO")
    return [table]
