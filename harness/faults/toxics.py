"""Network faults through Toxiproxy: every toxic type on any proxy and direction, and a proxy going down.

Toxic durations (ms, µs) are modelled time: they go through the time scale when applied (the target's
`time_scale`, else HARNESS_TIME_SCALE), like every other duration, so verdicts hold at any scale; the
window's detail records the values really sent. Sizes and rates are not scaled.
"""

from __future__ import annotations

import itertools
import math
import os
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, NamedTuple

from harness.core.errors import ConfigError
from harness.core.timescale import scaled
from harness.faults.base import AtomicFault, Detail, FaultTarget
from harness.faults.toxiproxy import Stream, check_toxic

_toxic_ids = itertools.count(1)


class Param(NamedTuple):
    """How a field maps to a toxic attribute: its name on the wire, its unit, whether it is a duration."""

    attribute: str
    unit: str
    duration: bool = True
    minimum: int = 0


@dataclass(repr=False)
class ToxicFault(AtomicFault):
    """A Toxiproxy toxic on one proxy ("edge", "api", "redis", ...), one direction, with a toxicity."""

    proxy: str
    stream: Stream = field(default="downstream", kw_only=True)
    toxicity: float = field(default=1.0, kw_only=True)
    params: ClassVar[dict[str, Param]]
    name: str = field(init=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.proxy, str) or not self.proxy:
            raise ConfigError(f"{type(self).__name__}.proxy={self.proxy!r} is invalid; name a proxy, e.g. 'api'")
        for f in fields(self):
            if f.name in self.params:
                _check_param(type(self).__name__, f.name, getattr(self, f.name), self.params[f.name])
        try:
            check_toxic(self.kind, self.stream, self.toxicity, {})
        except ConfigError as exc:
            raise ConfigError(f"{type(self).__name__}(proxy={self.proxy!r}): {exc}") from None
        self.name = f"harness_{self.kind}_{self.stream}_{os.getpid()}_{next(_toxic_ids)}"

    @property
    def where(self) -> str:
        return self.proxy

    def attributes(self, time_scale: float | None = None) -> dict[str, int]:
        """The attributes sent to Toxiproxy: durations scaled (a non-zero one never rounds down to 0)."""
        out = {}
        for key, param in self.params.items():
            value = float(getattr(self, key))
            if param.duration and value > 0:
                value = max(1.0, scaled(value, time_scale))
            out[param.attribute] = round(value)
        return out

    def _apply(self, target: FaultTarget) -> Detail:
        attrs = self.attributes(getattr(target, "time_scale", None))
        target.toxiproxy.add_toxic(
            self.proxy, self.kind, attrs, name=self.name, stream=self.stream, toxicity=self.toxicity
        )
        return (("toxic", self.name), ("stream", self.stream), ("toxicity", self.toxicity), *attrs.items())

    def _remove(self, target: FaultTarget) -> None:
        target.toxiproxy.remove_toxic(self.proxy, self.name, missing_ok=True)


def _check_param(owner: str, name: str, value: object, param: Param) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < param.minimum
    ):
        raise ConfigError(f"{owner}.{name}={value!r} is out of range; use a number of {param.unit} >= {param.minimum}")


_MS = "milliseconds"


@dataclass(repr=False)
class Latency(ToxicFault):
    """Delays data by `ms` ± `jitter`."""

    ms: float
    jitter: float = 0
    kind = "latency"
    params = {"ms": Param("latency", _MS), "jitter": Param("jitter", _MS)}


@dataclass(repr=False)
class Bandwidth(ToxicFault):
    """Caps throughput at `rate` KB/s."""

    rate: int
    kind = "bandwidth"
    params = {"rate": Param("rate", "KB/s", duration=False)}


@dataclass(repr=False)
class SlowClose(ToxicFault):
    """Delays the close of a connection by `ms`."""

    ms: float
    kind = "slow_close"
    params = {"ms": Param("delay", _MS)}


@dataclass(repr=False)
class Timeout(ToxicFault):
    """Swallows data; closes the connection after `ms` (0 = never: the peer hangs)."""

    ms: float = 0
    kind = "timeout"
    params = {"ms": Param("timeout", _MS)}


@dataclass(repr=False)
class ResetPeer(ToxicFault):
    """Resets connections (TCP RST) after `ms`."""

    ms: float = 0
    kind = "reset_peer"
    params = {"ms": Param("timeout", _MS)}


@dataclass(repr=False)
class Slicer(ToxicFault):
    """Slices data into small chunks, `delay_us` microseconds apart (exercises partial reads, SSE framing)."""

    average_size: int
    size_variation: int = 0
    delay_us: float = 0
    kind = "slicer"
    params = {
        "average_size": Param("average_size", "bytes", duration=False, minimum=1),
        "size_variation": Param("size_variation", "bytes", duration=False),
        "delay_us": Param("delay", "microseconds"),
    }


@dataclass(repr=False)
class LimitData(ToxicFault):
    """Closes the connection after `bytes` bytes."""

    bytes: int
    kind = "limit_data"
    params = {"bytes": Param("bytes", "bytes", duration=False)}


TOXICS: dict[str, type[ToxicFault]] = {
    cls.kind: cls for cls in (Latency, Bandwidth, SlowClose, Timeout, ResetPeer, Slicer, LimitData)
}


def toxic(proxy: str, toxic_type: str, **params: Any) -> ToxicFault:
    """A toxic fault by type name (e.g. from a schedule file): `toxic("api", "latency", ms=100)`."""
    cls = TOXICS.get(toxic_type)
    if cls is None:
        raise ConfigError(f"unknown toxic type {toxic_type!r}; use one of {sorted(TOXICS)}")
    allowed = [f.name for f in fields(cls) if f.init and f.name != "proxy"]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ConfigError(f"{cls.__name__} has no parameter {unknown[0]!r}; its parameters are {allowed}")
    return cls(proxy, **params)


@dataclass(repr=False)
class ProxyDown(AtomicFault):
    """The proxy stops listening and drops its connections (clients see ECONNREFUSED) until removed."""

    proxy: str
    kind: ClassVar[str] = "proxy_down"

    @property
    def where(self) -> str:
        return self.proxy

    def _apply(self, target: FaultTarget) -> Detail:
        target.toxiproxy.disable(self.proxy)
        return (("enabled", False),)

    def _remove(self, target: FaultTarget) -> None:
        target.toxiproxy.enable(self.proxy)
