"""A 🌐 label becomes a URL only when it is an address (SPEC §12).

Anyone with triage rights can edit labels, and the URL ends up in Slack links and the
Open button: a value that is not ``ip:port`` / ``host:port`` gives no URL at all.
"""

from __future__ import annotations

import pytest

from bot.domain.labels import Show, parse_labels


@pytest.mark.parametrize(
    ("address", "url"),
    [
        ("52.1.2.3:8080", "http://52.1.2.3:8080"),  # what the bot and the CLI write
        ("52-1-2-3", "http://52.1.2.3"),  # the CLI's oldest form
        ("52.1.2.3", "http://52.1.2.3"),
        ("superset-pr-1.example.org:8088", "http://superset-pr-1.example.org:8088"),
        ("[2001:db8::1]:8080", "http://[2001:db8::1]:8080"),
    ],
)
def test_addresses_become_urls(address: str, url: str) -> None:
    assert Show(sha="abc123f", address=address).url == url


@pytest.mark.parametrize(
    "address",
    [
        "evil.example|Open the environment",
        "e.example|<!channel>:80",
        "<https://evil.example/login|Open>",
        "evil.example:80/admin/delete?id=1",
        "user@evil.example:80",
        "evil.example:80 ",
        "evil example:80",
        "evil.example",  # a host needs a port: only IPs have the CLI's port-less forms
        "evil.example:0",
        "evil.example:99999",
        "evil.example:80>",
        "52.1.2.3:80:80",
        "999.1.2.3:80",
        "-evil.example:80",
        "52-1-2-3-4",
        "",
    ],
)
def test_anything_else_gives_no_url(address: str) -> None:
    assert Show(sha="abc123f", address=address).url is None


def test_a_hostile_address_label_is_kept_but_not_linked() -> None:
    state = parse_labels(["🎪 abc123f 🚦 running", "🎪 abc123f 🌐 evil.example|x:80"])
    show = state.show("abc123f")
    assert show is not None and show.address == "evil.example|x:80"  # labels round-trip as-is
    assert show.url is None
