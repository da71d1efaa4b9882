"""From one recorded history to one row of the config matrix: a verdict per flow and the facts behind it.

A flow (poll, sse, download, legacy: the contract's, as in the proxy headers) fails when a proxy cut one of its
requests (502/504/524) or the checker found a request-level anomaly in it (over budget, an SSE gap at or past
the chain's idle timer, a broken stream, a bad checksum). Job-level anomalies (lost, duplicated, regressed jobs)
are the service's, not a flow's: they are counted beside the flows and make a config unsafe to ship.

Request latencies are what this machine measured (ms); gaps, timers and job lengths are modelled seconds
(the measured value divided by the time scale), so they compare with the timers in the proxy headers.

A history is analysed as a stream, in the checker's own pass (`analyse_files`: memory bounded by the checker's
summaries, not the history): per flow the counts, an HDR histogram of answer times, the largest SSE gap; the
plotted series are downsampled past a few thousand points with their extremes kept (`series`).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.contract import V1, ContractProfile
from harness.fronts.nginx import FLOWS, load_proxy_config
from harness.fronts.timers import TimeoutChain, chain_timers
from harness.judge import CheckParams
from harness.judge.facts import OUTCOMES, Facts
from harness.judge.histogram import Histogram
from harness.judge.history import PROXY_TIMEOUT_CODES, Record
from harness.judge.invariants import Anomaly
from harness.judge.reader import Entry, FileSource, MemorySource, OutOfOrder, RecordLike
from harness.judge.verdict import CheckResult, Source, judge
from harness.report import latency
from harness.report.series import Sample, Timeline

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
    def named(cls, config: str, time_scale: float, profile: ContractProfile = V1) -> Subject:
        """The front `config` as the service `profile` describes meets it (its routes pick the locations)."""
        proxy = load_proxy_config(config)
        chain = chain_timers(proxy, time_scale, profile)
        return cls(proxy.name, time_scale, proxy.description, chain, dict(proxy.expectations))

    def check_params(self) -> CheckParams:
        if self.chain is None:
            return CheckParams.for_scale(self.time_scale)
        return CheckParams.for_scale(self.time_scale, idle_timer_s=self.chain.on_clock(self.idle_timer("sse") or 60))

    def idle_timer(self, flow: str) -> float | None:
        return None if self.chain is None else self.chain.flow(flow).idle_timeout_s


def answer_s(rec: RecordLike) -> float:
    """A request's answer time on this clock; a stream's is its first event (else how long it was held)."""
    if rec.op == "stream" and rec.first_event_s is not None:
        return rec.first_event_s
    return rec.latency_s or 0.0


@dataclass
class FlowTally:
    """What one flow's requests showed: outcomes, proxy cuts by code, answer times, the largest SSE gap."""

    outcomes: Counter[str] = field(default_factory=Counter)
    cut: Counter[int] = field(default_factory=Counter)
    answers: Histogram = field(default_factory=Histogram)
    max_gap_s: float | None = None

    @property
    def requests(self) -> int:
        return sum(self.outcomes.values())


class Analysis:
    """The report's pass over a history, beside the checker's: per flow tallies, the series, the fault windows."""

    def __init__(self, subject: Subject) -> None:
        self.subject = subject
        self.flows = {flow: FlowTally() for flow in FLOWS}
        self.t0, self.t1 = float("inf"), float("-inf")
        self.timeline, self.gaps = Timeline(), Sample()
        self.windows: dict[tuple[Any, Any], Any] = {}

    def feed(self, block: list[Entry]) -> None:
        for wall, _, rec in block:
            if wall > self.t1:
                self.t1 = wall
            kind = rec.type
            if kind == "fault":
                key = (rec.fault, rec.start_mono)
                if key not in self.windows or rec.end_mono is not None:
                    self.windows[key] = rec
                continue
            took = rec.latency_s
            sent = wall - took if took else wall
            if sent < self.t0:
                self.t0 = sent
            if kind in OUTCOMES and rec.op in OP_FLOW:
                self._request(sent, rec)

    def _request(self, sent: float, rec: RecordLike) -> None:
        flow = OP_FLOW[rec.op]
        tally = self.flows[flow]
        tally.outcomes[rec.type] += 1
        code = CUT if rec.http_status in PROXY_TIMEOUT_CODES else (OK if rec.type == "ok" else FAILED)
        if code == CUT:
            tally.cut[rec.http_status] += 1  # type: ignore[index]
        answer = answer_s(rec)
        tally.answers.record(answer)
        if flow == "sse":
            gap = rec.max_gap_s or 0.0
            tally.max_gap_s = gap if tally.max_gap_s is None else max(tally.max_gap_s, gap)
            self.gaps.add(round(gap / self.subject.time_scale, 3))
        self.timeline.add(sent, answer * 1000, flow, code)

    def results(self, result: CheckResult) -> dict[str, Any]:
        subject = self.subject
        t0 = 0.0 if self.t0 == float("inf") else self.t0
        t1 = t0 if self.t1 == float("-inf") else self.t1
        flows = {flow: _flow(flow, self.flows[flow], result.anomalies, subject) for flow in FLOWS}
        job_level = Counter(a.kind for a in result.anomalies if a.kind not in REQUEST_KINDS)
        sse_idle, max_gap = subject.idle_timer("sse"), flows["sse"]["max_gap_s"]
        windows = sorted(self.windows.values(), key=lambda w: w.start_wall or w.wall)
        return {
            "name": subject.name,
            "description": subject.description,
            "time_scale": subject.time_scale,
            "records": result.stats.records,
            "wall_s": round(t1 - t0, 3),
            "valid": result.valid,
            "verdict": result.verdict,
            "inconclusive": list(result.inconclusive),
            "jobs": dict(result.stats.jobs),
            "job_anomalies": dict(job_level),
            "anomalies": dict(Counter(a.kind for a in result.anomalies)),
            "examples": [_example(a) for a in result.anomalies[:8]],
            "safe": _safe(flows, job_level) and not result.inconclusive,
            "headroom": round(sse_idle / max_gap, 2) if sse_idle and max_gap else None,
            "flows": flows,
            "faults": [_window(w, t0, t1) for w in windows],
            "timeline": self.timeline.rows(t0),
            "sse_gaps_s": self.gaps.values(),
        }


