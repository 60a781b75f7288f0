"""Every port's writes, fenced and observed in one place, whatever the port.

A job's remote writes must land only while the job is still this process's (SPEC §12): a
replica that paused past the orphan limit had its jobs adopted, and its next write must not
land. So each write of a job's ports checks the store first — and again after it returns,
since the pause may have happened *inside* the write: a write that returns to a job it no
longer owns stops the job there (``JobLost``), and says so, so the adopter and the sweeper
put right what it wrote.

Writes are the methods a port marks ``@write`` (``bot.orchestrator.ports``); nothing here
repeats a port's signature, so a new port method is fenced the moment it is declared.
Observers see each write that returned (the record of when environments ran listens to
ECS's creates and deletes, ``bot.orchestrator.metering``).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, cast

from bot.orchestrator.ports import writes_of

P = TypeVar("P")


@dataclass(frozen=True)
class PortCall:
    """One write that returned: the method, its arguments by name, and what it gave back."""

    method: str
    arguments: Mapping[str, Any]
    result: Any


Observer = Callable[[PortCall], None]


class Fence(Protocol):
    def before(self, method: str) -> None:
        """Raise unless the job may write now."""
        ...

    def after(self, method: str) -> None:
        """Raise if the job was lost while ``method`` ran (its write landed anyway)."""
        ...


class _Guarded:
    """A port whose ``@write`` methods are fenced and observed; the rest pass through."""

    def __init__(
        self,
        port: object,
        protocol: type,
        fence: Fence | None,
        observers: Sequence[Observer],
    ) -> None:
        self._port = port
        self._protocol = protocol
        self._writes = writes_of(protocol)
        self._fence = fence
        self._observers = tuple(observers)

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._port, name)
        if name not in self._writes:
            return attribute
        signature = inspect.signature(getattr(self._protocol, name))

        @functools.wraps(attribute)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if self._fence is not None:
                self._fence.before(name)
            result = attribute(*args, **kwargs)
            if self._fence is not None:
                self._fence.after(name)
            if self._observers:
                bound = signature.bind(None, *args, **kwargs)  # None stands in for self
                bound.apply_defaults()
                call = PortCall(name, dict(list(bound.arguments.items())[1:]), result)
                for observer in self._observers:
                    observer(call)
            return result

        return guarded

    def __repr__(self) -> str:
        return f"guarded({self._port!r})"


def guard(
    port: P,
    protocol: type,
    *,
    fence: Fence | None = None,
    observers: Sequence[Observer] = (),
) -> P:
    """``port`` with its writes fenced on ``fence`` (None: not a job's) and seen by
    ``observers``."""
    if fence is None and not observers:
        return port
    return cast(P, _Guarded(port, protocol, fence, observers))
