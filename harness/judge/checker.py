"""The verdict over recorded histories: run the six invariants, summarise, print as text or JSON.

`harness check HISTORY.jsonl...` exits 1 when an invariant is broken. Durations given on the command line
are seconds on this machine's clock; their defaults are the modelled ones passed through the time scale.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from harness.core.errors import HarnessError
from harness.core.timescale import parse_time_scale, scaled, time_scale_from_env
from harness.judge import invariants as inv
from harness.judge.history import ASYNC_OPS, PROXY_TIMEOUT_CODES, Record, fault_windows, read_history

DEADLINE_S = 600.0  # modelled: a 120 s job failing twice, with backoff and stall reclaims, is still done by then
IDLE_TIMER_S = 60.0  # modelled: nginx's default read timeout, an ALB's idle timeout
BUDGET_S = 5.0  # the clients' per-request timeout: an async request never needs more
JOB_FATES = ("completed", "failed", "cancelled", "expired", "late", "lost", "pending", "unobserved")  # see check_lost


@dataclass(frozen=True)
class CheckParams:
    """What the invariants are judged against (seconds on this machine's clock)."""

    deadline_s: float = DEADLINE_S
    idle_timer_s: float | None = IDLE_TIMER_S
    budget_s: float | None = BUDGET_S
    legacy_strict: bool = False

    @classmethod
    def for_scale(cls, scale: float, **overrides: Any) -> CheckParams:
        """Defaults through the time scale; the budget never exceeds the idle timer a proxy would enforce."""
        idle = scaled(IDLE_TIMER_S, scale)
        base = cls(scaled(DEADLINE_S, scale), idle, min(BUDGET_S, idle))
        return cls(**{**asdict(base), **{k: v for k, v in overrides.items() if v is not None}})


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


@dataclass(frozen=True)
class CheckResult:
    """The verdict: valid when no anomaly; `stats` carry the observed facts whatever the verdict."""

    valid: bool
    anomalies: tuple[inv.Anomaly, ...]
    stats: Stats
    params: CheckParams = field(default_factory=CheckParams)


def check(records: Sequence[Record], params: CheckParams) -> CheckResult:
    """Judge a merged history (as `read_history` returns it)."""
    ix = inv.Index.build(records)
    lost, fates = inv.check_lost(ix, params.deadline_s)
    timeouts, codes = check_requests(ix, params.budget_s, params.legacy_strict)
    identity = check_identity(ix)
    found = [*lost, *inv.check_order(ix), *identity, *timeouts, *inv.check_streams(ix, params.idle_timer_s)]
    found += inv.check_cancels(ix)
    windows = fault_windows(records)
    anomalies = tuple(_attribute(a, windows) for a in found)
    jobs = dict.fromkeys(JOB_FATES, 0) | Counter(fates.values())
    jobs["acknowledged"] = len(ix.acks)
    jobs["duplicated"] = sum(1 for a in identity if a.kind == "duplicate_job")
    info = Counter(r.op for r in ix.completions if r.type == "info")
    stats = Stats(len(records), jobs, codes, dict(info), _latencies(ix.completions), len(windows))
    return CheckResult(not anomalies, anomalies, stats, params)


def check_identity(ix: inv.Index) -> list[inv.Anomaly]:
    """Invariant 3: one clientRequestId <-> one jobId, and every downloaded artifact matches its checksum."""
    jobs: dict[str, dict[str, Record]] = defaultdict(dict)
    requests: dict[str, dict[str, Record]] = defaultdict(dict)
    found: list[inv.Anomaly] = []
    for rec in ix.completions:
        if rec.type == "ok" and rec.op in ("initiate", "legacy_start") and rec.job_id and rec.client_request_id:
            jobs[rec.client_request_id].setdefault(rec.job_id, rec)
            requests[rec.job_id].setdefault(rec.client_request_id, rec)
        if rec.checksum_ok is False:
            msg = f"artifact bytes do not hash to the status checksum ({rec.source})"
            found.append(inv.Anomaly("checksum_mismatch", rec.job_id, msg, (rec,)))
    for crid, by_job in jobs.items():
        if len(by_job) > 1:
            msg = f"clientRequestId {crid!r} got {len(by_job)} jobs: {', '.join(by_job)}"
            found.append(inv.Anomaly("duplicate_job", next(iter(by_job)), msg, tuple(by_job.values())))
    for job_id, by_request in requests.items():
        if len(by_request) > 1:
            msg = f"job answered for {len(by_request)} clientRequestIds: {', '.join(by_request)}"
            found.append(inv.Anomaly("shared_job", job_id, msg, tuple(by_request.values())))
    return found


def check_requests(
    ix: inv.Index, budget_s: float | None, legacy_strict: bool
) -> tuple[list[inv.Anomaly], dict[str, dict[int, int]]]:
    """Invariant 4, plus the legacy endpoint's proxy timeouts as observed facts (anomalies only if strict)."""
    found: list[inv.Anomaly] = []
    codes: dict[str, dict[int, int]] = {"async": defaultdict(int), "legacy": defaultdict(int)}
    for rec in ix.completions:
        flow = "async" if rec.op in ASYNC_OPS else "legacy"
        if rec.http_status in PROXY_TIMEOUT_CODES:
            codes[flow][rec.http_status] += 1
            if flow == "async" or legacy_strict:
                msg = f"{rec.op} answered {rec.http_status} after {rec.latency_s or 0:.3f} s ({rec.source})"
                kind = "proxy_timeout" if flow == "async" else "legacy_proxy_timeout"
                found.append(inv.Anomaly(kind, rec.job_id, msg, (rec,)))
        if budget_s is None or flow == "legacy" or rec.type == "info":
            continue
        took = _took(ix, rec)
        if took is not None and took > budget_s:
            what = "first event" if rec.op == "stream" else "answer"
            msg = f"{rec.op} {what} took {took:.3f} s > budget {budget_s:g} s ({rec.source})"
            found.append(inv.Anomaly("over_budget", rec.job_id, msg, (rec,)))
    return found, {flow: dict(sorted(c.items())) for flow, c in codes.items()}


def _took(ix: inv.Index, rec: Record) -> float | None:
    """A request's answer time; for a stream, its snapshot's (a resumed stream has none: its gaps are judged)."""
    if rec.op != "stream":
        return rec.latency_s
    opened = ix.invokes.get(rec.op_id)
    return None if opened is None or opened.last_event_id is not None else rec.first_event_s


def check_files(paths: Iterable[str | os.PathLike[str]], params: CheckParams) -> CheckResult:
    return check(read_history(paths), params)


def _attribute(anomaly: inv.Anomaly, windows: list[Record]) -> inv.Anomaly:
    """Name the faults in force while the evidence was gathered (open windows run to the end)."""
    start = min(r.invoke_wall for r in anomaly.evidence) if anomaly.evidence else 0.0
    end = max((r.wall for r in anomaly.evidence), default=float("inf"))
    during = tuple(
        w.fault or "?"
        for w in windows
        if (w.start_wall or w.wall) <= end and (w.end_wall is None or w.end_wall >= start)
    )
    return inv.Anomaly(anomaly.kind, anomaly.job_id, anomaly.message, anomaly.evidence, during)


def _latencies(completions: list[Record]) -> dict[str, LatencySummary]:
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


def to_json(result: CheckResult) -> dict[str, Any]:
    """A JSON-ready verdict; evidence records keep only the fields they have."""
    anomalies = [
        {
            "kind": a.kind,
            "job_id": a.job_id,
            "message": a.message,
            "during": list(a.during),
            "evidence": [_record_json(r) for r in a.evidence],
        }
        for a in result.anomalies
    ]
    return {
        "valid": result.valid,
        "params": asdict(result.params),
        "stats": asdict(result.stats),
        "anomalies": anomalies,
    }


def _record_json(rec: Record) -> dict[str, Any]:
    return {f.name: v for f in fields(rec) if (v := getattr(rec, f.name)) is not None and v != ""}


def render_text(result: CheckResult, per_kind: int = 10) -> str:
    """A readable report: verdict, job fates, proxy timeouts, latencies, then anomalies grouped by kind."""
    s = result.stats
    verdict = "VALID" if result.valid else f"INVALID ({len(result.anomalies)} anomalies)"
    lines = [
        f"verdict: {verdict} over {s.records} records, {s.faults} fault windows",
        "jobs: " + ", ".join(f"{k} {v}" for k, v in sorted(s.jobs.items())),
        f"proxy timeouts, async flow: {_codes(s.proxy_timeouts.get('async', {}))}",
        f"proxy timeouts, legacy endpoint (expected behind short proxies): "
        f"{_codes(s.proxy_timeouts.get('legacy', {}))}",
        "indeterminate (info): " + (", ".join(f"{k} {v}" for k, v in sorted(s.indeterminate.items())) or "none"),
        f"{'latency (s)':<14}{'n':>7}{'ok':>7}{'fail':>6}{'info':>6}{'p50':>9}{'p95':>9}{'p99':>9}{'max':>9}",
    ]
    for op, x in s.latency.items():
        lines.append(
            f"{op:<14}{x.n:>7}{x.ok:>7}{x.fail:>6}{x.info:>6}{x.p50:>9.3f}{x.p95:>9.3f}{x.p99:>9.3f}{x.max:>9.3f}"
        )
    kinds = Counter(a.kind for a in result.anomalies)
    for kind, count in sorted(kinds.items()):
        lines.append(f"\n{kind}: {count}")
        for a in [a for a in result.anomalies if a.kind == kind][:per_kind]:
            during = f" [during {', '.join(a.during)}]" if a.during else ""
            lines.append(f"  job {a.job_id}: {a.message}{during}")
            lines += [f"    {r.summary()}" for r in a.evidence]
        if count > per_kind:
            lines.append(f"  ... {count - per_kind} more (see --json)")
    return "\n".join(lines)


def _codes(counts: dict[int, int]) -> str:
    return ", ".join(f"{code} x{n}" for code, n in counts.items()) or "none"


def register_cli(subparsers: Any) -> argparse.ArgumentParser:
    """Add `check` to the `harness` CLI; the handler is `args.handler(args)` and returns the exit code."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "check", help="judge recorded histories against the invariants (exit 1 on anomalies)"
    )
    p.add_argument("histories", nargs="+", metavar="HISTORY.jsonl")
    p.add_argument("--json", action="store_true", help="print the verdict as JSON")
    p.add_argument("--idle-timer", type=float, help="smallest idle timer of the chain, s (default: scaled 60)")
    p.add_argument("--budget", type=float, help="per-request budget of the async flow, s (default: min(5, idle))")
    p.add_argument("--deadline", type=float, help="from acknowledgment to a terminal state, s (default: scaled 600)")
    p.add_argument("--legacy-strict", action="store_true", help="count legacy proxy timeouts as anomalies")
    p.add_argument("--time-scale", type=float, help="scale for the defaults (default: HARNESS_TIME_SCALE)")
    p.set_defaults(handler=run_check)
    return p


def run_check(args: argparse.Namespace) -> int:
    scale = time_scale_from_env() if args.time_scale is None else parse_time_scale(args.time_scale)
    params = CheckParams.for_scale(
        scale,
        deadline_s=args.deadline,
        idle_timer_s=args.idle_timer,
        budget_s=args.budget,
        legacy_strict=args.legacy_strict or None,
    )
    try:
        result = check_files(args.histories, params)
    except (HarnessError, OSError) as exc:
        print(f"harness check: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(to_json(result), indent=2) if args.json else render_text(result))
    return 0 if result.valid else 1