class _Tapped:
    """A source whose first pass also feeds the analysis (a replay for the checker's second pass does not)."""

    def __init__(self, source: Source, analysis: Analysis) -> None:
        self.source, self.analysis = source, analysis

    def blocks(self, facts: Facts | None = None) -> Iterator[list[Entry]]:
        for block in self.source.blocks(facts):
            if facts is not None:
                self.analysis.feed(block)
            yield block

    def resolve(self, refs: Collection[int]) -> dict[int, Record]:
        return self.source.resolve(refs)


def analyse(records: Sequence[Record], subject: Subject) -> dict[str, Any]:
    """One config's results from records in memory: flows, jobs, anomalies, faults and the samples the plots need."""
    return analyse_source(MemorySource(records), subject)


def analyse_files(paths: Iterable[str | os.PathLike[str]], subject: Subject) -> dict[str, Any]:
    """One config's results from its history files, read as a stream (see the module's docstring)."""
    paths = list(paths)
    try:
        return analyse_source(FileSource(paths), subject)
    except OutOfOrder:
        return analyse_source(FileSource(paths, exact=True), subject)


def analyse_source(source: Source, subject: Subject) -> dict[str, Any]:
    analysis = Analysis(subject)
    result = judge(_Tapped(source, analysis), subject.check_params())
    return analysis.results(result)


def _flow(flow: str, tally: FlowTally, anomalies: Sequence[Anomaly], subject: Subject) -> dict[str, Any]:
    ops = set(FLOW_OPS[flow])
    mine = [a for a in anomalies if a.kind in REQUEST_KINDS and any(e.op in ops for e in a.evidence)]
    if flow == "legacy":
        mine = []  # the legacy flow is judged by its proxy timeouts alone: it is the negative control
    verdict = "n/a" if not tally.requests else ("fail" if tally.cut or mine else "pass")
    expected = None if subject.expectations is None else subject.expectations.get(flow)
    predicted = None if subject.chain is None else subject.chain.predicted_verdicts()[flow]
    answers = latency.from_buckets(tally.answers)
    return {
        "verdict": verdict,
        "expected": expected,
        "predicted": predicted,
        "matches": None if expected is None or verdict == "n/a" else verdict == expected,
        "requests": tally.requests,
        "ok": tally.outcomes["ok"],
        "failed": tally.outcomes["fail"],
        "indeterminate": tally.outcomes["info"],
        "proxy_timeouts": sum(tally.cut.values()),
        "proxy_codes": dict(sorted((str(code), n) for code, n in tally.cut.items())),
        "anomalies": dict(Counter(a.kind for a in mine)),
        "why": _why(flow, tally.cut, mine, verdict),
        "idle_timer_s": subject.idle_timer(flow),
        "max_gap_s": None if tally.max_gap_s is None else round(tally.max_gap_s / subject.time_scale, 3),
        **latency.summary(answers),
        "curve": latency.curve(answers),
    }


def _why(flow: str, cut: Counter[int], mine: list[Anomaly], verdict: str) -> str:
    if verdict == "n/a":
        return f"no {flow} request in this run"
    reasons = [f"{n} x {code}" for code, n in sorted(cut.items())]
    reasons += [f"{n} x {kind}" for kind, n in sorted(Counter(a.kind for a in mine).items())]
    return ", ".join(reasons) if reasons else "clean"


def _safe(flows: Mapping[str, Mapping[str, Any]], job_level: Counter[str]) -> bool:
    verdicts = [flows[f]["verdict"] for f in ASYNC_FLOWS]
    return "fail" not in verdicts and "pass" in verdicts and not job_level


def _example(a: Anomaly) -> dict[str, Any]:
    return {"kind": a.kind, "job_id": a.job_id, "message": a.message, "during": list(a.during)}


def _window(w: Any, t0: float, t1: float) -> dict[str, Any]:
    start = (w.start_wall or w.wall) - t0
    end = (w.end_wall if w.end_wall is not None else t1) - t0
    return {
        "fault": w.fault or "?",
        "kind": w.kind,
        "target": w.target,
        "start_s": round(start, 3),
        "end_s": round(end, 3),
    }
