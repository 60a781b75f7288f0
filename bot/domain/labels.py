"""The 🎪 label vocabulary (SPEC §8), shared with the superset-showtime CLI.

``parse_labels`` reads a PR's label names into ``PrLabels``; ``render_labels``
writes them back. Both directions are pure and lossless for showtime labels:
``parse_labels(render_labels(state)) == state``. Labels the CLI writes are read
the same way (its older forms too: a per-SHA ``⌛`` and ``🌐 52-1-2-3``).

Labels are written by anyone with triage rights, not only by the bot and the CLI:
a value is kept as written (so labels round-trip), but a ``🌐`` value becomes a URL
only when it is an address (``address_url``).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.domain.ttl import expires_at, is_ttl

PREFIX = "🎪 "
MAX_LABEL_LENGTH = 50  # GitHub's limit on a label name

TRIGGER_START = "🎪 ⚡ showtime-trigger-start"
TRIGGER_STOP = "🎪 🛑 showtime-trigger-stop"
TRIGGER_SYNC = "🎪 🔄 showtime-trigger-sync"  # the CLI's; read, never written
FREEZE = "🎪 🧊 showtime-freeze"
BLOCKED = "🎪 🔒 showtime-blocked"

STATUS_EMOJI = "🚦"
CREATED_EMOJI = "📅"
ADDRESS_EMOJI = "🌐"
REQUESTER_EMOJI = "🤡"
TTL_EMOJI = "⌛"
ACTIVE_EMOJI = "🎯"
BUILDING_EMOJI = "🏗️"

RUNNING = "running"
FAILED = "failed"
DEPLOYING = "deploying"
IN_PROGRESS_STATUSES = frozenset({"building", "built", "deploying", "updating"})
KNOWN_STATUSES = IN_PROGRESS_STATUSES | {RUNNING, FAILED}

CREATED_FORMAT = "%Y-%m-%dT%H-%M"

_SHA = r"[0-9a-f]{7,40}"
_PER_SHA = re.compile(rf"({_SHA}) (\S+) (.+)", re.ASCII | re.DOTALL)
_POINTER = re.compile(rf"(🎯|🏗️|🏗) ({_SHA})", re.DOTALL)
_TTL = re.compile(r"⌛ (\S+)")
# host or [IPv6], then an optional :port; the parts are checked by address_url.
_ADDRESS = re.compile(
    r"(?:\[(?P<ipv6>[0-9A-Fa-f:.]+)\]|(?P<host>[A-Za-z0-9.-]+))(?::(?P<port>[0-9]{1,5}))?",
    re.ASCII,
)
_DASHED_IPV4 = re.compile(r"[0-9]{1,3}(?:-[0-9]{1,3}){3}", re.ASCII)  # the CLI's oldest form
_DOTTED = re.compile(r"[0-9.]+", re.ASCII)
_HOST_PART = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?", re.ASCII)

# The CLI's colours and descriptions (label definitions are shared with it).
_CIRCUS_YELLOW = "FFD700"
_METADATA_YELLOW = "FFF9C4"
_STATUS_COLOURS = {
    "running": "28a745",
    "building": "FFD700",
    "built": "FFD700",
    "deploying": "FFD700",
    "failed": "dc3545",
    "updating": "fd7e14",
}
_STATIC_DEFINITIONS: dict[str, tuple[str, str]] = {
    TRIGGER_START: (_CIRCUS_YELLOW, "Create new ephemeral environment for this PR"),
    TRIGGER_STOP: (_CIRCUS_YELLOW, "Destroy ephemeral environment and clean up AWS resources"),
    TRIGGER_SYNC: (_CIRCUS_YELLOW, "Update environment to latest commit (rolling update)"),
    FREEZE: ("FFE4B5", "Freeze PR - prevent auto-sync on new commits"),
    BLOCKED: ("dc3545", "Block all showtime operations on this PR"),
}


@dataclass(frozen=True)
class Show:
    """One environment of a PR, as its per-SHA labels describe it."""

    sha: str
    status: str | None = None
    created: str | None = None  # raw YYYY-MM-DDTHH-MM, kept even if malformed
    address: str | None = None  # ip:port as written
    requester: str | None = None
    ttl: str | None = None  # the CLI's older per-SHA ⌛

    @property
    def created_at(self) -> datetime | None:
        return parse_created(self.created) if self.created else None

    @property
    def in_progress(self) -> bool:
        return self.status in IN_PROGRESS_STATUSES

    @property
    def url(self) -> str | None:
        return address_url(self.address) if self.address else None


@dataclass(frozen=True)
class PrLabels:
    """Everything the 🎪 labels of one PR say."""

    shows: tuple[Show, ...] = ()
    active_sha: str | None = None
    building_sha: str | None = None
    ttls: tuple[str, ...] = ()
    frozen: bool = False
    blocked: bool = False
    trigger_start: bool = False
    trigger_stop: bool = False
    trigger_sync: bool = False
    unknown: tuple[str, ...] = ()  # showtime-looking labels we do not understand, kept

    @property
    def ttl(self) -> str | None:
        """The PR-level TTL; with several (a race between tools), the most generous one."""
        if not self.ttls:
            return None
        from bot.domain.ttl import ttl_duration

        def rank(value: str) -> float:
            duration = ttl_duration(value)
            return float("inf") if duration is None else duration.total_seconds()

        return max(self.ttls, key=rank)

    def show(self, sha: str) -> Show | None:
        sha7 = sha[:7]
        for show in self.shows:
            if show.sha == sha7:
                return show
        return None

    @property
    def active(self) -> Show | None:
        """The environment 🎯 points at, or else the one labelled running."""
        if self.active_sha:
            show = self.show(self.active_sha)
            if show:
                return show
        running = [show for show in self.shows if show.status == RUNNING]
        return running[0] if running else None

    def ttl_for(self, show: Show) -> str | None:
        return self.ttl or show.ttl

    def effective_ttl(self, show: Show, default_ttl: str) -> str:
        """The TTL ``show`` lives by: the PR's ⌛ (or the CLI's older per-SHA one), else the
        default the bot would add."""
        return self.ttl_for(show) or default_ttl

    def expiry(self, show: Show, default_ttl: str) -> datetime | None:
        """When ``show`` expires: its 📅 plus its TTL (the CLI's rule, SPEC §9). None when it
        has no 📅 or its TTL is ``close`` (stopped when the PR closes, not by time).

        The one place an environment's expiry is computed; everything that shows, warns,
        sweeps, prices or records an expiry asks here."""
        created = show.created_at
        return (
            None if created is None else expires_at(created, self.effective_ttl(show, default_ttl))
        )

    @property
    def has_environment(self) -> bool:
        return bool(self.shows or self.active_sha or self.building_sha)


def address_url(address: str) -> str | None:
    """``http://{address}`` when the 🌐 value is an address, else ``None``.

    The URL goes into Slack links and the Open button, and a 🌐 label is anyone with
    triage rights' to write: ``evil.example|Open the environment`` or a path to an
    internal page must not become a link. Accepted: ``ip:port``, ``host:port``,
    ``[ipv6]:port``, and the CLI's port-less IPv4 forms ``52.1.2.3`` and ``52-1-2-3``.
    """
    if _DASHED_IPV4.fullmatch(address):
        address = address.replace("-", ".")
    match = _ADDRESS.fullmatch(address)
    if match is None:
        return None
    port = match.group("port")
    if port is not None and not 1 <= int(port) <= 65535:
        return None
    host = match.group("host")
    try:
        if match.group("ipv6") is not None:
            ipaddress.IPv6Address(match.group("ipv6"))
            ok = port is not None
        elif _DOTTED.fullmatch(host):
            ipaddress.IPv4Address(host)
            ok = True
        else:
            parts = host.split(".")
            ok = port is not None and len(host) <= 253 and all(map(_HOST_PART.fullmatch, parts))
    except ValueError:  # not an IP address after all (999.1.2.3)
        return None
    return f"http://{address}" if ok else None


def short_sha(sha: str) -> str:
    return sha[:7].lower()


def parse_created(value: str) -> datetime | None:
    try:
        return datetime.strptime(value, CREATED_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def format_created(when: datetime) -> str:
    return when.astimezone(UTC).strftime(CREATED_FORMAT)


def is_showtime_label(name: str) -> bool:
    return name.startswith(PREFIX)


def parse_labels(names: Iterable[str]) -> PrLabels:
    """Read a PR's label names (others are ignored) into ``PrLabels``."""
    shows: dict[str, dict[str, str]] = {}
    state: dict[str, object] = {}
    ttls: list[str] = []
    unknown: list[str] = []
    flags = {
        TRIGGER_START: "trigger_start",
        TRIGGER_STOP: "trigger_stop",
        TRIGGER_SYNC: "trigger_sync",
        FREEZE: "frozen",
        BLOCKED: "blocked",
    }
    for name in names:
        if not is_showtime_label(name):
            continue
        if name in flags:
            state[flags[name]] = True
            continue
        body = name[len(PREFIX) :]
        if (ttl := _TTL.fullmatch(body)) and is_ttl(ttl.group(1)):
            ttls.append(ttl.group(1))
            continue
        if pointer := _POINTER.fullmatch(body):
            key = "active_sha" if pointer.group(1) == ACTIVE_EMOJI else "building_sha"
            if key in state:
                unknown.append(name)  # a second pointer: keep it visible, do not guess
            else:
                state[key] = pointer.group(2)
            continue
        if (per_sha := _PER_SHA.fullmatch(body)) and _put_sha_field(shows, per_sha):
            continue
        unknown.append(name)
    return PrLabels(
        shows=tuple(Show(sha=sha, **fields) for sha, fields in sorted(shows.items())),
        ttls=tuple(sorted(set(ttls))),
        unknown=tuple(sorted(set(unknown))),
        **state,  # type: ignore[arg-type]
    )


_FIELD_BY_EMOJI = {
    STATUS_EMOJI: "status",
    CREATED_EMOJI: "created",
    ADDRESS_EMOJI: "address",
    REQUESTER_EMOJI: "requester",
    TTL_EMOJI: "ttl",
}


def _put_sha_field(shows: dict[str, dict[str, str]], match: re.Match[str]) -> bool:
    sha, emoji, value = match.group(1), match.group(2), match.group(3)
    field_name = _FIELD_BY_EMOJI.get(emoji)
    if field_name is None or field_name in shows.get(sha, {}):
        return False
    shows.setdefault(sha, {})[field_name] = value
    return True


# ----- rendering ---------------------------------------------------------------


def status_label(sha: str, status: str) -> str:
    return f"{PREFIX}{sha} {STATUS_EMOJI} {status}"


def created_label(sha: str, created: str | datetime) -> str:
    value = format_created(created) if isinstance(created, datetime) else created
    return f"{PREFIX}{sha} {CREATED_EMOJI} {value}"


def address_label(sha: str, address: str) -> str:
    return f"{PREFIX}{sha} {ADDRESS_EMOJI} {address}"


def requester_label(sha: str, user: str) -> str:
    """``🎪 abc123f 🤡 user`` with the user part shortened to fit GitHub's 50 characters."""
    head = f"{PREFIX}{sha} {REQUESTER_EMOJI} "
    clean = " ".join(user.split()) or "unknown"
    room = MAX_LABEL_LENGTH - len(head)
    if len(clean) > room:
        clean = clean[: room - 1] + "…"
    return head + clean


def ttl_label(ttl: str) -> str:
    return f"{PREFIX}{TTL_EMOJI} {ttl}"


def active_label(sha: str) -> str:
    return f"{PREFIX}{ACTIVE_EMOJI} {sha}"


def building_label(sha: str) -> str:
    return f"{PREFIX}{BUILDING_EMOJI} {sha}"


def show_labels(show: Show) -> list[str]:
    labels = []
    if show.status is not None:
        labels.append(status_label(show.sha, show.status))
    if show.created is not None:
        labels.append(created_label(show.sha, show.created))
    if show.address is not None:
        labels.append(address_label(show.sha, show.address))
    if show.requester is not None:
        labels.append(requester_label(show.sha, show.requester))
    if show.ttl is not None:
        labels.append(f"{PREFIX}{show.sha} {TTL_EMOJI} {show.ttl}")
    return labels


def render_labels(state: PrLabels) -> list[str]:
    """Every 🎪 label ``state`` stands for, in a stable order."""
    labels: list[str] = []
    for flag, name in (
        (state.trigger_start, TRIGGER_START),
        (state.trigger_stop, TRIGGER_STOP),
        (state.trigger_sync, TRIGGER_SYNC),
        (state.frozen, FREEZE),
        (state.blocked, BLOCKED),
    ):
        if flag:
            labels.append(name)
    labels.extend(ttl_label(ttl) for ttl in state.ttls)
    if state.active_sha:
        labels.append(active_label(state.active_sha))
    if state.building_sha:
        labels.append(building_label(state.building_sha))
    for show in state.shows:
        labels.extend(show_labels(show))
    labels.extend(state.unknown)
    return labels


def sha_of_label(name: str) -> str | None:
    """The SHA a label is about (per-SHA labels and pointers), else ``None``."""
    if not is_showtime_label(name):
        return None
    body = name[len(PREFIX) :]
    if pointer := _POINTER.fullmatch(body):
        return pointer.group(2)
    if per_sha := _PER_SHA.fullmatch(body):
        return per_sha.group(1)
    return None


def labels_of_sha(names: Iterable[str], sha: str) -> list[str]:
    """The labels among ``names`` that belong to one SHA (its per-SHA labels and pointers)."""
    sha7 = sha[:7]
    return [name for name in names if sha_of_label(name) == sha7]


def label_definition(name: str) -> tuple[str, str] | None:
    """``(colour, description)`` the CLI gives a label, for the ones it colours.

    Static labels, ⌛ TTLs and 🚦 statuses; other per-SHA labels are left to
    GitHub's defaults (``None``), which saves a request each.
    """
    if name in _STATIC_DEFINITIONS:
        return _STATIC_DEFINITIONS[name]
    body = name[len(PREFIX) :] if is_showtime_label(name) else ""
    if (ttl := _TTL.fullmatch(body)) and is_ttl(ttl.group(1)):
        return _METADATA_YELLOW, f"Environment time to live: {ttl.group(1)}"
    if (per_sha := _PER_SHA.fullmatch(body)) and per_sha.group(2) == STATUS_EMOJI:
        sha, status = per_sha.group(1), per_sha.group(3)
        return _STATUS_COLOURS.get(status, _CIRCUS_YELLOW), f"Environment {sha} status: {status}"
    return None


@dataclass(frozen=True)
class LabelChange:
    """Labels to add and to remove on one PR (computed from states, applied by an adapter)."""

    add: tuple[str, ...] = field(default=())
    remove: tuple[str, ...] = field(default=())

    @property
    def empty(self) -> bool:
        return not self.add and not self.remove


def change_against(
    current: Iterable[str], *, add: Iterable[str] = (), remove: Iterable[str] = ()
) -> LabelChange:
    """The change that makes ``current`` carry ``add`` and not ``remove``, and nothing more.

    A label already there is not added again, one that is not there is not removed, and
    one both added and removed stays: every label decision is computed through this, so
    a write never carries a no-op.
    """
    have = set(current)
    wanted = list(dict.fromkeys(add))
    return LabelChange(
        add=tuple(name for name in wanted if name not in have),
        remove=tuple(name for name in dict.fromkeys(remove) if name in have and name not in wanted),
    )


def diff(current: Iterable[str], wanted: Iterable[str]) -> LabelChange:
    """What turns the showtime labels of ``current`` into ``wanted`` (others untouched)."""
    have = {name for name in current if is_showtime_label(name)}
    want = set(wanted)
    return LabelChange(add=tuple(sorted(want - have)), remove=tuple(sorted(have - want)))
