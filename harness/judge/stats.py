"""The observed facts of a history, whatever the verdict: job fates, proxy timeouts, indeterminate answers, latency.

Computed from the index apart from detection; where a fact and an invariant rest on the same reading
(a job's fate, the request/job pairings) both call the helper in `invariants`. Latency percentiles come from
histograms (`histogram`: 3 significant digits, never below the exact value), one per history file and op,
merged per op.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from harness.judge.facts import Facts
from harness.judge.histogram import Histogram, merged
from harness.judge.index import Index
from harness.judge.invariants import duplicated, job_fate
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


def compute_stats(ix: Index, facts: Facts, params: CheckParams, *, faults: int) -> Stats:
    """The facts of an indexed history with `faults` fault windows."""
    proxy = {flow: dict(sorted(codes.items())) for flow, codes in facts.proxy_codes.items()}
    return Stats(facts.records, job_counts(ix, params), proxy, facts.indeterminate(), latencies(facts), faults)


def job_counts(ix: Index, params: CheckParams) -> dict[str, int]:
    """Acknowledged jobs by fate (every fate named, zero or not), then acknowledged and duplicated counts."""
    fates = (job_fate(ix, job_id, params)[0] for job_id in ix.acks)
    jobs = dict.fromkeys(JOB_FATES, 0) | Counter(fates)
    jobs["acknowledged"] = len(ix.acks)
    jobs["duplicated"] = duplicated(ix)
    return jobs


def per_op(facts: Facts) -> dict[str, Histogram]:
    """Latency histograms per operation, merged over the history files, in name order."""
    ops = sorted({op for per_file in facts.latency.values() for op in per_file})
    return {op: merged(per_file[op] for per_file in facts.latency.values() if op in per_file) for op in ops}


def latencies(facts: Facts) -> dict[str, LatencySummary]:
    """Per operation, in name order: counts by outcome and latency percentiles."""
    out: dict[str, LatencySummary] = {}
    for op, hist in per_op(facts).items():
        counts = facts.outcomes[op]
        p50, p95, p99 = hist.percentiles((0.5, 0.95, 0.99))
        out[op] = LatencySummary(hist.n, counts["ok"], counts["fail"], counts["info"], p50, p95, p99, hist.max)
    return out
