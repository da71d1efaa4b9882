"""A target: anything faults act on and clients reach — a stack the harness booted, or a service by URL.

`Target` is the one protocol the applications (chaos, compare, conformance, Locust, the pytest plugin) take.
`RecordingTarget` lets many histories share one running target: faults applied through it record their windows
in that history, and the target itself is never mutated. `heal` brings a target back to a whole chain.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from typing import Protocol

from harness.contract import ContractProfile
from harness.core.errors import FaultError
from harness.core.net import wait_healthy
from harness.faults.base import FaultTarget, FaultWindow, ProcessControl
from harness.faults.toxiproxy import ToxiproxyClient
from harness.stack.config import Endpoints


class Target(FaultTarget, Protocol):
    """A fault target with endpoints (where clients go) and a time scale (how long its modelled seconds last)."""

    @property
    def endpoints(self) -> Endpoints: ...

    @property
    def time_scale(self) -> float: ...

    @property
    def profile(self) -> ContractProfile: ...


class RecordingTarget:
    """`target` as a fault target whose `fault_listener` writes to one history (e.g. `history.record_fault`)."""

    def __init__(self, target: Target, listener: Callable[[FaultWindow], object]) -> None:
        self.stack = target
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
    def endpoints(self) -> Endpoints:
        return self.stack.endpoints

    @property
    def time_scale(self) -> float:
        return self.stack.time_scale

    @property
    def profile(self) -> ContractProfile:
        return self.stack.profile


def heal(target: Target, timeout: float = 20.0) -> None:
    """Back to a whole chain: no toxics, every proxy enabled, every component running and not stopped, and
    /health answering 200 through the edge (bounded by `timeout` seconds)."""
    target.toxiproxy.reset()
    processes = target.processes
    for component in processes.components():
        processes.signal(component, signal.SIGCONT)
        processes.start(component)
    health = f"{target.endpoints.edge_url}{target.profile.path('health')}"
    wait_healthy(health, timeout, "the chain, once healed,", error=FaultError)
