"""Job-level metrics in Locust's own stats (so they show in the web UI, --csv and --html), and the reverse:
Locust's aggregated stats as the source thresholds are judged on.

Every client operation reaches Locust through one door, `MetricsRecorder.complete`, which also writes it to
the run's history; so the per-request rows and the history agree by construction, whatever HTTP engine
carried the request. Rows (request_type, name):

  POST initiate | GET status | GET stream | GET download | GET artifact | POST cancel | POST legacy_start
  JOB e2e          initiate sent -> finished state seen (ms)       JOB download   302 + artifact + checksum
  JOB resume       a returning client got its job back             SSE first_event / SSE max_gap (ms)
  SSE reconnects   per followed stream; the "ms" columns hold a count of reconnections
  PROXY_TIMEOUT    "<op> <code>": 502/504/524 answers, kept out of their op's row and out of other failures
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Unpack

from harness.judge.history import ASYNC_OPS, PROXY_TIMEOUT_CODES, Invocation, Observed, OpKind, Outcome, Recorder
from harness.locust.thresholds import Sample

if TYPE_CHECKING:
    from locust.event import EventHook
    from locust.stats import RequestStats, StatsEntry

OP_METHODS = {
    "initiate": "POST",
    "status": "GET",
    "stream": "GET",
    "download": "GET",
    "artifact": "GET",
    "cancel": "POST",
    "legacy_start": "POST",
}
PROXY_TIMEOUT = "PROXY_TIMEOUT"
# Threshold metric -> the (request_type, name) row it reads.
ROWS: dict[str, tuple[str, str]] = {
    "job_e2e": ("JOB", "e2e"),
    "job_download": ("JOB", "download"),
    "job_resume": ("JOB", "resume"),
    "sse_first_event": ("SSE", "first_event"),
    "sse_max_gap": ("SSE", "max_gap"),
    "sse_reconnects": ("SSE", "reconnects"),
    **{op: (method, op) for op, method in OP_METHODS.items()},
}
DELIBERATE = frozenset({"client_disconnect"})  # an `info` the client caused on purpose is not a failure


class OperationError(Exception):
    """What Locust's failure table shows for an operation that did not succeed."""


def fire(event: EventHook, kind: str, name: str, ms: float, error: str | None = None, length: int = 0) -> None:
    hook: Any = event  # Locust's EventHook is untyped
    hook.fire(
        request_type=kind,
        name=name,
        response_time=ms,
        response_length=length,
        exception=None if error is None else OperationError(error),
        context={},
    )


def report_operation(event: EventHook, op: str, outcome: Outcome, latency_s: float, seen: Observed) -> None:
    """One completed operation as one Locust request; a proxy timeout goes to its own PROXY_TIMEOUT row."""
    code, error = seen.get("http_status"), seen.get("error")
    if code in PROXY_TIMEOUT_CODES:
        fire(event, PROXY_TIMEOUT, f"{op} {code}", latency_s * 1000, f"proxy timeout {code}")
        return
    failed = outcome == "fail" or (outcome == "info" and error not in DELIBERATE)
    why = f"{'indeterminate' if outcome == 'info' else 'failed'}: {error or f'http_{code}'}" if failed else None
    fire(event, OP_METHODS.get(op, "OP"), op, latency_s * 1000, why, seen.get("size", 0))


class MetricsRecorder:
    """A `Recorder` that writes to a history and reports each completion to Locust's request event."""

    def __init__(self, history: Recorder, event: EventHook) -> None:
        self._history, self._event = history, event

    def invoke(self, op: OpKind, process: str, **seen: Unpack[Observed]) -> Invocation:
        return self._history.invoke(op, process, **seen)

    def complete(self, inv: Invocation, outcome: Outcome, **seen: Unpack[Observed]) -> float:
        latency = self._history.complete(inv, outcome, **seen)
        report_operation(self._event, inv.op, outcome, latency, seen)
        return latency

    def event(self, inv: Invocation, **seen: Unpack[Observed]) -> None:
        self._history.event(inv, **seen)


class StatsSource:
    """Thresholds' view of Locust's stats (the master's aggregate when distributed) and the checker's counts."""

    def __init__(self, stats: RequestStats, verdict_counts: dict[str, float] | None) -> None:
        self._stats, self._counts = stats, verdict_counts

    def samples(self, metric: str) -> Sample | None:
        if metric == "requests":
            return _sample(self._stats.total)
        if metric in ("proxy_timeouts", "async_proxy_timeouts"):
            rows = [e for (name, kind), e in self._stats.entries.items() if kind == PROXY_TIMEOUT]
            if metric == "async_proxy_timeouts":
                rows = [e for e in rows if e.name.split(" ")[0] in ASYNC_OPS]
            return _merged(self._stats, rows)
        kind, name = ROWS[metric]
        entry = self._stats.entries.get((name, kind))
        return None if entry is None else _sample(entry)

    def verdict(self, metric: str) -> float | None:
        return None if self._counts is None else self._counts.get(metric)


def _merged(stats: RequestStats, rows: list[StatsEntry]) -> Sample | None:
    if not rows:
        return None
    from locust.stats import StatsEntry

    total = StatsEntry(stats, "merged", PROXY_TIMEOUT)
    for row in rows:
        total.extend(row)
    return _sample(total)


def _sample(entry: StatsEntry) -> Sample:
    def percentile(q: float, e: Any = entry) -> float:
        return float(e.get_response_time_percentile(q))

    return Sample(
        count=entry.num_requests,
        failures=entry.num_failures,
        rps=float(entry.total_rps),
        avg=float(entry.avg_response_time),
        min=float(entry.min_response_time or 0),
        max=float(entry.max_response_time),
        percentile=percentile,
    )
