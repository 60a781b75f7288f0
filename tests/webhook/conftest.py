"""The ``hook_world`` fixture: see tests/hook_support.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hook_support import HookWorld, serving_hooks
from support import World


@pytest.fixture
def hook_world(world: World) -> Iterator[HookWorld]:
    yield from serving_hooks(world)
