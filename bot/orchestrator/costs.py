"""What environments cost, what this month has cost, and the monthly budget (SPEC §13).

The arithmetic is the domain's (``bot.domain.cost``); this module knows where its figures
come from:

- an environment's **size**: the job store's record of it (``metering``), which the bot
  writes when ECS accepts the service; else — a service the superset-showtime CLI made —
  its task definition, read from ECS once per revision for the life of the process; a
  start not yet registered asks the template. Public IPv4 from the service's own network
  setting, else ``ECS_ASSIGN_PUBLIC_IP``.
- its **times**: the 📅 label (created) and the ⌛ TTL, as the sweeper reads them.
- **this month**: the store's periods, stopped ones included, from midnight UTC on the
  first; "committed" is what the environments still running will cost until they expire,
  counted to the end of the month at most (a ``close`` TTL: to the end of the month).
- the **budget**: a new environment or a longer TTL is refused when spent + committed +
  what other starts hold + this request would pass ``SHOWTIME_MONTHLY_BUDGET``. The check
  and the hold are one transaction of the store (``reserve``, pool ``budget``), so two
  starts racing for the last dollars cannot both get them; the hold ends with the job,
  by which time the environment's own period counts it as committed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from bot.domain import cost as C
from bot.domain import labels as L
from bot.domain.naming import service_name
from bot.domain.ttl import CLOSE, expires_at
from bot.errors import RefusedError
from bot.orchestrator import decisions as D
from bot.orchestrator.context import Deps
from bot.orchestrator.inventory import EnvView
from bot.orchestrator.jobs import Job
from bot.orchestrator.models import Spend
from bot.orchestrator.ports import Service, ServiceState

log = logging.getLogger(__name__)

BUDGET_POOL = "budget"


# ----- sizes and estimates --------------------------------------------------------------


def open_periods(deps: Deps, now: datetime) -> dict[str, C.Period]:
    """The store's periods still running, by service name."""
    return {p.service: p for p in deps.store.environment_periods(now) if p.running}


def _public_ip(deps: Deps, service: Service | None) -> bool:
    if service is not None and service.public_ip is not None:
        return service.public_ip
    return deps.policy.public_ip


def sizes(
    deps: Deps, services: Iterable[Service], periods: Mapping[str, C.Period]
) -> dict[str, C.Size]:
    """Each running service's size: recorded, else its task definition's (one ECS call per
    revision never seen by this process — only environments made elsewhere)."""
    active = [s for s in services if s.status is ServiceState.ACTIVE]
    found = {s.name: periods[s.name].size for s in active if s.name in periods}
    unknown = [s for s in active if s.name not in found and s.task_definition]
    if unknown:
        try:
            read = deps.ecs.task_sizes([s.task_definition for s in unknown if s.task_definition])
        except Exception:
            log.warning("could not read task definition sizes", exc_info=True)
            read = {}
        for service in unknown:
            size = read.get(service.task_definition or "")
            if size is not None:
                found[service.name] = replace(size, public_ip=_public_ip(deps, service))
    return found


def priced(
    deps: Deps, views: Sequence[EnvView], sizes_by_name: Mapping[str, C.Size]
) -> list[EnvView]:
    """``views`` with an estimate for each one ECS runs (of a known size)."""
    rates = deps.policy.rates
    now = deps.clock.now()
    out = []
    for view in views:
        size = sizes_by_name.get(view.service) if view.ecs_status is ServiceState.ACTIVE else None
        if size is None:
            out.append(view)
            continue
        estimate = C.estimate(
            size.hourly(rates), view.created, now, view.expires, closes=view.ttl == CLOSE
        )
        out.append(replace(view, estimate=estimate))
    return out


def spend(deps: Deps, views: Sequence[EnvView], now: datetime) -> Spend:
    """This month so far (the store's periods), what runs now will add, and per hour."""
    first, end = C.month_start(now), C.next_month_start(now)
    rates = deps.policy.rates
    periods = deps.store.environment_periods(first)
    estimates = [v.estimate for v in views if v.estimate is not None]
    return Spend(
        month=first,
        spent=C.spent(periods, rates, first, now),
        committed=C.committed(periods, rates, now, end),
        hourly=sum((e.hourly for e in estimates), Decimal(0)),
        running=len(estimates),
        budget=deps.policy.monthly_budget,
    )


def _size_of_service(deps: Deps, name: str, now: datetime) -> C.Size | None:
    """A running environment's recorded size, else what the template asks for."""
    period = open_periods(deps, now).get(name)
    if period is not None:
        return period.size
    template = deps.ecs.template_size()
    return None if template is None else replace(template, public_ip=_public_ip(deps, None))


def estimate_of(deps: Deps, pr: int, names: Sequence[str]) -> C.Estimate | None:
    """The PR's active environment, when it runs: what its status message shows."""
    labels = L.parse_labels(names)
    show = labels.active
    if show is None or show.status != L.RUNNING:
        return None
    return estimate_of_show(deps, pr, labels, show)


def estimate_of_show(deps: Deps, pr: int, labels: L.PrLabels, show: L.Show) -> C.Estimate | None:
    """One environment of a PR, from its labels (📅, ⌛) and its recorded size."""
    now = deps.clock.now()
    try:
        size = _size_of_service(deps, service_name(pr, show.sha), now)
    except Exception:
        log.warning("no cost estimate for #%s", pr, exc_info=True)
        return None
    if size is None:
        return None
    default = deps.policy.default_ttl
    closes = labels.effective_ttl(show, default) == CLOSE
    expires = labels.expiry(show, default)
    return C.estimate(size.hourly(deps.policy.rates), show.created_at, now, expires, closes=closes)


