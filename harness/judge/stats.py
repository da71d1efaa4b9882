"""The observed facts of a history, whatever the verdict: job fates, proxy timeouts, indeterminate answers, latency.

Computed from the index apart from detection; where a fact and an invariant rest on the same reading
(a job's fate, a request's flow, the request/job pairings) both call the helper in `invariants`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from harness.judge.history import PROXY_TIMEOUT_CODES, Record
from harness.judge.index import Index
from harness.judge.invariants import flow_of, job_fate, pairings
from harness.judge.params import CheckParams

JOB_FATES = ("completed", "failed", "cancelled", "expired", "late", "lost", "pending", "unobserved")  # see job_fate


@dataclass(frozen=True)
class LatencySummary:
    """Latency of one kind of operation (seconds), over every completion whatever its outcome."""

    n: int
    ok: int
    fail: int
    info: int
    p50: float
    p95: float
    p99: float
    max: float


@dataclass(frozen=True)
class Stats:
    records: int
    jobs: dict[str, int]
    proxy_timeouts: dict[str, dict[int, int]]
    indeterminate: dict[str, int]
    latency: dict[str, LatencySummary]
    faults: int = 0


def compute_stats(ix: Index, params: CheckParams, *, records: int, faults: int) -> Stats:
    """The facts of an indexed history of `records` lines with `faults` fault windows."""
    info = Counter(r.op for r in ix.completions if r.type == "info")
    return Stats(records, job_counts(ix, params), proxy_timeouts(ix), dict(info), latencies(ix.completions), faults)


def job_counts(ix: Index, params: CheckParams) -> dict[str, int]:
    """Acknowledged jobs by fate (every fate named, zero or not), then acknowledged and duplicated counts."""
    fates = (job_fate(ix, job_id, ack, params.deadline_s)[0] for job_id, ack in ix.acks.items())
    jobs = dict.fromkeys(JOB_FATES, 0) | Counter(fates)
    jobs["acknowledged"] = len(ix.acks)
    jobs["duplicated"] = sum(1 for by_job in pairings(ix)[0].values() if len(by_job) > 1)
    return jobs


def proxy_timeouts(ix: Index) -> dict[str, dict[int, int]]:
    """Proxy timeout answers per flow and code: anomalies in the async flow, expected facts on the legacy one."""
    codes: dict[str, dict[int, int]] = {"async": defaultdict(int), "legacy": defaultdict(int)}
    for rec in ix.completions:
        if rec.http_status in PROXY_TIMEOUT_CODES:
            codes[flow_of(rec)][rec.http_status] += 1
    return {flow: dict(sorted(c.items())) for flow, c in codes.items()}


def latencies(completions: list[Record]) -> dict[str, LatencySummary]:
    """Per operation, in name order: counts by outcome and latency percentiles."""
    by_op: dict[str, list[Record]] = {}
    for rec in completions:
        by_op.setdefault(rec.op, []).append(rec)
    out: dict[str, LatencySummary] = {}
    for op, recs in sorted(by_op.items()):
        values = sorted(r.latency_s or 0.0 for r in recs)
        kinds = Counter(r.type for r in recs)

        def pct(q: float, v: list[float] = values) -> float:
            return v[min(len(v) - 1, int(q * len(v)))]

        out[op] = LatencySummary(
            len(values), kinds["ok"], kinds["fail"], kinds["info"], pct(0.5), pct(0.95), pct(0.99), values[-1]
        )
    return out
