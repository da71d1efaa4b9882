"""Where each config starts to fail, measured by bisection in scaled time, beside the limit its timers predict.

legacy: the job length (simulate durationMs) from which the synchronous start is cut by a proxy;
sse:    the heartbeat interval (REFERENCE_HEARTBEAT_S) from which a stream carrying nothing else is cut or held.

A search brackets the boundary first: it probes 0.9 x the prediction (harness.fronts.timers), then moves the
other way (1.1 x, then doubling) until one value passes and one fails, within the flow's absolute range; a
prediction of 0 (a buffering front) starts at the range's low end. It then bisects the bracket (geometric
midpoints) until its ends are within `tolerance` of each other, or the probe budget is spent. Probes are
measurements: the prediction only chooses where to look first.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from harness.compare.probes import LegacyProbe, Probe, ProbeSettings, sse_probe
from harness.fronts.nginx import load_proxy_config
from harness.fronts.timers import TimeoutChain, chain_timers
from harness.stack.config import Backend
from harness.stack.service import load_service

LIMITS: Mapping[str, tuple[float, float]] = {"legacy": (2.0, 600.0), "sse": (1.0, 600.0)}  # modelled s, per flow


@dataclass(frozen=True)
class SearchSpec:
    """How hard to look: relative bracket width to stop at, probe budget, agreement wanted, where to run."""

    time_scale: float = 0.05
    tolerance: float = 0.03
    max_probes: int = 10
    agreement: float = 0.10
    backend: Backend = "local"
    service: str = "reference"  # the implementation probed: a shipped spec's name or a spec file


@dataclass
class _Search:
    probe: Probe
    lo_abs: float
    hi_abs: float
    budget: int
    trials: list[list[Any]]
    lower: float | None = None
    upper: float | None = None

    def run(self, value: float) -> None:
        value = round(min(self.hi_abs, max(self.lo_abs, value)), 2)
        passed, detail = self.probe(value)
        self.trials.append([value, "pass" if passed else "fail", detail])
        if passed:
            self.lower = max(self.lower or value, value)
        else:
            self.upper = min(self.upper or value, value)

    @property
    def spent(self) -> bool:
        return len(self.trials) >= self.budget


def bisect(probe: Probe, predicted: float, limits: tuple[float, float], spec: SearchSpec) -> dict[str, Any]:
    """Bracket, then bisect; returns lower (largest pass), upper (smallest fail), relation and the trials."""
    lo_abs, hi_abs = limits
    s = _Search(probe, lo_abs, hi_abs, spec.max_probes, [])
    s.run(0.9 * predicted if lo_abs < predicted < hi_abs else (lo_abs if predicted <= lo_abs else hi_abs))
    factor = 1.1 / 0.9
    while (s.lower is None or s.upper is None) and not s.spent:
        if s.upper is None and s.lower is not None and s.lower < hi_abs:
            s.run(s.lower * factor)
        elif s.lower is None and s.upper is not None and s.upper > lo_abs:
            s.run(s.upper / factor)
        else:
            break
        factor = 2.0
    while s.lower is not None and s.upper is not None and s.upper / s.lower > 1 + spec.tolerance and not s.spent:
        s.run(math.sqrt(s.lower * s.upper))
    relation = "between" if s.lower is not None and s.upper is not None else ("above" if s.upper is None else "below")
    measured = round((s.lower + s.upper) / 2, 2) if s.lower is not None and s.upper is not None else None
    return {"lower_s": s.lower, "upper_s": s.upper, "relation": relation, "measured_s": measured, "probes": s.trials}


def agreement(found: Mapping[str, Any], predicted: float, hi_abs: float, within: float) -> tuple[bool, float | None]:
    """(agrees, difference in % of the prediction): within `within`, or both saying 'always' / 'never'."""
    if found["relation"] == "below":
        return predicted <= (found["upper_s"] or 0.0), None
    if found["relation"] == "above":
        return predicted >= hi_abs, None
    delta = (found["measured_s"] - predicted) / predicted * 100 if predicted > 0 else None
    inside = found["lower_s"] <= predicted <= found["upper_s"]
    return inside or (delta is not None and abs(delta) <= within * 100), None if delta is None else round(delta, 1)


def _note(flow: str, found: Mapping[str, Any], chain: TimeoutChain, overhead_s: float) -> str:
    timers = chain.flow(flow)
    if flow == "sse" and timers.buffered:
        return "the front holds the stream (X-Accel-Buffering ignored, gzip): no heartbeat gets through at any interval"
    where = f"set by {timers.limited_by}"
    if flow == "sse":
        return f"the read timer ({where}) cuts a stream whose heartbeat is longer; they differ by timer jitter only"
    return (
        f"the proxy's read timer ({where}) sees the job plus the service's own share of the request (up to "
        f"{overhead_s:.1f} s modelled on this machine: queue pickup, the worker's progress writes, artifact, wake-up; "
        "real milliseconds that the time scale magnifies), so jobs are cut that much shorter than the timer"
    )


def _told(probe: Probe, say: Callable[[str], None] | None, label: str) -> Probe:
    """The probe, saying each value it tried and what it saw."""
    if say is None:
        return probe

    def told(value: float) -> tuple[bool, str]:
        passed, detail = probe(value)
        say(f"{label} {value:g} s: {'pass' if passed else 'fail'} ({detail})")
        return passed, detail

    return told


def search_one(config: str, flow: str, spec: SearchSpec, say: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The boundary of one flow behind one config, with its prediction, agreement and why they differ."""
    proxy = load_proxy_config(config)
    chain = chain_timers(proxy, spec.time_scale, load_service(spec.service).contract())
    limits = LIMITS[flow]
    settings = ProbeSettings(config, spec.time_scale, spec.backend, spec.service)
    started = time.monotonic()
    overhead = 0.0
    if flow == "legacy":
        predicted = chain.predicted_legacy_limit()
        with LegacyProbe(settings) as legacy:
            found = bisect(_told(legacy, say, f"{config}: legacy job of"), predicted, limits, spec)
            overhead = legacy.overhead_s
    else:
        predicted = chain.predicted_sse_heartbeat_limit()
        found = bisect(_told(sse_probe(settings), say, f"{config}: heartbeat every"), predicted, limits, spec)
    agrees, delta = agreement(found, predicted, limits[1], spec.agreement)
    with_overhead = None if found["measured_s"] is None else found["measured_s"] + overhead
    explained = (
        not agrees and with_overhead is not None and abs(with_overhead - predicted) <= spec.agreement * predicted
    )
    return {
        "config": proxy.name,
        "flow": flow,
        **found,
        "predicted_s": predicted,
        "delta_pct": delta,
        "agrees": agrees,
        "explained": explained,
        "overhead_s": round(overhead, 2),
        "note": _note(flow, found, chain, overhead),
        "wall_s": round(time.monotonic() - started, 1),
    }


