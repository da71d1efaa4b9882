"""From one recorded history to one row of the config matrix: a verdict per flow and the facts behind it.

A flow (poll, sse, download, legacy: the contract's, as in the proxy headers) fails when a proxy cut one of its
requests (502/504/524) or the checker found a request-level anomaly in it (over budget, an SSE gap at or past
the chain's idle timer, a broken stream, a bad checksum). Job-level anomalies (lost, duplicated, regressed jobs)
are the service's, not a flow's: they are counted beside the flows and make a config unsafe to ship.

Request latencies are what this machine measured (ms); gaps, timers and job lengths are modelled seconds
(the measured value divided by the time scale), so they compare with the timers in the proxy headers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.fronts.nginx import FLOWS, load_proxy_config
from harness.fronts.timers import TimeoutChain, chain_timers
from harness.judge import CheckParams, check
from harness.judge.history import PROXY_TIMEOUT_CODES, Record, fault_windows
from harness.judge.invariants import Anomaly
from harness.report import latency

FLOW_OPS: Mapping[str, tuple[str, ...]] = {
    "poll": ("initiate", "status", "cancel"),
    "sse": ("stream",),
    "download": ("download", "artifact"),
    "legacy": ("legacy_start",),
}
OP_FLOW = {op: flow for flow, ops in FLOW_OPS.items() for op in ops}
ASYNC_FLOWS = ("poll", "sse", "download")
REQUEST_KINDS = frozenset(
    {"proxy_timeout", "legacy_proxy_timeout", "over_budget", "sse_gap", "sse_terminal_count", "sse_id_order"}
    | {"checksum_mismatch"}
)
SAMPLE_CAP = 4000  # points per config kept for the timeline and the gap histogram
OK, FAILED, CUT = 0, 1, 2  # timeline point codes: answered, failed or indeterminate, cut by a proxy


@dataclass(frozen=True)
class Subject:
    """What a history was recorded against: a config name, the time scale, and for a named front its timers and
    its header's expectations (None for a run whose front is unknown, e.g. a Locust run against --host)."""

    name: str
    time_scale: float
    description: str = ""
    chain: TimeoutChain | None = None
    expectations: Mapping[str, str] | None = field(default=None, hash=False)

    @classmethod
    def named(cls, config: str, time_scale: float) -> Subject:
        proxy = load_proxy_config(config)
        chain = chain_timers(proxy, time_scale)
        return cls(proxy.name, time_scale, proxy.description, chain, dict(proxy.expectations))

    def check_params(self) -> CheckParams:
        if self.chain is None:
            return CheckParams.for_scale(self.time_scale)
        return CheckParams.for_scale(self.time_scale, idle_timer_s=self.chain.on_clock(self.idle_timer("sse") or 60))

    def idle_timer(self, flow: str) -> float | None:
        return None if self.chain is None else self.chain.flow(flow).idle_timeout_s


def answer_s(rec: Record) -> float:
    """A request's answer time on this clock; a stream's is its first event (else how long it was held)."""
    if rec.op == "stream" and rec.first_event_s is not None:
        return rec.first_event_s
    return rec.latency_s or 0.0


def analyse(records: Sequence[Record], subject: Subject) -> dict[str, Any]:
    """One config's results: flows, jobs, anomalies, faults and the samples the plots need."""
    result = check(records, subject.check_params())
    done = [r for r in records if r.type in ("ok", "fail", "info") and r.op in OP_FLOW]
    t0 = min((r.invoke_wall for r in records if r.type != "fault"), default=0.0)
    t1 = max((r.wall for r in records), default=t0)
    by_flow = {flow: [r for r in done if OP_FLOW[r.op] == flow] for flow in FLOWS}
    flows = {flow: _flow(flow, by_flow[flow], result.anomalies, subject) for flow in FLOWS}
    job_level = Counter(a.kind for a in result.anomalies if a.kind not in REQUEST_KINDS)
    gaps = [round((r.max_gap_s or 0.0) / subject.time_scale, 3) for r in by_flow["sse"]]
    sse_idle, max_gap = subject.idle_timer("sse"), flows["sse"]["max_gap_s"]
    return {
        "name": subject.name,
        "description": subject.description,
        "time_scale": subject.time_scale,
        "records": len(records),
        "wall_s": round(t1 - t0, 3),
        "valid": result.valid,
        "jobs": dict(result.stats.jobs),
        "job_anomalies": dict(job_level),
        "anomalies": dict(Counter(a.kind for a in result.anomalies)),
        "examples": [_example(a) for a in result.anomalies[:8]],
        "safe": _safe(flows, job_level),
        "headroom": round(sse_idle / max_gap, 2) if sse_idle and max_gap else None,
        "flows": flows,
        "faults": [_window(w, t0, t1) for w in fault_windows(records)],
        "timeline": _sample([_point(r, t0) for r in done], lambda p: p[3] != OK),
        "sse_gaps_s": _sample(gaps, lambda g: False),
    }


