"""The judge: recorded histories, the index over them, the six invariants, the verdict and its rendering.

params       CheckParams and the modelled defaults (deadline, idle timer, budget)
history      records, the JSONL writer (History) and reader (read_history), fault windows
index        Index: one pass over a merged history, what invariants and statistics look up
transitions  the contract's state machine: legal moves, their order (rank), violations
invariants   Anomaly, the Invariant protocol and INVARIANTS, the six of DESIGN.md in report order
stats        the observed facts whatever the verdict: job fates, proxy timeouts, latencies
verdict      check(): run the invariants, attribute fault windows, compute stats -> CheckResult
render       render_text / to_json
cli          `harness check` (register_cli, run_check)
checker      the old entry-point module, re-exporting check, CheckResult, CheckParams, render_text, register_cli
"""

from __future__ import annotations

from harness.judge.history import History, Record, fault_windows, read_history
from harness.judge.index import Index
from harness.judge.invariants import Anomaly
from harness.judge.params import CheckParams
from harness.judge.render import render_text
from harness.judge.stats import Stats
from harness.judge.verdict import CheckResult, check

__all__ = [
    "Anomaly",
    "CheckParams",
    "CheckResult",
    "History",
    "Index",
    "Record",
    "Stats",
    "check",
    "fault_windows",
    "read_history",
    "render_text",
]
