"""End-to-end: the sandbox, with the bot as its own process, driven only over HTTP."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from bot.sandbox.harness import Sandbox

_numbers = itertools.count(37001)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="module")
def shared_sandbox() -> Iterator[Sandbox]:
    with Sandbox(drain_seconds=2.0, stable_seconds=0.5, poll_seconds=0.1) as sandbox:
        yield sandbox


@pytest.fixture
def sandbox(shared_sandbox: Sandbox) -> Sandbox:
    return shared_sandbox


@pytest.fixture
def new_pr(shared_sandbox: Sandbox) -> int:
    """A fresh open PR for this test alone, so tests share a sandbox but never state."""
    number = next(_numbers)
    shared_sandbox.github.add_pr(number, f"e2e PR {number}", "FEATURE_ALERT_REPORTS=true\n")
    return number