def _flow(flow: str, recs: list[Record], anomalies: Sequence[Anomaly], subject: Subject) -> dict[str, Any]:
    cut = [r for r in recs if r.http_status in PROXY_TIMEOUT_CODES]
    ops = set(FLOW_OPS[flow])
    mine = [a for a in anomalies if a.kind in REQUEST_KINDS and any(e.op in ops for e in a.evidence)]
    if flow == "legacy":
        mine = []  # the legacy flow is judged by its proxy timeouts alone: it is the negative control
    outcomes = Counter(r.type for r in recs)
    verdict = "n/a" if not recs else ("fail" if cut or mine else "pass")
    expected = None if subject.expectations is None else subject.expectations.get(flow)
    predicted = None if subject.chain is None else subject.chain.predicted_verdicts()[flow]
    gap = max((r.max_gap_s or 0.0 for r in recs), default=None) if flow == "sse" else None
    values = [answer_s(r) for r in recs]
    return {
        "verdict": verdict,
        "expected": expected,
        "predicted": predicted,
        "matches": None if expected is None or verdict == "n/a" else verdict == expected,
        "requests": len(recs),
        "ok": outcomes["ok"],
        "failed": outcomes["fail"],
        "indeterminate": outcomes["info"],
        "proxy_timeouts": len(cut),
        "proxy_codes": dict(sorted(Counter(str(r.http_status) for r in cut).items())),
        "anomalies": dict(Counter(a.kind for a in mine)),
        "why": _why(flow, cut, mine, verdict),
        "idle_timer_s": subject.idle_timer(flow),
        "max_gap_s": None if gap is None else round(gap / subject.time_scale, 3),
        **latency.summary(values),
        "curve": latency.curve(values),
    }


def _why(flow: str, cut: list[Record], mine: list[Anomaly], verdict: str) -> str:
    if verdict == "n/a":
        return f"no {flow} request in this run"
    reasons = [f"{n} x {code}" for code, n in sorted(Counter(r.http_status for r in cut).items())]
    reasons += [f"{n} x {kind}" for kind, n in sorted(Counter(a.kind for a in mine).items())]
    return ", ".join(reasons) if reasons else "clean"


def _safe(flows: Mapping[str, Mapping[str, Any]], job_level: Counter[str]) -> bool:
    verdicts = [flows[f]["verdict"] for f in ASYNC_FLOWS]
    return "fail" not in verdicts and "pass" in verdicts and not job_level


def _example(a: Anomaly) -> dict[str, Any]:
    return {"kind": a.kind, "job_id": a.job_id, "message": a.message, "during": list(a.during)}


def _window(w: Record, t0: float, t1: float) -> dict[str, Any]:
    start = (w.start_wall or w.wall) - t0
    end = (w.end_wall if w.end_wall is not None else t1) - t0
    return {
        "fault": w.fault or "?",
        "kind": w.kind,
        "target": w.target,
        "start_s": round(start, 3),
        "end_s": round(end, 3),
    }


def _point(rec: Record, t0: float) -> list[Any]:
    code = CUT if rec.http_status in PROXY_TIMEOUT_CODES else (OK if rec.type == "ok" else FAILED)
    return [round(rec.invoke_wall - t0, 3), round(answer_s(rec) * 1000, 3), OP_FLOW[rec.op], code]


def _sample(items: list[Any], keep: Any) -> list[Any]:
    """At most SAMPLE_CAP items: every k-th one, and every one `keep` wants (failures stay visible)."""
    if len(items) <= SAMPLE_CAP:
        return items
    step = -(-len(items) // SAMPLE_CAP)
    return [x for i, x in enumerate(items) if i % step == 0 or keep(x)]
