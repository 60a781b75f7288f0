"""What an environment costs: its size times Fargate's list prices times the time it runs.

Pure arithmetic on ``Decimal`` (SPEC §13), so a figure a person reads — "≈ $0.034/h" —
is the figure a test states exactly. An environment's size is what its task definition
asks Fargate for (CPU units, 1024 to a vCPU; memory in MiB, 1024 to a GB) plus a public
IPv4 address when the service assigns one. The rates are the operator's
(``SHOWTIME_COST_*``), by default AWS's list prices for Linux/x86 Fargate and public IPv4:
an estimate, never a bill (no Savings Plans, Spot, data transfer, logs or load balancers).

Months are calendar months in UTC: a running period that spans the first of the month
counts in each month only for its own part.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

CPU_UNITS_PER_VCPU = 1024
MIB_PER_GB = 1024
_HOUR = timedelta(hours=1)
_ZERO = Decimal(0)


@dataclass(frozen=True)
class Rates:
    """USD per hour: one vCPU, one GB of memory, one public IPv4 address."""

    vcpu_hour: Decimal
    gb_hour: Decimal
    ipv4_hour: Decimal


# AWS list prices (us-east-1 and us-west-2): Fargate Linux/x86 per vCPU-hour and per
# GB-hour, and a public IPv4 address per hour. Also the SHOWTIME_COST_* defaults.
LIST_PRICES = Rates(Decimal("0.04048"), Decimal("0.004445"), Decimal("0.005"))


@dataclass(frozen=True)
class Size:
    """What one environment's task asks for: CPU units, memory in MiB, a public IPv4."""

    cpu_units: int
    memory_mib: int
    public_ip: bool = False

    @property
    def vcpu(self) -> Decimal:
        return Decimal(self.cpu_units) / CPU_UNITS_PER_VCPU

    @property
    def gb(self) -> Decimal:
        return Decimal(self.memory_mib) / MIB_PER_GB

    def hourly(self, rates: Rates) -> Decimal:
        """USD an hour at ``rates``."""
        ip = rates.ipv4_hour if self.public_ip else _ZERO
        return self.vcpu * rates.vcpu_hour + self.gb * rates.gb_hour + ip


_CPU_TEXT = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(vcpu)?\s*", re.IGNORECASE)
_MEMORY_TEXT = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(gb|mib|mb)?\s*", re.IGNORECASE)


def parse_cpu(value: object) -> int | None:
    """A task definition's ``cpu``: ``"512"`` (units) or ``"0.5 vCPU"`` → 512; else None."""
    match = _CPU_TEXT.fullmatch(str(value)) if value is not None else None
    if match is None:
        return None
    number = Decimal(match.group(1))
    units = number * CPU_UNITS_PER_VCPU if match.group(2) else number
    return int(units) if units > 0 else None


def parse_memory(value: object) -> int | None:
    """A task definition's ``memory``: ``"2048"`` (MiB) or ``"2 GB"`` → 2048; else None."""
    match = _MEMORY_TEXT.fullmatch(str(value)) if value is not None else None
    if match is None:
        return None
    number = Decimal(match.group(1))
    mib = number * MIB_PER_GB if (match.group(2) or "").lower() == "gb" else number
    return int(mib) if mib > 0 else None


