"""Faults as objects: every Toxiproxy toxic, a proxy going down, Redis/API/worker process faults, composition.

    with Latency(proxy="api", ms=2000, jitter=500).on(stack):
        ...                                   # the API answers 2 s late (of modelled time)
    with (RedisPause() + ProxyDown("edge")).on(stack):
        ...

This package is the one to import. Inside: `base` (the protocol: `Fault`, `AtomicFault`, `Compose`,
`FaultWindow`, `FaultTarget`, `ProcessControl`), `toxics` (network faults through Toxiproxy), `process` (process
faults through the target's ProcessControl), `timing` (`Timed`, `Schedule`), `factory` (faults made by name and
bound to one target), `toxiproxy` / `toxiproxy_server` (the typed REST client and the real server).
"""

from harness.faults.base import AtomicFault, Compose, Fault, FaultTarget, FaultWindow, ProcessControl
from harness.faults.factory import FaultFactory, TrackedFaults
from harness.faults.process import (
    ApiRestart,
    ProcessFault,
    RedisOutage,
    RedisPause,
    RedisRestart,
    Restart,
    WorkerKill,
)
from harness.faults.timing import Schedule, Timed
from harness.faults.toxics import (
    TOXICS,
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

__all__ = [
    "TOXICS", "ApiRestart", "AtomicFault", "Bandwidth", "Compose", "Fault", "FaultFactory", "FaultTarget",
    "FaultWindow", "Latency", "LimitData", "ProcessControl", "ProcessFault", "ProxyDown", "RedisOutage", "RedisPause",
    "RedisRestart", "ResetPeer", "Restart", "Schedule", "Slicer", "SlowClose", "Timed", "Timeout", "ToxicFault",
    "TrackedFaults", "WorkerKill", "toxic",
]  # fmt: skip
