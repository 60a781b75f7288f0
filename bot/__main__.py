"""``showtime-bot`` / ``python -m bot``: serve (default), sandbox, jobs, check-config."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.config import Need, Settings, load_settings
from bot.errors import ConfigurationError
from bot.logs import setup_logging

SERVE_NEEDS: tuple[Need, ...] = ("slack", "github", "aws")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="showtime-bot",
        description="Slack bot that gives Apache Superset pull requests their own environment on AWS ECS.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = sub.add_parser(
        "serve",
        help="run the bot (default): HTTP mode, or Socket Mode with SLACK_APP_TOKEN (plus HTTP "
        "with PORT)",
    )
    serve.add_argument("--host", default="0.0.0.0", help="HTTP: address to listen on")
    serve.add_argument(
        "--port",
        type=int,
        default=None,
        help="HTTP port (default $PORT or 3000); in Socket Mode, HTTP (/healthz, /metrics, "
        "/github/webhook) is served only with --port or $PORT",
    )
    sandbox = sub.add_parser("sandbox", help="the whole system on this machine, no accounts needed")
    sandbox.add_argument(
        "--script", metavar="FILE", help="run lines from FILE ('-' for stdin) and exit"
    )
    sandbox.add_argument(
        "--drain-seconds", type=float, default=4.0, help="how long a deleted service stays DRAINING"
    )
    sandbox.add_argument(
        "--stable-seconds",
        type=float,
        default=2.0,
        help="how long a new service takes to be stable",
    )
    jobs = sub.add_parser("jobs", help="print recent jobs from the job store (the audit log)")
    jobs.add_argument("--limit", type=int, default=30)
    jobs.add_argument("--pr", type=int, default=None)
    check = sub.add_parser("check-config", help="check the settings 'serve' needs and exit")
    check.add_argument(
        "--live",
        action="store_true",
        help="also call Slack, GitHub and AWS with them: one line per check, exit 2 on any ✗",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = args.command or "serve"
    try:
        if command == "sandbox":
            try:
                from bot.sandbox.runner import run_sandbox
            except ImportError as exc:
                # `pip install .` is enough to serve; the stand-ins need moto (the extra).
                print(
                    f"showtime-bot: the sandbox needs the 'sandbox' extra ({exc.name} is missing)\n"
                    "  → pip install -e '.[sandbox]'  (or: pip install 'showtime-bot[sandbox]')",
                    file=sys.stderr,
                )
                return 2
            return run_sandbox(
                script=args.script,
                drain_seconds=args.drain_seconds,
                stable_seconds=args.stable_seconds,
            )
        if command == "jobs":
            return _jobs(args.limit, args.pr)
        settings = load_settings(SERVE_NEEDS)
        if command == "check-config":
            print("configuration OK for 'serve'")
            return _check_live(settings) if args.live else 0
        setup_logging(settings.log_level, settings.log_format)
        from bot.server import serve
        from bot.wiring import build_bot

        serve(
            build_bot(settings),
            host=getattr(args, "host", "0.0.0.0"),
            port=getattr(args, "port", None),
        )
        return 0
    except ConfigurationError as exc:
        print(f"showtime-bot: {exc.message}", file=sys.stderr)
        if exc.next_action:
            print(f"  → {exc.next_action}", file=sys.stderr)
        return 2


def _check_live(settings: Settings) -> int:
    """SPEC §17: what Slack, GitHub and AWS say of these settings; 2 if anything fails."""
    from bot.preflight import report, run_checks

    checks = run_checks(settings)
    for line in report(settings, checks):
        print(line)
    failures = sum(not check.ok for check in checks)
    print(f"{failures} check(s) failed" if failures else "all live checks passed")
    return 2 if failures else 0


def _jobs(limit: int, pr: int | None) -> int:
    from bot.adapters.store import SqlJobStore
    from bot.orchestrator.jobs import StartRecord

    settings = load_settings()
    missing = _missing_sqlite_file(settings.showtime_db_url)
    if missing is not None:  # opening it would create an empty store and say "no jobs"
        print(
            f"showtime-bot: no job store at {missing}: run this where the bot runs, or set "
            "SHOWTIME_DB_URL to the bot's database",
            file=sys.stderr,
        )
        return 2
    store = SqlJobStore(settings.showtime_db_url)
    rows = store.recent(limit=limit, pr=pr)
    if not rows:
        print("no jobs recorded")
    for job in rows:
        when = job.created_at.strftime("%Y-%m-%d %H:%M:%S")
        target = f"#{job.pr}" if job.pr is not None else "-"
        record = job.record
        sha = (record.sha7 if isinstance(record, StartRecord) else job.sha or "")[:7]
        print(
            f"{when}  {job.correlation_id}  {job.kind:<8} {target:<8} {sha:<7}  {job.state.value:<9} "
            f"{job.requester.stored:<20} {job.step or '-':<16} {(job.outcome or '')[:80]}"
        )
    return 0


def _missing_sqlite_file(url: str) -> Path | None:
    """The absolute path of a SQLite store file that does not exist, or None."""
    from bot.adapters.store_schema import in_memory, normalise_url

    parsed = normalise_url(url)
    if parsed.get_backend_name() != "sqlite" or in_memory(parsed) or parsed.database is None:
        return None
    path = Path(parsed.database).resolve()
    return None if path.exists() else path


if __name__ == "__main__":
    sys.exit(main())
