"""(b) GitHub requests and AWS calls per operation, with 3 and with 100 environments running.

Counted by the stand-ins themselves (every HTTP request GitHub's stand-in answers,
every ECS/EC2 request moto answers, retries included), reset right before the
measured slash command and read once it has settled and the counters have stopped
moving. Per size ``n`` one fresh sandbox:

1. ``n - 1`` environments are started (the very first one, in an empty repository,
   is measured once as "first ever"), then the bot is restarted so that its
   label-definition cache is cold; the restart itself is measured too.
2. ``start A`` (fresh, cold cache) → ``n`` running; ``status A``; ``list``; ``logs A``;
   ``stop A``.
3. ``start B`` (fresh, warm cache) → ``n`` running; a commit is pushed to B and
   ``start B`` again (rolling update, blue-green).

The budgets are SPEC §10's; "CLI" is what the superset-showtime CLI makes for the
same operation against the same kind of stand-ins (SPEC §10).
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections import Counter
from dataclasses import dataclass, field

from benchmarks import common
from benchmarks.table import Table
from bot.sandbox.harness import Sandbox

log = logging.getLogger(__name__)

SIZES = (3, 100)
START_BATCH = 25  # background starts sent at once, to keep the 2-core machine responsive
SHA7 = re.compile(r"\b[0-9a-f]{7}\b")  # per-SHA label names carry the short SHA
SETTLE_QUIET_SECONDS = 0.5  # counters unchanged this long: the operation's tail is in

# Short names for the GitHub routes the bot uses (method, template) → column title.
GITHUB_ROUTES = {
    ("GET", "/repos/{owner}/{repo}/pulls/{number}"): "GET pull",
    ("GET", "/repos/{owner}/{repo}/pulls/{number}/commits"): "GET commits",
    ("GET", "/repos/{owner}/{repo}/issues/{number}"): "GET issue",
    ("GET", "/repos/{owner}/{repo}/issues/{number}/labels"): "GET pr labels",
    ("POST", "/repos/{owner}/{repo}/issues/{number}/labels"): "POST pr labels",
    ("PUT", "/repos/{owner}/{repo}/issues/{number}/labels"): "PUT pr labels",
    ("DELETE", "/repos/{owner}/{repo}/issues/{number}/labels"): "DEL all pr labels",
    ("DELETE", "/repos/{owner}/{repo}/issues/{number}/labels/{name}"): "DEL pr label",
    ("GET", "/repos/{owner}/{repo}/labels"): "GET defs",
    ("GET", "/repos/{owner}/{repo}/labels/{name}"): "GET def",
    ("POST", "/repos/{owner}/{repo}/labels"): "POST def",
    ("PATCH", "/repos/{owner}/{repo}/labels/{name}"): "PATCH def",
    ("DELETE", "/repos/{owner}/{repo}/labels/{name}"): "DEL def",
    ("GET", "/search/issues"): "search",
    ("GET", "/repos/{owner}/{repo}"): "GET repo",
    ("GET", "/repos/{owner}/{repo}/collaborators/{login}/permission"): "GET perm",
    ("POST", "/repos/{owner}/{repo}/deployments"): "POST deploy",
    ("POST", "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses"): "POST dstatus",
}
AWS_OPERATIONS = {
    "ListServices": "ListSvc",
    "DescribeServices": "DescSvc",
    "RegisterTaskDefinition": "RegTaskDef",
    "CreateService": "CreateSvc",
    "UpdateService": "UpdateSvc",
    "DeleteService": "DeleteSvc",
    "ListTasks": "ListTasks",
    "DescribeTasks": "DescTasks",
    "DescribeNetworkInterfaces": "DescENIs",
    "GetLogEvents": "GetLogs",
}


@dataclass
class Sample:
    operation: str
    running: int
    github: Counter[tuple[str, str]]
    aws: Counter[str]
    slack: int
    failed: bool = False
    github_budget: str = "—"
    aws_budget: str = "—"
    cli_github: str = "—"
    cli_aws: str = "—"
    notes: list[str] = field(default_factory=list)

    @property
    def github_total(self) -> int:
        return sum(self.github.values())

    @property
    def github_writes(self) -> int:
        return sum(n for (method, _), n in self.github.items() if method != "GET")


def run() -> list[Table]:
    samples: list[Sample] = []
    problems: list[str] = []
    for size in SIZES:
        samples += _scenario(size, first_ever=size == SIZES[0], problems=problems)
    return _tables(samples, problems)


def _scenario(n: int, *, first_ever: bool, problems: list[str]) -> list[Sample]:
    samples: list[Sample] = []
    base = 50000 + n * 1000
    background = list(range(base, base + n - 1))
    a, b = base + 900, base + 901
    sandbox = common.new_sandbox(drain_seconds=0.3, stable_seconds=0.05, poll_seconds=0.05, env={})
    with sandbox:
        common.add_prs(sandbox, [*background, a, b])
        rest = background
        if first_ever and background:
            first = _measure(sandbox, "start fresh, first ever", 1, f"start {background[0]}")
            samples.append(_start_budgets(first))
            rest = background[1:]
        log.info("api: starting %d background environments", len(rest))
        for at in range(0, len(rest), START_BATCH):
            common.send_starts(sandbox, rest[at : at + START_BATCH])
            common.wait_idle(sandbox, timeout=180)
        running = _running(sandbox)
        if running != n - 1:
            raise RuntimeError(f"{running} environments run instead of {n - 1}")

        log.info("api: restarting the bot (cold label-definition cache)")
        sandbox.stop_bot()
        _reset(sandbox)
        sandbox.start_bot()
        samples.append(_read(sandbox, "bot start-up (+1 s idle)", running, wait=1.0))

        samples.append(
            _start_budgets(_measure(sandbox, "start fresh, cold cache", n, f"start {a}"))
        )
        status = _measure(sandbox, "status", n, f"status {a}")
        status.github_budget, status.aws_budget = "≤ 2", "≤ 3"
        samples.append(status)
        listed = _measure(sandbox, "list", n, "list")
        listed.github_budget = f"≤ {math.ceil(n / 100)}"
        listed.aws_budget = f"{math.ceil(n / 10)} describe + pages"
        listed.cli_github = str(1 + n)
        samples.append(listed)
        logs = _measure(sandbox, "logs", n, f"logs {a}")
        logs.github_budget, logs.aws_budget = "≤ 1", "2 (ListTasks + GetLogEvents)"
        samples.append(logs)
        samples.append(_stop(sandbox, a, n - 1))

        samples.append(
            _start_budgets(_measure(sandbox, "start fresh, warm cache", n, f"start {b}"))
        )
        sandbox.github.push_commit(b)
        rolling = _measure(sandbox, "start rolling, warm cache", n, f"start {b}")
        rolling.cli_github = "44"
        samples.append(rolling)
        # A push on GitHub, delivered to the webhook: the rolling update it starts, the
        # pusher's permission check included (a login the bot has not looked up yet).
        sandbox.github.set_permission("committer", "write")
        pushed = _push(sandbox, b, n, "committer", "push → rolling update (webhook)")
        pushed.github_budget = "≤ 16"
        samples.append(pushed)
        samples.append(_push(sandbox, b, n, "committer", "push again, permission cached"))
        problems += [f"n={n}: {line}" for line in common.log_problems(sandbox)]
    return samples


def _start_budgets(sample: Sample) -> Sample:
    """SPEC §10: describe, register, create, the stability polls, task → ENI → IP (3 calls)."""
    polls = max(sample.aws["DescribeServices"] - 1, 0)
    sample.github_budget = "≤ 14"
    sample.aws_budget = f"{6 + polls} (6 + {polls} polls)"
    sample.cli_github = "42 (33 w)"
    sample.cli_aws = "12"
    return sample


def _stop(sandbox: Sandbox, pr: int, running_after: int) -> Sample:
    """``stop``; its budget counts the labels it had to remove and definitions to delete."""
    labels = {name for name in sandbox.github.labels(pr) if name.startswith("🎪")}
    definitions = set(sandbox.github.label_definitions())
    sample = _measure(sandbox, "stop", running_after, f"stop {pr}")
    removed = labels - set(sandbox.github.labels(pr))
    deleted = definitions - set(sandbox.github.label_definitions())
    with_sha = {name for name in deleted if SHA7.search(name)}
    sample.github_budget = f"≤ {1 + len(removed) + len(with_sha)}"
    sample.cli_github = "12"
    sample.notes.append(
        f"stop removed {len(removed)} PR labels and deleted {len(with_sha)} SHA label definitions"
    )
    if deleted - with_sha:
        sample.notes.append(f"stop ALSO deleted shared definitions: {sorted(deleted - with_sha)}")
    return sample


def _push(sandbox: Sandbox, pr: int, running: int, login: str, operation: str) -> Sample:
    log.info("api: push to #%s delivered to the webhook (%d running)", pr, running)
    _reset(sandbox)
    delivery = sandbox.github_event(lambda hooks: hooks.push(pr, login), pr)
    sample = _read(sandbox, operation, running)
    sample.failed = delivery.status != 202
    return sample


def _measure(sandbox: Sandbox, operation: str, running: int, text: str) -> Sample:
    log.info("api: %s (%d running)", text, running)
    _reset(sandbox)
    outcome = sandbox.command(text, timeout=120)
    sample = _read(sandbox, operation, running)
    sample.failed = outcome.failed
    return sample


def _reset(sandbox: Sandbox) -> None:
    sandbox.github.reset_counts()
    sandbox.ecs.reset()
    sandbox.slack.reset_calls()


def _read(sandbox: Sandbox, operation: str, running: int, wait: float = 0.0) -> Sample:
    """The counters once nothing has moved for a moment (trailing Slack edits included)."""
    time.sleep(wait)

    def snapshot() -> tuple[int, int, int]:
        return (
            sandbox.github.total(),
            sum(sandbox.ecs.calls.values()),
            sum(sandbox.slack.calls.values()),
        )

    last, quiet_since = snapshot(), time.monotonic()
    while time.monotonic() - quiet_since < SETTLE_QUIET_SECONDS:
        time.sleep(0.05)
        now = snapshot()
        if now != last:
            last, quiet_since = now, time.monotonic()
    return Sample(
        operation=operation,
        running=running,
        github=Counter(sandbox.github.counts()),
        aws=Counter(sandbox.ecs.calls),
        slack=sum(sandbox.slack.calls.values()),
    )


def _running(sandbox: Sandbox) -> int:
    return sum(1 for service in sandbox.services() if service.get("status") == "ACTIVE")


def _tables(samples: list[Sample], problems: list[str]) -> list[Table]:
    summary = Table(
        "GitHub requests and AWS calls per operation (counted by the stand-ins)",
        [
            "operation",
            "running",
            "GitHub",
            "writes",
            "GH budget",
            "CLI GH",
            "AWS",
            "AWS budget",
            "CLI AWS",
            "Slack API",
        ],
    )
    for s in samples:
        summary.add(
            s.operation + (" [FAILED]" if s.failed else ""),
            s.running,
            s.github_total,
            s.github_writes,
            s.github_budget,
            s.cli_github,
            sum(s.aws.values()),
            s.aws_budget,
            s.cli_aws,
            s.slack,
        )
    summary.notes += [
        "running: environments running when the operation ends; GitHub: every request "
        "(writes = not GET); AWS: ECS + EC2 + CloudWatch Logs calls, retries included.",
        "budget: SPEC §10 (stop: 1 + labels removed + SHA definitions deleted); CLI: the "
        "superset-showtime CLI's count for the same operation (SPEC §10).",
        "Slack API: Web API calls (status message, thread replies, edits); answers "
        "through response_url are not Web API calls.",
        "In production PyGithub paces writes ~1 s apart: each write is about a second "
        "of the requester's wait (the sandbox sets GITHUB_SECONDS_BETWEEN_WRITES=0).",
        *sorted({note for s in samples for note in s.notes}),
        *problems,
    ]

    routes = [route for route in GITHUB_ROUTES if any(s.github[route] for s in samples)]
    others = sorted({r for s in samples for r in s.github if r not in GITHUB_ROUTES})
    by_route = Table(
        "GitHub requests by route",
        [
            "operation",
            "running",
            *(GITHUB_ROUTES[r] for r in routes),
            *(f"{m} {p}" for m, p in others),
        ],
    )
    for s in samples:
        by_route.add(s.operation, s.running, *(s.github[r] for r in [*routes, *others]))
    by_route.notes.append(
        "pr labels: a PR's labels (issues/{n}/labels); def: a repository label definition."
    )

    operations = [op for op in AWS_OPERATIONS if any(s.aws[op] for s in samples)]
    extra = sorted({op for s in samples for op in s.aws if op not in AWS_OPERATIONS})
    by_operation = Table(
        "AWS calls by operation",
        ["operation", "running", *(AWS_OPERATIONS[op] for op in operations), *extra],
    )
    for s in samples:
        by_operation.add(s.operation, s.running, *(s.aws[op] for op in [*operations, *extra]))
    by_operation.notes.append(
        "Svc: ECS service; TaskDef: task definition; ENIs: EC2 network interfaces "
        "(the task's public IP)."
    )
    return [summary, by_route, by_operation]
