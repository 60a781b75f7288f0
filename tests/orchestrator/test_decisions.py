"""The orchestrator's decisions, pure: each has one answer, tested without any I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.domain import labels as L
from bot.domain.labels import LabelChange, parse_labels
from bot.orchestrator import decisions as D

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
STALE = timedelta(minutes=60)
A, B = "aaaaaaa", "bbbbbbb"


def running(sha: str, created: str = "2026-03-02T10-00") -> list[str]:
    return [
        f"🎪 {sha} 🚦 running",
        f"🎪 {sha} 📅 {created}",
        f"🎪 {sha} 🌐 1.2.3.4:8080",
        f"🎪 🎯 {sha}",
        "🎪 ⌛ 48h",
    ]


def test_fresh_redeploy_and_rolling() -> None:
    assert D.plan_start(parse_labels([]), A + "0" * 33, NOW, STALE) == D.StartPlan(
        D.DeployMode.FRESH, A, None, None
    )
    assert D.plan_start(parse_labels(running(A)), A, NOW, STALE).mode is D.DeployMode.REDEPLOY  # type: ignore[union-attr]
    plan = D.plan_start(parse_labels(running(A)), B, NOW, STALE)
    assert isinstance(plan, D.StartPlan) and plan.mode is D.DeployMode.ROLLING
    assert plan.previous_sha == A


def test_running_without_target_pointer_is_still_seen() -> None:
    """The CLI loses 🎯 after deploys; a running SHA without it is still the live one."""
    labels = [n for n in running(A) if "🎯" not in n]
    plan = D.plan_start(parse_labels(labels), B, NOW, STALE)
    assert isinstance(plan, D.StartPlan) and plan.previous_sha == A


def test_fresh_claim_refuses_stale_claim_is_taken_over() -> None:
    fresh = [f"🎪 {A} 🚦 building", f"🎪 🏗️ {A}", f"🎪 {A} 📅 2026-03-02T11-45"]
    refusal = D.plan_start(parse_labels(fresh), B, NOW, STALE)
    assert isinstance(refusal, D.Refusal) and "already being deployed" in refusal.message
    stale = [f"🎪 {A} 🚦 deploying", f"🎪 🏗️ {A}", f"🎪 {A} 📅 2026-03-02T10-30"]
    plan = D.plan_start(parse_labels(stale), B, NOW, STALE)
    assert isinstance(plan, D.StartPlan) and plan.takeover is not None and plan.takeover.sha == A
    undated = [f"🎪 🏗️ {A}"]
    assert isinstance(D.plan_start(parse_labels(undated), B, NOW, STALE), D.StartPlan)


def test_refusals() -> None:
    assert D.refuse_change(parse_labels([L.BLOCKED])) is not None
    blocked = D.refuse_start(state="open", merged=False, labels=parse_labels([L.BLOCKED]))
    assert blocked is not None and "showtime-blocked" in blocked.message
    merged = D.refuse_start(state="closed", merged=True, labels=parse_labels([]))
    closed = D.refuse_start(state="closed", merged=False, labels=parse_labels([]))
    assert merged is not None and merged.message == "the PR is merged" and merged.bad_input
    assert closed is not None and closed.message == "the PR is closed"
    assert D.refuse_start(state="open", merged=False, labels=parse_labels([])) is None
    full = D.refuse_new_environment(30, 30)
    assert full is not None and "limit is 30" in full.message
    assert D.refuse_new_environment(29, 30) is None


def claim(
    names: list[str], mode: D.DeployMode, *, requester: str = "m", ttl: str | None = None
) -> LabelChange:
    """The claim of a deploy of ``A`` on a PR labelled ``names`` (the default TTL 48h)."""
    plan = D.StartPlan(mode, A, None, None)
    return D.claim_labels(
        parse_labels(names),
        plan,
        now=NOW,
        requester=requester,
        ttl=ttl,
        default_ttl="48h",
        current_names=names,
    )


def test_claim_adds_in_one_go_and_consumes_triggers() -> None:
    names = [L.TRIGGER_START, "bug"]
    change = claim(names, D.DeployMode.FRESH, requester="maxime")
    assert set(change.add) == {
        f"🎪 {A} 🚦 deploying",
        f"🎪 🏗️ {A}",
        f"🎪 {A} 📅 2026-03-02T12-00",
        f"🎪 {A} 🤡 maxime",
        "🎪 ⌛ 48h",
    }
    assert change.remove == (L.TRIGGER_START,)


def test_claim_with_explicit_ttl_leaves_exactly_one() -> None:
    names = ["🎪 ⌛ 24h", "🎪 ⌛ 1w"]
    change = claim(names, D.DeployMode.FRESH, ttl="72h")
    assert "🎪 ⌛ 72h" in change.add
    assert set(change.remove) == {"🎪 ⌛ 24h", "🎪 ⌛ 1w"}


def test_redeploy_claim_keeps_created_and_address() -> None:
    names = running(A)
    change = claim(names, D.DeployMode.REDEPLOY)
    assert change.remove == (f"🎪 {A} 🚦 running",)
    assert not any("📅" in n for n in change.add)


def test_running_moves_the_pointer_and_drops_the_claim() -> None:
    names = [*running(A), f"🎪 {B} 🚦 deploying", f"🎪 🏗️ {B}", f"🎪 {B} 📅 2026-03-02T11-59"]
    change = D.running_labels(B, "5.6.7.8:8080", A, names)
    assert set(change.add) == {f"🎪 {B} 🚦 running", f"🎪 {B} 🌐 5.6.7.8:8080", f"🎪 🎯 {B}"}
    assert set(change.remove) == {f"🎪 {B} 🚦 deploying", f"🎪 🏗️ {B}", f"🎪 🎯 {A}"}


def test_failed_labels() -> None:
    names = [f"🎪 {A} 🚦 deploying", f"🎪 🏗️ {A}"]
    change = D.failed_labels(A, names, still_running=False)
    assert change.add == (f"🎪 {A} 🚦 failed",)
    assert set(change.remove) == set(names)
    assert D.failed_labels(A, names, still_running=True).add == (f"🎪 {A} 🚦 running",)


def test_expiry_rules() -> None:
    labels = parse_labels(running(A, "2026-02-28T10-00"))
    assert [s.sha for s in D.expired_shows(labels, NOW, "48h")] == [A]
    close = parse_labels([*running(A, "2020-01-01T00-00")[:4], "🎪 ⌛ close"])
    assert D.expired_shows(close, NOW, "48h") == []
    soon = parse_labels(running(A, "2026-02-28T12-30"))
    assert [s.sha for s in D.expiring_shows(soon, NOW, "48h")] == [A]


def test_ttl_and_teardown_changes() -> None:
    change = D.set_ttl_labels(["🎪 ⌛ 24h", "🎪 ⌛ 1w"], "72h")
    assert change.add == ("🎪 ⌛ 72h",) and sorted(change.remove) == ["🎪 ⌛ 1w", "🎪 ⌛ 24h"]
    assert D.set_ttl_labels(["🎪 ⌛ 72h"], "72h").empty  # already so: no write
    names = [*running(A), L.BLOCKED, "bug"]
    teardown = D.teardown_labels(names)
    assert L.BLOCKED not in teardown.remove and "bug" not in teardown.remove
    assert sorted(D.sha_definitions(list(teardown.remove))) == sorted(
        n for n in running(A) if "⌛" not in n
    )
