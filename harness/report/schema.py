"""results.json: the one document a run's report is rendered from (the HTML and the Markdown read nothing else).

    {"schema": "harness-report/1", "run_id", "kind", "created", "title", "time_scale",
     "workload": {...},                      how the run was driven (seed, jobs, faults, ...)
     "verdict": {"ship", "sentence", "safe", "unsafe"},
     "configs": [{"name", "flows": {flow: {"verdict", "expected", "matches", "proxy_timeouts",
                  "p50_ms", "p95_ms", "p99_ms", "max_ms", "max_gap_s", ...}}, "jobs", "faults",
                  "timeline", "sse_gaps_s", ...}],            one per config (see harness.report.analyse)
     "boundaries": [{"config", "flow", "lower_s", "upper_s", "measured_s", "predicted_s", "agrees", ...}],
     "locust": [{"type", "name", "requests", "failures", "median_ms", ...}],   a Locust run's CSV rows
     "sources": [paths the results were built from]}

Latencies are milliseconds measured on this machine; gaps, timers, boundaries are modelled seconds.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.core.errors import HarnessError
from harness.report.verdict import decide

SCHEMA = "harness-report/1"
KINDS = ("compare", "boundary", "demo", "locust", "chaos")
REQUIRED = ("schema", "run_id", "kind", "created", "title", "time_scale", "verdict", "configs", "boundaries")


def build(
    *,
    run_id: str,
    kind: str,
    title: str,
    time_scale: float,
    configs: Sequence[Mapping[str, Any]] = (),
    boundaries: Sequence[Mapping[str, Any]] = (),
    workload: Mapping[str, Any] | None = None,
    locust: Sequence[Mapping[str, Any]] = (),
    sources: Sequence[str] = (),
) -> dict[str, Any]:
    """A complete results document, its verdict decided from its configs (else its boundaries)."""
    if kind not in KINDS:
        raise HarnessError(f"report kind {kind!r} is unknown; use one of {', '.join(KINDS)}")
    return {
        "schema": SCHEMA,
        "run_id": run_id,
        "kind": kind,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "title": title,
        "time_scale": time_scale,
        "workload": dict(workload or {}),
        "verdict": decide(configs, boundaries),
        "configs": [dict(c) for c in configs],
        "boundaries": [dict(b) for b in boundaries],
        "locust": [dict(row) for row in locust],
        "sources": list(sources),
    }


def validate(results: Mapping[str, Any], where: str = "results") -> Mapping[str, Any]:
    """Refuse a document of another schema or with a missing part, naming what is wrong."""
    if results.get("schema") != SCHEMA:
        raise HarnessError(
            f"{where}: schema is {results.get('schema')!r}, not {SCHEMA!r}; rebuild it with this version"
        )
    missing = [key for key in REQUIRED if key not in results]
    if missing:
        raise HarnessError(f"{where}: missing {', '.join(missing)}")
    return results


def load(path: str | Path) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise HarnessError(f"cannot read results {path}: {exc}") from None
    if not isinstance(data, dict):
        raise HarnessError(f"{path}: a results document is a JSON object")
    validate(data, str(path))
    return data


def dump(results: Mapping[str, Any], path: Path) -> Path:
    path.write_text(json.dumps(results, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    return path