def hours(start: datetime, end: datetime) -> Decimal:
    """Hours from ``start`` to ``end``, exactly (microseconds); never negative."""
    micros = (end - start) // timedelta(microseconds=1)
    return Decimal(max(micros, 0)) / Decimal(_HOUR // timedelta(microseconds=1))


def cost(hourly: Decimal, start: datetime, end: datetime) -> Decimal:
    """What running from ``start`` to ``end`` costs at ``hourly`` (0 when end ≤ start)."""
    return hourly * hours(start, end)


# ----- calendar months (UTC) --------------------------------------------------------------


def month_start(moment: datetime) -> datetime:
    """Midnight UTC on the first day of ``moment``'s month (in UTC)."""
    utc = moment.astimezone(UTC)
    return datetime(utc.year, utc.month, 1, tzinfo=UTC)


def next_month_start(moment: datetime) -> datetime:
    utc = moment.astimezone(UTC)
    year, month = (utc.year + 1, 1) if utc.month == 12 else (utc.year, utc.month + 1)
    return datetime(year, month, 1, tzinfo=UTC)


# ----- the record of when environments ran --------------------------------------------------


@dataclass(frozen=True)
class Period:
    """One stretch of time an environment ran with one size: from ``started`` until
    ``stopped`` (None: it still runs). ``expires``: when it is due to go (📅 + ⌛), None for
    a TTL of ``close`` (it runs until the PR closes)."""

    service: str
    pr: int
    sha: str
    size: Size
    started: datetime
    stopped: datetime | None = None
    expires: datetime | None = None

    @property
    def running(self) -> bool:
        return self.stopped is None


def spent(periods: Iterable[Period], rates: Rates, since: datetime, until: datetime) -> Decimal:
    """What ``periods`` cost between ``since`` and ``until`` (a month so far: only the part of
    each period inside that window counts; a period still running counts until ``until``)."""
    total = _ZERO
    for period in periods:
        begin = max(period.started, since)
        end = min(period.stopped or until, until)
        total += cost(period.size.hourly(rates), begin, end)
    return total


def committed(periods: Iterable[Period], rates: Rates, now: datetime, until: datetime) -> Decimal:
    """What the periods still running will cost from ``now`` until they expire, counted no
    further than ``until`` (the end of the month); a ``close`` TTL runs until ``until``."""
    total = _ZERO
    for period in periods:
        if period.running:
            end = min(period.expires or until, until)
            total += cost(period.size.hourly(rates), now, end)
    return total


# ----- one environment ----------------------------------------------------------------------


@dataclass(frozen=True)
class Estimate:
    """One environment's cost as people see it: per hour, so far, and until it expires.

    ``until_expiry`` is None when it has no expiry by time: a TTL of ``close`` (``closes``:
    it runs until the PR closes), or an environment nobody labelled with a TTL.
    """

    hourly: Decimal
    so_far: Decimal
    until_expiry: Decimal | None
    closes: bool = False

    def text(self) -> str:
        """``≈ $0.034/h · $0.41 so far · $1.64 more until it expires``."""
        head = f"≈ {per_hour(self.hourly)} · {money(self.so_far)} so far"
        if self.until_expiry is not None:
            return f"{head} · {money(self.until_expiry)} more until it expires"
        if self.closes:
            return f"{head} · no expiry (TTL close): {money(self.hourly * 24)} a day until the PR closes"
        return head


def estimate(
    hourly: Decimal,
    created: datetime | None,
    now: datetime,
    expires: datetime | None,
    *,
    closes: bool = False,
) -> Estimate:
    """``hourly`` since ``created`` (unknown: nothing so far) and until ``expires``."""
    so_far = cost(hourly, created, now) if created is not None else _ZERO
    more = cost(hourly, now, expires) if expires is not None else None
    return Estimate(hourly, so_far, more, closes=closes and expires is None)


def window_cost(
    hourly: Decimal, now: datetime, expires: datetime | None, until: datetime
) -> Decimal:
    """From ``now`` until ``expires`` (None: no expiry), counted no further than ``until``."""
    return cost(hourly, now, min(expires or until, until))


# ----- words --------------------------------------------------------------------------------


def money(amount: Decimal, places: int = 2) -> str:
    """``$1.64`` (rounded half up: the figure people expect from a price)."""
    step = Decimal(1).scaleb(-places)
    return f"${amount.quantize(step, rounding=ROUND_HALF_UP):,}"


def per_hour(hourly: Decimal) -> str:
    """``$0.034/h``: a tenth of a cent shows the difference between sizes."""
    return f"{money(hourly, 3)}/h"