def search_all(
    configs: list[str], flows: list[str], spec: SearchSpec, say: Callable[[str], None], parallel: int = 1
) -> list[dict[str, Any]]:
    """Every (config, flow) boundary; configs run side by side when `parallel` > 1 (flows of one config in turn)."""

    def per_config(config: str) -> list[dict[str, Any]]:
        out = []
        for flow in flows:
            say(f"{config}: searching the {flow} boundary")
            found = search_one(config, flow, spec, say)
            say(f"{config}: {flow} {boundary_line(found)} [{found['wall_s']:.1f} s, {len(found['probes'])} probes]")
            out.append(found)
        return out

    with ThreadPoolExecutor(max(1, parallel), thread_name_prefix="boundary") as pool:
        return [b for part in pool.map(per_config, configs) for b in part]


def boundary_line(b: Mapping[str, Any]) -> str:
    """'breaks at 59.0 s (58.2-59.7), predicted 60 s: -1.7 %, agrees'."""
    if b["relation"] == "below":
        found = f"fails from the lowest value tried ({b['upper_s']:g} s)"
    elif b["relation"] == "above":
        found = f"never failed up to {b['lower_s']:g} s"
    else:
        found = f"breaks at {b['measured_s']:.1f} s ({b['lower_s']:.1f}-{b['upper_s']:.1f})"
    delta = f": {b['delta_pct']:+.1f} %" if b["delta_pct"] is not None else ""
    verdict = "agrees" if b["agrees"] else ("differs by the service's own share" if b["explained"] else "DIFFERS")
    return f"{found}, predicted {b['predicted_s']:g} s{delta}, {verdict}"
