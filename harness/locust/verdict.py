"""The checker's verdict as a small summary that travels in a Locust message, sums across workers, and prints.

Each process that ran users judges its own history (every job and every clientRequestId lives in one user, so
in one process); the master adds the summaries up. `harness check` over all the files gives the merged view.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from harness.core.errors import HarnessError
from harness.judge import CheckParams, check_files
from harness.judge.verdict import unjudged_jobs

EXAMPLES = 5


def summarise(path: Path, params: CheckParams) -> dict[str, Any]:
    """Check one history file; a JSON- and msgpack-safe summary (string keys only)."""
    try:
        result = check_files([path], params)
    except (HarnessError, OSError) as exc:
        return {"files": [str(path)], "errors": [f"{path}: {exc}"]}
    s = result.stats
    initiates = s.latency.get("initiate")
    return {
        "files": [str(path)],
        "records": s.records,
        "initiates": [initiates.n, initiates.ok] if initiates else [0, 0],
        "faults_unmet": [why for why in result.inconclusive if why.startswith("fault ")],
        "jobs": dict(s.jobs),
        "anomalies": dict(Counter(a.kind for a in result.anomalies)),
        "examples": [f"{a.kind}: job {a.job_id}: {a.message}" for a in result.anomalies[:EXAMPLES]],
        "proxy_timeouts": {flow: {str(k): v for k, v in codes.items()} for flow, codes in s.proxy_timeouts.items()},
        "errors": [],
    }


def merge(parts: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Add summaries up (counts sum; files, examples and errors concatenate)."""
    total: dict[str, Any] = {"files": [], "records": 0, "jobs": Counter(), "anomalies": Counter(), "examples": []}
    total |= {"errors": [], "proxy_timeouts": {"async": Counter(), "legacy": Counter()}, "initiates": [0, 0]}
    total["faults_unmet"] = []
    for part in parts:
        for key in ("files", "examples", "errors", "faults_unmet"):
            total[key] += list(part.get(key, []))
        total["records"] += int(part.get("records", 0))
        total["initiates"] = [a + b for a, b in zip(total["initiates"], part.get("initiates", [0, 0]), strict=True)]
        total["jobs"].update(part.get("jobs", {}))
        total["anomalies"].update(part.get("anomalies", {}))
        for flow, codes in part.get("proxy_timeouts", {}).items():
            total["proxy_timeouts"].setdefault(flow, Counter()).update(codes)
    total["examples"] = total["examples"][:EXAMPLES]
    return total


def counts(summary: Mapping[str, Any]) -> dict[str, float]:
    """The checker's numbers that thresholds can name."""
    jobs, anomalies = summary.get("jobs", {}), summary.get("anomalies", {})
    return {
        "lost_jobs": jobs.get("lost", 0),
        "duplicate_jobs": jobs.get("duplicated", 0),
        "checksum_mismatches": anomalies.get("checksum_mismatch", 0),
        "anomalies": sum(anomalies.values()),
        "completed_jobs": jobs.get("completed", 0),
        "inconclusive": len(inconclusive(summary)),
    }


def inconclusive(summary: Mapping[str, Any]) -> list[str]:
    """Why the merged histories judged too little (the checker's reasons, over the processes' summed counts)."""
    if summary.get("errors") or not summary.get("files"):
        return []
    jobs = {k: 0 for k in ("acknowledged", "pending", "unobserved")} | dict(summary.get("jobs", {}))
    initiates = tuple(summary.get("initiates", [0, 0]))
    return [*unjudged_jobs(jobs, (int(initiates[0]), int(initiates[1]))), *summary.get("faults_unmet", [])]


def render(summary: Mapping[str, Any], expected_files: int | None = None) -> str:
    anomalies, jobs = summary.get("anomalies", {}), summary.get("jobs", {})
    unjudged = inconclusive(summary)
    verdict = f"INVALID ({sum(anomalies.values())})" if anomalies or summary.get("errors") else "VALID"
    verdict = "INCONCLUSIVE" if verdict == "VALID" and unjudged else verdict
    files = summary.get("files", [])
    short = expected_files is not None and len(files) < expected_files
    missing = f" (only {len(files)} of {expected_files} processes reported)" if short else ""
    order = ("acknowledged", "completed", "failed", "cancelled", "pending", "lost", "late", "duplicated")
    lines = [
        f"harness check: {verdict} over {summary.get('records', 0)} records in {len(files)} history file(s){missing}",
        "  jobs: " + ", ".join(f"{k} {jobs.get(k, 0)}" for k in order),
        "  (pending = still running when the run ended: not lost; --stop-timeout lets them finish)",
        *(f"  inconclusive: {why}" for why in unjudged),
    ]
    for flow in ("async", "legacy"):
        codes = summary.get("proxy_timeouts", {}).get(flow, {})
        shown = ", ".join(f"{c} x{n}" for c, n in sorted(codes.items())) or "none"
        lines.append(f"  proxy timeouts, {flow}: {shown}")
    if anomalies:
        lines.append("  anomalies: " + ", ".join(f"{k} {v}" for k, v in sorted(anomalies.items())))
        lines += [f"    {e}" for e in summary.get("examples", [])]
    lines += [f"  error: {e}" for e in summary.get("errors", [])]
    if files:
        lines.append(f"  merged view: harness check {' '.join(files)}")
    return "\n".join(lines)
