"""A verdict for people (`render_text`: verdict, facts, then anomalies grouped by kind) and for tools (`to_json`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, fields
from typing import Any

from harness.judge.history import Record
from harness.judge.verdict import CheckResult


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
        "verdict": result.verdict,
        "valid": result.valid,
        "inconclusive": list(result.inconclusive),
        "notes": list(result.notes),
        "params": asdict(result.params),
        "stats": asdict(result.stats),
        "anomalies": anomalies,
    }


def _record_json(rec: Record) -> dict[str, Any]:
    return {f.name: v for f in fields(rec) if (v := getattr(rec, f.name)) is not None and v != ""}


def render_text(result: CheckResult, per_kind: int = 10) -> str:
    """A readable report: verdict, job fates, proxy timeouts, latencies, then anomalies grouped by kind."""
    return "\n".join([*_facts(result), *_anomalies(result, per_kind)])


def _facts(result: CheckResult) -> list[str]:
    s = result.stats
    verdict = f"INVALID ({len(result.anomalies)} anomalies)" if result.anomalies else result.verdict
    lines = [
        f"verdict: {verdict} over {s.records} records, {s.faults} fault windows",
        *(f"  inconclusive: {why}" for why in result.inconclusive),
        *(f"  note: {what}" for what in result.notes),
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
    return lines


def _anomalies(result: CheckResult, per_kind: int) -> list[str]:
    lines: list[str] = []
    kinds = Counter(a.kind for a in result.anomalies)
    for kind, count in sorted(kinds.items()):
        lines.append(f"\n{kind}: {count}")
        for a in [a for a in result.anomalies if a.kind == kind][:per_kind]:
            during = f" [during {', '.join(a.during)}]" if a.during else ""
            lines.append(f"  job {a.job_id}: {a.message}{during}")
            lines += [f"    {r.summary()}" for r in a.evidence]
        if count > per_kind:
            lines.append(f"  ... {count - per_kind} more (see --json)")
    return lines


def _codes(counts: dict[int, int]) -> str:
    return ", ".join(f"{code} x{n}" for code, n in counts.items()) or "none"
