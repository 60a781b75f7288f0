"""Usable, not just up: the smoke check's vocabulary and its verdict (SPEC §15).

``/health`` answering 200 says Superset's web server runs; it does not say a reviewer can
log in, find the examples, run a query or open a chart — the failures maintainers meet
most ("up but broken"). The checks below are what a reviewer will do first, in the order
they depend on each other. This module is pure: which checks exist, how
``SHOWTIME_SMOKE_CHECKS`` reads, and what a set of results says to people. Asking Superset
is the adapter's job (``bot.adapters.smoke``); deciding failed against degraded is the
orchestrator's (a failed login fails the deploy, a later check only degrades it).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Check(StrEnum):
    """One smoke check, by its name in ``SHOWTIME_SMOKE_CHECKS``; declared in running order."""

    LOGIN = "login"
    EXAMPLES = "examples"
    SQLLAB = "sqllab"
    CHART = "chart"

    @property
    def label(self) -> str:
        """How people call it: "still waiting for SQL Lab (HTTP 500)"."""
        return _LABELS[self]

    @property
    def needs_examples(self) -> bool:
        """Whether it looks at what ``SUPERSET_LOAD_EXAMPLES=yes`` loads (the examples
        database, its dashboards and charts): without examples there is nothing to look at."""
        return self is not Check.LOGIN


_LABELS = {
    Check.LOGIN: "login",
    Check.EXAMPLES: "examples",
    Check.SQLLAB: "SQL Lab",
    Check.CHART: "chart data",
}
# What a passed check adds to the summary line (examples say how many dashboards instead).
_PASSED = {Check.LOGIN: "✓ login", Check.SQLLAB: "SQL Lab", Check.CHART: "charts"}

DEFAULT_CHECKS = "login,examples,sqllab,chart"


def parse_checks(text: str) -> tuple[Check, ...]:
    """``SHOWTIME_SMOKE_CHECKS`` as checks, in running order, each once.

    Empty (or only commas and spaces) → ``()``: the health check alone decides. An unknown
    name raises ``ValueError`` naming it and the known ones. Every other check needs a
    logged-in session, so asking for any of them implies ``login`` (added, not refused:
    ``sqllab`` alone means "login, then SQL Lab").
    """
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    known = {check.value: check for check in Check}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(
            f"unknown smoke check {', '.join(repr(n) for n in unknown)}; "
            f"choose from {', '.join(known)}"
        )
    wanted = {known[name] for name in names}
    if wanted:
        wanted.add(Check.LOGIN)
    return tuple(check for check in Check if check in wanted)


@dataclass(frozen=True)
class CheckResult:
    """How one check went on its latest try.

    ``detail`` is the bot's own wording, never text from the environment's answers (those
    are PR code's): "12 dashboards", "HTTP 500 from /api/v1/sqllab/execute/", "no examples
    database yet". ``status`` is the HTTP status that decided it, None when nothing answered.
    """

    check: Check
    ok: bool
    detail: str = ""
    status: int | None = None

    @property
    def state(self) -> str:
        """A failure in a few words, for a wait's state: "SQL Lab (HTTP 500)"."""
        why = f"HTTP {self.status}" if self.status is not None else self.detail
        return f"{self.check.label} ({why})" if why else self.check.label


@dataclass(frozen=True)
class SmokeReport:
    """The checks' latest results, in running order.

    ``skipped`` are checks that were asked for but had nothing to look at: the environment
    loads no examples (``SUPERSET_LOAD_EXAMPLES`` is not ``yes``).
    """

    results: tuple[CheckResult, ...]
    skipped: tuple[Check, ...] = ()

    @property
    def ready(self) -> bool:
        """Every check that ran passed (no checks at all: nothing stands in the way)."""
        return all(result.ok for result in self.results)

    @property
    def login_ok(self) -> bool:
        """Login worked, or was not asked for. False fails the deploy; the rest degrade it."""
        login = self.result(Check.LOGIN)
        return login is None or login.ok

    @property
    def failing(self) -> CheckResult | None:
        """The first failed check — the one to name, since the later ones depend on it."""
        return next((result for result in self.results if not result.ok), None)

    def result(self, check: Check) -> CheckResult | None:
        return next((result for result in self.results if result.check is check), None)

    def summary(self) -> str:
        """What passed, in one line: "✓ login · 12 dashboards · SQL Lab · charts"."""
        parts = [
            result.detail if result.check is Check.EXAMPLES else _PASSED[result.check]
            for result in self.results
            if result.ok
        ]
        if self.skipped:
            parts.append("no examples loaded, so " + _listed(self.skipped) + " not checked")
        return " · ".join(parts)

    def problem(self) -> str:
        """The failing check and why: "SQL Lab failed: HTTP 500 from /api/v1/sqllab/execute/"."""
        failing = self.failing
        if failing is None:
            return ""
        label = failing.check.label
        return f"{label[:1].upper()}{label[1:]} failed: {failing.detail}"


def _listed(checks: tuple[Check, ...]) -> str:
    labels = [check.label for check in checks]
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]
