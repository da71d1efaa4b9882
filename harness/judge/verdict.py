"""The verdict over a merged history: run every invariant, name the faults around each anomaly, add the facts.

`check` judges records (as `read_history` returns them); `check_files` reads and judges history files.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from harness.judge.history import Record, fault_windows, read_history
from harness.judge.index import Index
from harness.judge.invariants import INVARIANTS, Anomaly
from harness.judge.params import CheckParams
from harness.judge.stats import Stats, compute_stats


@dataclass(frozen=True)
class CheckResult:
    """The verdict: valid when no anomaly; `stats` carry the observed facts whatever the verdict."""

    valid: bool
    anomalies: tuple[Anomaly, ...]
    stats: Stats
    params: CheckParams = field(default_factory=CheckParams)


def check(records: Sequence[Record], params: CheckParams) -> CheckResult:
    """Judge a merged history (as `read_history` returns it); anomalies come invariant by invariant."""
    ix = Index.build(records)
    windows = fault_windows(records)
    found = [anomaly for invariant in INVARIANTS for anomaly in invariant(ix, params)]
    anomalies = tuple(attribute(a, windows) for a in found)
    stats = compute_stats(ix, params, records=len(records), faults=len(windows))
    return CheckResult(not anomalies, anomalies, stats, params)


def check_files(paths: Iterable[str | os.PathLike[str]], params: CheckParams) -> CheckResult:
    return check(read_history(paths), params)


def attribute(anomaly: Anomaly, windows: list[Record]) -> Anomaly:
    """Name the faults in force while the evidence was gathered (open windows run to the end)."""
    start = min(r.invoke_wall for r in anomaly.evidence) if anomaly.evidence else 0.0
    end = max((r.wall for r in anomaly.evidence), default=float("inf"))
    during = tuple(
        w.fault or "?"
        for w in windows
        if (w.start_wall or w.wall) <= end and (w.end_wall is None or w.end_wall >= start)
    )
    return Anomaly(anomaly.kind, anomaly.job_id, anomaly.message, anomaly.evidence, during)
