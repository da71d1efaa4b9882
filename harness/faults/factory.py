"""Faults bound to one target, made by their kind's name: `faults.latency("api", ms=2000)` is
`Latency("api", ms=2000).on(target)` (the pytest fixture's shape). `TrackedFaults` also remembers what it made,
so `heal()` removes whatever a test left applied."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from harness.faults.base import Compose, Fault, FaultTarget
from harness.faults.process import ApiRestart, RedisOutage, RedisPause, RedisRestart, Restart, WorkerKill
from harness.faults.timing import Timed
from harness.faults.toxics import TOXICS, ProxyDown, toxic

F = TypeVar("F", bound=Fault)

# kind -> how to make one: every fault class by its `kind`, and `toxic(proxy, type, **params)` by type name.
MAKERS: dict[str, Callable[..., Fault]] = {
    **{cls.kind: cls for cls in (ProxyDown, Restart, RedisRestart, ApiRestart, RedisOutage, RedisPause, WorkerKill)},
    **TOXICS,
    "compose": Compose,
    "timed": Timed,
    "toxic": toxic,
}


class FaultFactory:
    """`faults.<kind>(...)` makes that fault bound to the target; `faults.bind(fault)` binds one already made."""

    def __init__(self, target: FaultTarget) -> None:
        self.target = target

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.target!r})"

    def bind(self, fault: F) -> F:
        return fault.on(self.target)

    def __getattr__(self, kind: str) -> Callable[..., Fault]:
        maker = MAKERS.get(kind)
        if maker is None or kind.startswith("_"):
            raise AttributeError(f"{type(self).__name__} makes no fault {kind!r}; it makes {', '.join(sorted(MAKERS))}")

        def make(*args: Any, **kwargs: Any) -> Fault:
            return self.bind(maker(*args, **kwargs))

        make.__name__ = make.__qualname__ = kind
        make.__doc__ = maker.__doc__
        return make

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *MAKERS})


class TrackedFaults(FaultFactory):
    """A FaultFactory that remembers what it made, so `heal()` removes whatever a test left applied."""

    def __init__(self, target: FaultTarget) -> None:
        super().__init__(target)
        self.made: list[Fault] = []

    def bind(self, fault: F) -> F:
        self.made.append(fault)
        return super().bind(fault)

    def heal(self) -> None:
        """Remove every fault still applied, newest first; the first failure is raised after trying them all."""
        if self.made:
            Compose(*self.made).remove()
