"""``python -m benchmarks [ack|api|memory|flood|wait|home|smoke|metrics|cancel|dms|masking ...]``: run benchmarks and print their tables.

Progress goes to stderr, the tables to stdout, so ``python -m benchmarks > tables.txt``
keeps only the tables.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable

from benchmarks import (
    ack_latency,
    api_calls,
    cancel,
    dms,
    flood,
    home_tab,
    masking,
    memory,
    metrics_scrape,
    requester_wait,
    smoke,
)
from benchmarks.table import Table

BENCHMARKS: dict[str, Callable[[], list[Table]]] = {
    "ack": ack_latency.run,
    "api": api_calls.run,
    "memory": memory.run,
    "flood": flood.run,
    "wait": requester_wait.run,
    "home": home_tab.run,
    "smoke": smoke.run,
    "metrics": metrics_scrape.run,
    "cancel": cancel.run,
    "dms": dms.run,
    "masking": masking.run,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Measure the bot against the sandbox stand-ins (loopback only).",
    )
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"benchmarks to run: {', '.join(BENCHMARKS)} (default: all)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log the stand-ins too")
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("benchmarks").setLevel(logging.INFO)
    for name in args.names or list(BENCHMARKS):
        began = time.monotonic()
        for table in BENCHMARKS[name]():
            print(table.render(), end="\n\n", flush=True)
        logging.getLogger("benchmarks").info("%s took %.0f s", name, time.monotonic() - began)
    return 0


if __name__ == "__main__":
    sys.exit(main())