# ----- TTL changes ------------------------------------------------------------------------


@dataclass(frozen=True)
class TtlChange:
    """What moving a PR's TTL does to the cost of its running environments."""

    hourly: Decimal  # the running environments together
    until_new: Decimal | None  # from now until the new expiry (None: the new TTL is close)
    added: Decimal | None  # until_new minus until the old expiry (None: the old TTL was close)
    this_month: Decimal  # the difference within this month only (what the budget counts)
    expiries: dict[str, datetime | None]  # service → its new expiry

    def text(self) -> str:
        """``adds ≈ $0.82 (≈ $0.034/h)``; empty when nothing runs."""
        if not self.hourly:
            return ""
        rate = C.per_hour(self.hourly)
        if self.until_new is None:
            return (
                f"no expiry now: ≈ {C.money(self.hourly * 24)} a day ({rate}) until the PR closes"
            )
        if self.added is None:
            return f"≈ {C.money(self.until_new)} until it expires ({rate})"
        if self.added < 0:
            return f"≈ {C.money(-self.added)} less ({rate})"
        return f"adds ≈ {C.money(self.added)} ({rate})"


def ttl_change(deps: Deps, pr: int, names: Sequence[str], new_ttl: str) -> TtlChange:
    """The PR's running environments with ⌛ ``new_ttl`` instead of what they have now."""
    labels = L.parse_labels(names)
    now = deps.clock.now()
    end = C.next_month_start(now)
    rates = deps.policy.rates
    default = deps.policy.default_ttl
    hourly = Decimal(0)
    until_new: Decimal | None = Decimal(0)
    until_old: Decimal | None = Decimal(0)
    this_month = Decimal(0)
    expiries: dict[str, datetime | None] = {}
    for show in labels.shows:
        created = show.created_at
        if show.status != L.RUNNING or created is None:
            continue
        name = service_name(pr, show.sha)
        size = _size_of_service(deps, name, now)
        if size is None:
            continue
        rate = size.hourly(rates)
        old = labels.expiry(show, default)
        new = expires_at(created, new_ttl)
        expiries[name] = new
        hourly += rate
        this_month += C.window_cost(rate, now, new, end) - C.window_cost(rate, now, old, end)
        until_new = None if until_new is None or new is None else until_new + C.cost(rate, now, new)
        until_old = None if until_old is None or old is None else until_old + C.cost(rate, now, old)
    added = None if until_new is None or until_old is None else until_new - until_old
    return TtlChange(hourly, until_new, added, this_month, expiries)


def record_expiries(deps: Deps, expiries: Mapping[str, datetime | None]) -> None:
    """The running environments' new expiry, for what the month has committed (best effort)."""
    for name, expires in expiries.items():
        try:
            deps.store.set_environment_expiry(name, expires)
        except Exception:
            log.warning("could not record the new expiry of %s", name, exc_info=True)


# ----- the budget ---------------------------------------------------------------------------


def hold_for_start(deps: Deps, job: Job, name: str, ttl: str) -> None:
    """Hold this start's cost until it expires (this month) against the budget, or refuse."""
    budget = deps.policy.monthly_budget
    if budget is None:
        return
    now = deps.clock.now()
    size = deps.ecs.template_size()
    if size is None:
        log.warning("the task definition template names no cpu/memory: no budget check")
        return
    size = replace(size, public_ip=_public_ip(deps, None))
    rate = size.hourly(deps.policy.rates)
    amount = C.window_cost(rate, now, expires_at(now, ttl), C.next_month_start(now))
    what = f"this environment ({ttl} at ≈ {C.per_hour(rate)})"
    _hold(deps, job, item=name, amount=amount, budget=budget, what=what, start=True, ttl=ttl)


def hold_for_ttl(deps: Deps, job: Job, change: TtlChange, new_ttl: str) -> None:
    """Hold what a longer TTL adds this month against the budget, or refuse."""
    budget = deps.policy.monthly_budget
    if budget is None or change.this_month <= 0:
        return
    what = f"the extension to {new_ttl} (≈ {C.per_hour(change.hourly)})"
    _hold(
        deps,
        job,
        item=f"ttl:{job.pr}",
        amount=change.this_month,
        budget=budget,
        what=what,
        start=False,
        ttl=new_ttl,
    )


def _hold(
    deps: Deps,
    job: Job,
    *,
    item: str,
    amount: Decimal,
    budget: Decimal,
    what: str,
    start: bool,
    ttl: str,
) -> None:
    now = deps.clock.now()
    first, end = C.month_start(now), C.next_month_start(now)
    rates = deps.policy.rates
    periods = deps.store.environment_periods(first)
    spent = C.spent(periods, rates, first, now)
    committed = C.committed(periods, rates, now, end)
    running = {p.service for p in periods if p.running}
    total = deps.store.reserve(
        job.id,
        BUDGET_POOL,
        item=item,
        amount=float(amount),
        in_use=float(spent + committed),
        seen=running,  # their periods count them already
        limit=float(budget),
    )
    if total is None:
        return
    held = max(Decimal(str(total)) - spent - committed - amount, Decimal(0))
    refusal = D.refuse_over_budget(
        spent=spent,
        committed=committed,
        running=len(running),
        held=held,
        request=amount,
        what=what,
        budget=budget,
        pr=job.pr or 0,
        start=start,
        ttl=ttl,
    )
    raise RefusedError(f"#{job.pr}: {refusal.message}", refusal.next_action)
