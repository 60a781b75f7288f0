"""The cost arithmetic (SPEC §13), with exact figures for the bundled task definition."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from bot.config import BUNDLED_TASK_DEFINITION, Settings
from bot.domain import cost as C

BUNDLED = json.loads(BUNDLED_TASK_DEFINITION.read_text())
HOUR = timedelta(hours=1)
NEW_YORK = timezone(timedelta(hours=-4), "EDT")


def bundled_size(public_ip: bool = True) -> C.Size:
    cpu, memory = C.parse_cpu(BUNDLED["cpu"]), C.parse_memory(BUNDLED["memory"])
    assert cpu is not None and memory is not None
    return C.Size(cpu, memory, public_ip)


def test_bundled_task_definition_at_list_prices() -> None:
    size = bundled_size()
    assert (size.cpu_units, size.memory_mib, size.vcpu, size.gb) == (512, 2048, Decimal("0.5"), 2)
    # 0.5 vCPU × 0.04048 + 2 GB × 0.004445 + one public IPv4 × 0.005
    hourly = size.hourly(C.LIST_PRICES)
    assert hourly == Decimal("0.03413")
    assert hourly * 24 == Decimal("0.81912")
    assert hourly * 48 == Decimal("1.63824")
    assert (C.per_hour(hourly), C.money(hourly * 24), C.money(hourly * 48)) == (
        "$0.034/h",
        "$0.82",
        "$1.64",
    )
    # Without a public address (ECS_ASSIGN_PUBLIC_IP=DISABLED): no IPv4 charge.
    assert bundled_size(public_ip=False).hourly(C.LIST_PRICES) == Decimal("0.02913")


def test_the_settings_defaults_are_the_list_prices_and_can_be_changed() -> None:
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    assert defaults.cost_rates == C.LIST_PRICES
    assert defaults.showtime_monthly_budget is None
    custom = Settings(  # type: ignore[call-arg]
        _env_file=None,
        showtime_cost_vcpu_hour="0.05",
        showtime_cost_gb_hour="0.01",
        showtime_cost_ipv4_hour="0",
        showtime_monthly_budget="",
    )
    assert custom.showtime_monthly_budget is None
    # 0.5 × 0.05 + 2 × 0.01 + 0 = 0.045 an hour, 1.08 a day, 2.16 per 48 h
    hourly = bundled_size().hourly(custom.cost_rates)
    assert hourly == Decimal("0.045")
    assert (hourly * 24, hourly * 48) == (Decimal("1.08"), Decimal("2.16"))
    assert Settings(_env_file=None, showtime_monthly_budget="250").showtime_monthly_budget == 250  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("cpu", "memory", "expected"),
    [
        ("512", "2048", (512, 2048)),
        ("1 vCPU", "4 GB", (1024, 4096)),
        (".25 vcpu", "512", None),  # not a number ECS writes
        ("0.25 vCPU", "0.5 GB", (256, 512)),
        (1024, 3072, (1024, 3072)),
        (None, "2048", None),
        ("lots", "2048", None),
    ],
)
def test_task_definition_sizes_as_ecs_writes_them(
    cpu: object, memory: object, expected: tuple[int, int] | None
) -> None:
    parsed = (C.parse_cpu(cpu), C.parse_memory(memory))
    assert (parsed if None not in parsed else None) == expected


def test_estimate_so_far_and_until_expiry() -> None:
    created = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    now = created + 12 * HOUR
    hourly = bundled_size().hourly(C.LIST_PRICES)
    estimate = C.estimate(hourly, created, now, created + 60 * HOUR)
    assert estimate == C.Estimate(Decimal("0.03413"), Decimal("0.40956"), Decimal("1.63824"))
    assert estimate.text() == "≈ $0.034/h · $0.41 so far · $1.64 more until it expires"
    close = C.estimate(hourly, created, now, None, closes=True)
    assert close.until_expiry is None
    assert close.text() == (
        "≈ $0.034/h · $0.41 so far · no expiry (TTL close): $0.82 a day until the PR closes"
    )
    # A service no label gives a TTL: no expiry figure, and no claim about why.
    assert C.estimate(hourly, created, now, None).text() == "≈ $0.034/h · $0.41 so far"
    # Not started yet, or past its expiry (the sweeper has not got to it): nothing negative.
    assert C.estimate(hourly, now + HOUR, now, now - HOUR) == C.Estimate(hourly, 0, 0)


@pytest.mark.parametrize(
    ("moment", "first", "following"),
    [
        (datetime(2026, 3, 2, 9, 0, tzinfo=UTC), (2026, 3, 1), (2026, 4, 1)),
        (datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC), (2026, 12, 1), (2027, 1, 1)),
        (datetime(2026, 1, 1, 0, 0, tzinfo=UTC), (2026, 1, 1), (2026, 2, 1)),
        # A moment in another zone belongs to its UTC month: 20:00 on 31 March in New York
        # is already 1 April in UTC.
        (datetime(2026, 3, 31, 20, 0, tzinfo=NEW_YORK), (2026, 4, 1), (2026, 5, 1)),
    ],
)
def test_month_boundaries_are_utc(
    moment: datetime, first: tuple[int, int, int], following: tuple[int, int, int]
) -> None:
    assert C.month_start(moment) == datetime(*first, tzinfo=UTC)
    assert C.next_month_start(moment) == datetime(*following, tzinfo=UTC)


def test_a_month_counts_only_its_own_part_of_each_period() -> None:
    size = bundled_size()  # $0.03413 an hour
    march, april = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)
    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    periods = [
        # Began in February, stopped on 1 March at 06:00: 6 h count in March.
        C.Period("pr-1-aaaaaaa-service", 1, "aaaaaaa", size, march - 30 * HOUR, march + 6 * HOUR),
        # Started and stopped mid-month: 10 h.
        C.Period(
            "pr-2-bbbbbbb-service",
            2,
            "bbbbbbb",
            size,
            datetime(2026, 3, 5, 8, 0, tzinfo=UTC),
            datetime(2026, 3, 5, 18, 0, tzinfo=UTC),
        ),
        # Still running since 9 March 12:00: 24 h until now.
        C.Period("pr-3-ccccccc-service", 3, "ccccccc", size, now - 24 * HOUR),
        # Stopped before March began: nothing.
        C.Period("pr-4-ddddddd-service", 4, "ddddddd", size, march - 50 * HOUR, march - 2 * HOUR),
    ]
    assert C.spent(periods, C.LIST_PRICES, march, now) == Decimal("0.03413") * 40
    # The whole of February saw the first and the fourth: 30 h + 48 h.
    february = datetime(2026, 2, 1, tzinfo=UTC)
    assert C.spent(periods, C.LIST_PRICES, february, march) == Decimal("0.03413") * 78
    # What still runs will cost until it expires, within this month only.
    expiring = C.Period("pr-5-eeeeeee-service", 5, "eeeeeee", size, now, expires=now + 48 * HOUR)
    late = C.Period(
        "pr-6-fffffff-service", 6, "fffffff", size, now, expires=april + 100 * HOUR
    )  # counts until the month ends
    close = C.Period("pr-7-1111111-service", 7, "1111111", size, now)  # TTL close: month end
    to_month_end = Decimal(int((april - now) / HOUR))  # 21.5 days = 516 h
    assert to_month_end == 516
    assert C.committed([*periods, expiring, late, close], C.LIST_PRICES, now, april) == Decimal(
        "0.03413"
    ) * (48 + 516 + 516 + 516)  # the third period has no expiry recorded: until month end


def test_money_rounds_half_up() -> None:
    assert C.money(Decimal("0.405")) == "$0.41"
    assert C.money(Decimal("0.404999")) == "$0.40"
    assert C.money(Decimal("1234.5")) == "$1,234.50"
    assert C.per_hour(Decimal("0.0345")) == "$0.035/h"
