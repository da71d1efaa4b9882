"""Process faults (a restart of any component, Redis paused, a worker killed) through the target's ProcessControl."""

from __future__ import annotations

import signal
from dataclasses import dataclass, field
from typing import ClassVar

from harness.core.errors import ConfigError, FaultError
from harness.faults.base import AtomicFault, Detail, FaultTarget, ProcessControl


@dataclass(repr=False)
class ProcessFault(AtomicFault):
    """A fault on one component of the stack through its ProcessControl; the component must exist."""

    def _processes(self, target: FaultTarget) -> ProcessControl:
        processes = target.processes
        known = processes.components()
        if self.where not in known:
            hint = getattr(processes, "hint", None)  # a target that can say why it lacks the component
            has = f"it has {sorted(known)}" if known else "it has none"
            raise FaultError(f"{self!r}: no component {self.where!r} to act on ({has}){'; ' + hint if hint else ''}")
        return processes

    def _remove(self, target: FaultTarget) -> None:
        """Most process faults are instantaneous: their window only marks the time to observe recovery."""


@dataclass(repr=False)
class Restart(ProcessFault):
    """Restart one component on apply: graceful = SIGTERM (Redis flushes its AOF, the API cuts open streams at
    shutdown) then start; else SIGKILL then start."""

    component: str
    graceful: bool = True
    kind: ClassVar[str] = "restart"

    @property
    def where(self) -> str:
        return self.component

    def _apply(self, target: FaultTarget) -> Detail:
        self._processes(target).restart(self.component, graceful=self.graceful)
        return (("signal", "SIGTERM" if self.graceful else "SIGKILL"),)


@dataclass(repr=False)
class RedisRestart(Restart):
    """Restart Redis (on the same data: its AOF, its volume)."""

    component: str = field(default="redis", init=False)
    kind: ClassVar[str] = "redis_restart"


@dataclass(repr=False)
class ApiRestart(Restart):
    """Restart the API process."""

    component: str = field(default="api", init=False)
    kind: ClassVar[str] = "api_restart"


@dataclass(repr=False)
class RedisOutage(ProcessFault):
    """Redis down while applied: stopped on apply (SIGTERM: its AOF flushed), started again on the same data on
    remove, which waits until it answers (or raises saying it did not come back). `Timed(RedisOutage(), 10)` is
    an outage of 10 modelled seconds."""

    kind: ClassVar[str] = "redis_outage"

    @property
    def where(self) -> str:
        return "redis"

    def _apply(self, target: FaultTarget) -> Detail:
        self._processes(target).stop("redis")
        return (("signal", "SIGTERM"),)

    def _remove(self, target: FaultTarget) -> None:
        target.processes.start("redis")


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
