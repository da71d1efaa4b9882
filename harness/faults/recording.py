"""What faults act on during a chaos run: a stack seen through one history, an external service, and healing.

`RecordingTarget` lets many histories share one running stack: faults applied through it record their windows
in that history, and the stack itself is never mutated. `ExternalTarget` stands for a service the harness did
not start (`--harness-target URL`): clients work, network faults need the user's own Toxiproxy, process
faults are refused with a message that says why.
"""

from __future__ import annotations

import functools
import signal
from collections.abc import Callable
from typing import Any, Protocol

from harness.core.errors import FaultError
from harness.core.net import wait_healthy
from harness.faults.base import Fault, FaultTarget, FaultWindow, ProcessControl
from harness.faults.process import FaultFactory
from harness.faults.toxiproxy import ToxiproxyClient
from harness.stack.config import Endpoints


class ChaosStack(FaultTarget, Protocol):
    """What the chaos suite needs from a stack: a fault target with endpoints and a time scale."""

    @property
    def endpoints(self) -> Endpoints: ...

    @property
    def time_scale(self) -> float: ...


class RecordingTarget:
    """`stack` as a fault target whose `fault_listener` writes to one history (e.g. `history.record_fault`)."""

    def __init__(self, stack: ChaosStack, listener: Callable[[FaultWindow], object]) -> None:
        self.stack = stack
        self.fault_listener = listener

    def __repr__(self) -> str:
        return f"RecordingTarget({self.stack!r})"

    @property
    def toxiproxy(self) -> ToxiproxyClient:
        return self.stack.toxiproxy

    @property
    def processes(self) -> ProcessControl:
        return self.stack.processes

    @property
    def time_scale(self) -> float:
        return self.stack.time_scale


class _NoProcesses:
    """The ProcessControl of a service the harness did not start: every call says why it cannot work."""

    def __init__(self, url: str) -> None:
        self.url = url

    def _refuse(self, what: str) -> FaultError:
        return FaultError(
            f"process faults ({what}) need a stack the harness started; --harness-target {self.url} is an external"
            " service: use network faults through your Toxiproxy (--harness-toxiproxy URL), or drop --harness-target"
        )

    def signal(self, component: str, sig: int) -> None:
        raise self._refuse(f"signal {component}")

    def restart(self, component: str, *, graceful: bool = True) -> None:
        raise self._refuse(f"restart {component}")

    def stop(self, component: str) -> None:
        raise self._refuse(f"stop {component}")

    def start(self, component: str) -> None:
        raise self._refuse(f"start {component}")

    def components(self) -> list[str]:
        raise self._refuse("any component")


class ExternalTarget:
    """A service at `url` that the harness did not start; `toxiproxy_url` is the user's Toxiproxy, if any."""

    def __init__(self, url: str, toxiproxy_url: str | None, time_scale: float) -> None:
        self.url = url.rstrip("/")
        self._time_scale = time_scale
        self._toxiproxy = ToxiproxyClient(toxiproxy_url) if toxiproxy_url else None
        self._endpoints = Endpoints(self.url, self.url, self.url, self.url, toxiproxy_url or "", "", "")
        self.fault_listener: Callable[[FaultWindow], object] | None = None

    def __repr__(self) -> str:
        return f"ExternalTarget({self.url!r})"

    @property
    def endpoints(self) -> Endpoints:
        return self._endpoints

    @property
    def time_scale(self) -> float:
        return self._time_scale

    @property
    def has_toxiproxy(self) -> bool:
        return self._toxiproxy is not None

    @property
    def toxiproxy(self) -> ToxiproxyClient:
        if self._toxiproxy is None:
            raise FaultError(
                f"network faults need a Toxiproxy in front of {self.url}; pass --harness-toxiproxy URL "
                "(its proxies named as your faults name them, e.g. 'edge', 'api', 'redis')"
            )
        return self._toxiproxy

    @property
    def processes(self) -> ProcessControl:
        return _NoProcesses(self.url)

    def close(self) -> None:
        if self._toxiproxy is not None:
            self._toxiproxy.close()


class TrackedFaults(FaultFactory):
    """A FaultFactory that remembers what it made, so `heal()` removes whatever a test left applied."""

    def __init__(self, target: FaultTarget) -> None:
        super().__init__(target)
        self.made: list[Fault] = []

    def heal(self) -> None:
        """Remove every fault still applied, newest first; the first failure is raised after trying them all."""
        errors: list[FaultError] = []
        for fault in reversed(self.made):
            try:
                fault.remove()
            except FaultError as exc:
                errors.append(exc)
        if errors:
            raise errors[0]


def _tracked(method: Callable[..., Fault]) -> Callable[..., Fault]:
    @functools.wraps(method)
    def make(self: TrackedFaults, *args: Any, **kwargs: Any) -> Fault:
        fault = method(self, *args, **kwargs)
        self.made.append(fault)
        return fault

    return make


for _name, _method in vars(FaultFactory).items():
    if not _name.startswith("_") and callable(_method):
        setattr(TrackedFaults, _name, _tracked(_method))


def heal_stack(stack: ChaosStack, timeout: float = 20.0) -> None:
    """Back to a whole chain: no toxics, every proxy enabled, every component running and not stopped, and
    /health answering 200 through the edge (bounded by `timeout` seconds)."""
    stack.toxiproxy.reset()
    processes = stack.processes
    for component in processes.components():
        processes.signal(component, signal.SIGCONT)
        processes.start(component)
    wait_healthy(f"{stack.endpoints.edge_url}/health", timeout, "the chain, once healed,", error=FaultError)
