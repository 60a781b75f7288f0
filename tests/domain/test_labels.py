"""The 🎪 label vocabulary: round trips, the CLI's exact formats, GitHub's 50-character limit."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st
from support import CLI_LABELS

from bot.domain import labels as L
from bot.domain.labels import PrLabels, Show, parse_labels, render_labels


def test_cli_label_set_is_read_as_the_cli_means_it() -> None:
    state = parse_labels([*CLI_LABELS, "size/M", "dashboard"])
    show = state.show("abc123f")
    assert show == Show(
        sha="abc123f",
        status="running",
        created="2024-01-15T14-30",
        address="52.1.2.3:8080",
        requester="maxime",
    )
    assert state.active_sha == "abc123f"
    assert state.active == show
    assert state.ttl == "1w"
    assert state.frozen and not state.blocked
    assert show.url == "http://52.1.2.3:8080"
    assert show.created_at == datetime(2024, 1, 15, 14, 30, tzinfo=UTC)


def test_cli_labels_render_back_exactly() -> None:
    assert sorted(render_labels(parse_labels(CLI_LABELS))) == sorted(CLI_LABELS)


def test_building_claim_and_pointer() -> None:
    state = parse_labels(["🎪 def4567 🚦 building", "🎪 🏗️ def4567", "🎪 ⚡ showtime-trigger-start"])
    assert state.building_sha == "def4567"
    assert state.show("def4567def4567").in_progress  # type: ignore[union-attr]
    assert state.trigger_start
    assert state.active is None


def test_cli_older_forms_are_understood() -> None:
    state = parse_labels(["🎪 abc123f 🌐 52-1-2-3", "🎪 abc123f ⌛ 24h", "🎪 abc123f 🚦 running"])
    show = state.show("abc123f")
    assert show is not None and show.url == "http://52.1.2.3"
    assert state.ttl is None and state.ttl_for(show) == "24h"
    # Without 🎯 (the CLI loses it after a deploy) the running show is still the active one.
    assert state.active == show


def test_unknown_status_is_kept_not_crashed_on() -> None:
    state = parse_labels(["🎪 abc123f 🚦 exploding"])
    assert state.show("abc123f").status == "exploding"  # type: ignore[union-attr]
    assert render_labels(state) == ["🎪 abc123f 🚦 exploding"]


def test_unrecognised_showtime_labels_survive_a_round_trip() -> None:
    odd = ["🎪 conf-enable-ALERTS", "🎪 abc123f ⚙️ alerts", "🎪 🎯 abc123f", "🎪 🎯 bbbbbbb"]
    state = parse_labels(odd)
    assert sorted(render_labels(state)) == sorted(odd)


def test_several_ttls_take_the_most_generous() -> None:
    assert parse_labels(["🎪 ⌛ 24h", "🎪 ⌛ 1w", "🎪 ⌛ 48h"]).ttl == "1w"
    assert parse_labels(["🎪 ⌛ 24h", "🎪 ⌛ close"]).ttl == "close"


def test_requester_is_shortened_to_fit_github_limit() -> None:
    label = L.requester_label(
        "abc123f", "a-very-long-slack-display-name-that-goes-on-and-on-forever"
    )
    assert len(label) <= L.MAX_LABEL_LENGTH
    assert label.startswith("🎪 abc123f 🤡 a-very-long")
    assert label.endswith("…")
    assert L.requester_label("abc123f", "maxime") == "🎪 abc123f 🤡 maxime"


def test_sha_labels_and_definitions() -> None:
    names = [*CLI_LABELS, "🎪 🏗️ def4567", "🎪 def4567 🚦 deploying"]
    assert sorted(L.labels_of_sha(names, "abc123f")) == sorted(
        n for n in CLI_LABELS if "abc123f" in n
    )
    assert L.sha_of_label("🎪 ⌛ 1w") is None
    assert L.sha_of_label(L.TRIGGER_START) is None
    assert L.label_definition("🎪 abc123f 🚦 running") == (
        "28a745",
        "Environment abc123f status: running",
    )
    assert L.label_definition(L.TRIGGER_START)[0] == "FFD700"  # type: ignore[index]
    assert L.label_definition("🎪 abc123f 📅 2024-01-15T14-30") is None


def test_diff_touches_only_showtime_labels() -> None:
    change = L.diff(
        ["bug", "🎪 ⌛ 24h", "🎪 abc123f 🚦 deploying"], ["🎪 ⌛ 24h", "🎪 abc123f 🚦 running"]
    )
    assert change.add == ("🎪 abc123f 🚦 running",)
    assert change.remove == ("🎪 abc123f 🚦 deploying",)


# ----- generated round trips ----------------------------------------------------

shas = st.text(alphabet="0123456789abcdef", min_size=7, max_size=7)
statuses = st.sampled_from(["building", "built", "deploying", "updating", "running", "failed"]) | (
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=12)
)
created = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)
).map(L.format_created)
addresses = st.tuples(
    st.integers(1, 255),
    st.integers(0, 255),
    st.integers(0, 255),
    st.integers(1, 255),
    st.integers(1, 65535),
).map(lambda t: f"{t[0]}.{t[1]}.{t[2]}.{t[3]}:{t[4]}")
users = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_.", min_size=1, max_size=38)

show_strategy = st.builds(
    Show,
    sha=shas,
    status=st.none() | statuses,
    created=st.none() | created,
    address=st.none() | addresses,
    requester=st.none() | users,
    ttl=st.none() | st.sampled_from(["24h", "48h", "1w", "close"]),
).filter(lambda s: any((s.status, s.created, s.address, s.requester, s.ttl)))


@st.composite
def pr_states(draw: st.DrawFn) -> PrLabels:
    shows = draw(st.lists(show_strategy, max_size=3, unique_by=lambda s: s.sha))
    pointers = [s.sha for s in shows] or ["abcdef0"]
    return PrLabels(
        shows=tuple(sorted(shows, key=lambda s: s.sha)),
        active_sha=draw(st.none() | st.sampled_from(pointers)),
        building_sha=draw(st.none() | st.sampled_from(pointers)),
        ttls=tuple(
            sorted(draw(st.sets(st.sampled_from(["24h", "48h", "72h", "1w", "close"]), max_size=2)))
        ),
        frozen=draw(st.booleans()),
        blocked=draw(st.booleans()),
        trigger_start=draw(st.booleans()),
        trigger_stop=draw(st.booleans()),
    )


@given(pr_states())
def test_parse_render_round_trip(state: PrLabels) -> None:
    rendered = render_labels(state)
    assert parse_labels(rendered) == state
    assert all(len(label) <= L.MAX_LABEL_LENGTH for label in rendered)


@given(st.lists(st.text(max_size=60), max_size=20))
def test_parse_never_crashes_and_render_is_stable(names: list[str]) -> None:
    state = parse_labels(names)
    assert parse_labels(render_labels(state)) == state
