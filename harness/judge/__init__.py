"""The judge: recorded histories, the index over them, the six invariants, the verdict and its rendering.

params       CheckParams and the modelled defaults (deadline, idle timer, budget)
history      records, the JSONL writer (History) and reader (read_history: records in memory), fault windows
lines        a history file's lines, plain or zstd, numbered as read_history numbers them
reader       the stream the checker reads: light records in merged order, lines read back by ref for evidence
facts        what is counted whatever the order: records, outcomes, latency histograms per file and op
histogram    latency histograms with HdrHistogram's buckets (3 significant digits), mergeable, no extra needed
index        Index: one streaming pass, a bounded summary per job, follower and clientRequestId
sweep        invariant 2 in real time, one observation at a time (and exactly, again, for a tangled job)
transitions  the contract's state machine: legal moves, their order (rank), violations
invariants   Anomaly, Finding, the Invariant protocol and INVARIANTS, the six of DESIGN.md in report order
stats        the observed facts whatever the verdict: job fates, proxy timeouts, latencies
verdict      check() / check_files(): run the invariants, read the evidence back, attribute fault windows
render       render_text / to_json
"""

from __future__ import annotations

from harness.judge.history import History, Record, fault_windows, read_history
from harness.judge.index import Index
from harness.judge.invariants import Anomaly
from harness.judge.params import CheckParams
from harness.judge.render import render_text
from harness.judge.stats import Stats
from harness.judge.verdict import CheckResult, check, check_files

__all__ = [
    "Anomaly",
    "CheckParams",
    "CheckResult",
    "History",
    "Index",
    "Record",
    "Stats",
    "check",
    "check_files",
    "fault_windows",
    "read_history",
    "render_text",
]
