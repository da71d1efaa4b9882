"""Process faults (Redis, API, worker) through the target's ProcessControl, and the fault factory."""

from __future__ import annotations

import signal
from dataclasses import dataclass
from typing import Any, ClassVar

from harness.core.errors import ConfigError, FaultError
from harness.faults.base import Detail, Fault, FaultTarget, ProcessControl
from harness.faults.compose import Compose, Timed
from harness.faults.toxics import (
    Bandwidth,
    Latency,
    LimitData,
    ProxyDown,
    ResetPeer,
    Slicer,
    SlowClose,
    Timeout,
    ToxicFault,
    toxic,
)


@dataclass(repr=False)
class ProcessFault(Fault):
    """A fault on one component of the stack through its ProcessControl; the component must exist."""

    def _processes(self, target: FaultTarget) -> ProcessControl:
        processes = target.processes
        known = processes.components()
        if self.where not in known:
            raise FaultError(f"{self!r}: this stack has no component {self.where!r}; it has {sorted(known)}")
        return processes

    def _remove(self, target: FaultTarget) -> None:
        """Most process faults are instantaneous: their window only marks the time to observe recovery."""


@dataclass(repr=False)
class RedisRestart(ProcessFault):
    """Restart Redis on apply: graceful = SIGTERM (AOF flushed) then start; else SIGKILL then start."""

    graceful: bool = True
    kind: ClassVar[str] = "redis_restart"

    @property
    def where(self) -> str:
        return "redis"

    def _apply(self, target: FaultTarget) -> Detail:
        self._processes(target).restart("redis", graceful=self.graceful)
        return (("signal", "SIGTERM" if self.graceful else "SIGKILL"),)


@dataclass(repr=False)
class ApiRestart(ProcessFault):
    """Restart the API process on apply (graceful = SIGTERM, open streams are cut at shutdown)."""

    graceful: bool = True
    kind: ClassVar[str] = "api_restart"

    @property
    def where(self) -> str:
        return "api"

    def _apply(self, target: FaultTarget) -> Detail:
        self._processes(target).restart("api", graceful=self.graceful)
        return (("signal", "SIGTERM" if self.graceful else "SIGKILL"),)


@dataclass(repr=False)
class RedisPause(ProcessFault):
    """SIGSTOP Redis on apply, SIGCONT on remove: a hung server, not a dead one (clients time out)."""

    kind: ClassVar[str] = "redis_pause"

    @property
    def where(self) -> str:
        return "redis"

    def _apply(self, target: FaultTarget) -> Detail:
        self._processes(target).signal("redis", signal.SIGSTOP)
        return (("signal", "SIGSTOP"),)

    def _remove(self, target: FaultTarget) -> None:
        target.processes.signal("redis", signal.SIGCONT)


@dataclass(repr=False)
class WorkerKill(ProcessFault):
    """SIGKILL worker-<index> on apply; with `restart`, start it again on remove (so the window is the outage).

    Restarting on remove, not at once, lets a schedule choose how long the worker stays dead, e.g. longer
    than the stall timeout to prove its job is reclaimed. With restart=False it stays dead.
    """

    index: int = 0
    restart: bool = True
    kind: ClassVar[str] = "worker_kill"

    def __post_init__(self) -> None:
        if isinstance(self.index, bool) or not isinstance(self.index, int) or self.index < 0:
            raise ConfigError(f"WorkerKill.index={self.index!r} is out of range; use a worker index >= 0")

    @property
    def where(self) -> str:
        return f"worker-{self.index}"

    def _apply(self, target: FaultTarget) -> Detail:
        self._processes(target).signal(self.where, signal.SIGKILL)
        return (("signal", "SIGKILL"), ("restart", self.restart))

    def _remove(self, target: FaultTarget) -> None:
        if self.restart:
            target.processes.start(self.where)


class FaultFactory:
    """Faults already bound to one target: `faults.latency("api", ms=2000)` (the pytest fixture's shape)."""

    def __init__(self, target: FaultTarget) -> None:
        self.target = target

    def __repr__(self) -> str:
        return f"FaultFactory({self.target!r})"

    def latency(self, proxy: str, ms: float, jitter: float = 0, **kw: Any) -> Latency:
        return Latency(proxy, ms, jitter, **kw).on(self.target)

    def bandwidth(self, proxy: str, rate: int, **kw: Any) -> Bandwidth:
        return Bandwidth(proxy, rate, **kw).on(self.target)

    def slow_close(self, proxy: str, ms: float, **kw: Any) -> SlowClose:
        return SlowClose(proxy, ms, **kw).on(self.target)

    def timeout(self, proxy: str, ms: float = 0, **kw: Any) -> Timeout:
        return Timeout(proxy, ms, **kw).on(self.target)

    def reset_peer(self, proxy: str, ms: float = 0, **kw: Any) -> ResetPeer:
        return ResetPeer(proxy, ms, **kw).on(self.target)

    def slicer(self, proxy: str, average_size: int, size_variation: int = 0, delay_us: float = 0, **kw: Any) -> Slicer:
        return Slicer(proxy, average_size, size_variation, delay_us, **kw).on(self.target)

    def limit_data(self, proxy: str, bytes: int, **kw: Any) -> LimitData:
        return LimitData(proxy, bytes, **kw).on(self.target)

    def toxic(self, proxy: str, toxic_type: str, **params: Any) -> ToxicFault:
        return toxic(proxy, toxic_type, **params).on(self.target)

    def proxy_down(self, proxy: str) -> ProxyDown:
        return ProxyDown(proxy).on(self.target)

    def redis_restart(self, graceful: bool = True) -> RedisRestart:
        return RedisRestart(graceful).on(self.target)

    def redis_pause(self) -> RedisPause:
        return RedisPause().on(self.target)

    def worker_kill(self, index: int = 0, restart: bool = True) -> WorkerKill:
        return WorkerKill(index, restart).on(self.target)

    def api_restart(self, graceful: bool = True) -> ApiRestart:
        return ApiRestart(graceful).on(self.target)

    def compose(self, *faults: Fault) -> Compose:
        return Compose(*faults).on(self.target)

    def timed(self, fault: Fault, seconds: float) -> Timed:
        return Timed(fault, seconds).on(self.target)
