"""Faults as objects: every Toxiproxy toxic, a proxy going down, Redis/API/worker process faults, composition.

    with Latency(proxy="api", ms=2000, jitter=500).on(stack):
        ...                                   # the API answers 2 s late (of modelled time)
    with (RedisPause() + ProxyDown("edge")).on(stack):
        ...

This package is the one to import. Inside: `base` (the protocol: `Fault`, `FaultWindow`, `FaultTarget`,
`ProcessControl`), `toxics` (network faults through Toxiproxy), `process` (process faults through the target's
ProcessControl), `compose` (`Compose`, `Timed`, `Schedule`), `recording` (faults whose windows land in a
history), `toxiproxy` / `toxiproxy_server` (the typed REST client and the real server).
"""

from harness.faults.base import Fault, FaultTarget, FaultWindow, ProcessControl
from harness.faults.compose import Compose, Schedule, Timed
from harness.faults.process import ApiRestart, FaultFactory, ProcessFault, RedisPause, RedisRestart, WorkerKill
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
    "TOXICS", "ApiRestart", "Bandwidth", "Compose", "Fault", "FaultFactory", "FaultTarget", "FaultWindow",
    "Latency", "LimitData", "ProcessControl", "ProcessFault", "ProxyDown", "RedisPause", "RedisRestart", "ResetPeer",
    "Schedule", "Slicer", "SlowClose", "Timed", "Timeout", "ToxicFault", "WorkerKill", "toxic",
]  # fmt: skip
