"""What `harness report PATH` can build a report from, and how it recognises each.

- a run directory with `run.json` (written by `harness compare`, `harness boundary` and `make demo`): every
  config's histories re-judged, boundaries as they were measured;
- a directory with `results.json` only: re-rendered as it is;
- a Locust run directory: its history JSONL file(s) (one per Locust process) and `*_stats.csv`;
- a history file (a chaos run's JSONL), or a directory of them.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.contract import V1, ContractProfile
from harness.core.errors import HarnessError
from harness.report import schema
from harness.report.analyse import Subject, analyse_files
from harness.stack.service import load_service

MANIFEST = "run.json"
RESULTS = "results.json"


def write_manifest(directory: Path, manifest: Mapping[str, Any]) -> Path:
    """run.json: how a run was driven and where its histories are (paths relative to the run directory)."""
    path = directory / MANIFEST
    path.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return path


def from_manifest(directory: Path, run_id: str | None = None) -> dict[str, Any]:
    manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    scale = float(manifest["time_scale"])
    service = (manifest.get("workload") or {}).get("service")
    profile = load_service(service).contract() if service else V1
    configs, sources = [], []
    for entry in manifest["configs"]:
        paths = [directory / p for p in entry["histories"]]
        sources += [str(p) for p in paths]
        configs.append(analyse_files(paths, Subject.named(entry["source"], scale, profile)))
    return schema.build(
        run_id=run_id or manifest["run_id"],
        kind=manifest["kind"],
        title=manifest["title"],
        time_scale=scale,
        configs=configs,
        boundaries=manifest.get("boundaries", []),
        workload=manifest.get("workload"),
        sources=sources,
    )


def _number(raw: str | None) -> float | None:
    try:
        return float(raw) if raw not in (None, "", "N/A") else None
    except ValueError:
        return None


def locust_rows(paths: Sequence[Path]) -> list[dict[str, Any]]:
    """The rows of Locust `*_stats.csv` files (milliseconds as Locust wrote them; its `Aggregated` row last)."""
    rows: list[dict[str, Any]] = []
    for path in paths:
        with path.open(newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                rows.append(
                    {
                        "type": row.get("Type") or "",
                        "name": row.get("Name") or "",
                        "requests": int(_number(row.get("Request Count")) or 0),
                        "failures": int(_number(row.get("Failure Count")) or 0),
                        "median_ms": _number(row.get("Median Response Time")),
                        "p95_ms": _number(row.get("95%")),
                        "p99_ms": _number(row.get("99%")),
                        "max_ms": _number(row.get("Max Response Time")),
                    }
                )
    return rows


def from_histories(
    histories: Sequence[Path],
    *,
    kind: str,
    run_id: str,
    time_scale: float,
    config: str | None,
    csvs: Sequence[Path],
    profile: ContractProfile = V1,
) -> dict[str, Any]:
    """A one-config report from recorded histories (a Locust run, a chaos run); `config` names the front they
    ran behind, when known, so its timers (on the routes of `profile`) and header expectations apply."""
    subject = Subject.named(config, time_scale, profile) if config else Subject(f"{kind} run", time_scale)
    result = analyse_files(histories, subject)
    title = "Locust run" if kind == "locust" else "Chaos run"
    return schema.build(
        run_id=run_id,
        kind=kind,
        title=f"{title} behind {subject.name}" if config else title,
        time_scale=time_scale,
        configs=[result],
        locust=locust_rows(csvs),
        sources=[str(p) for p in [*histories, *csvs]],
    )


def build_from(
    path: Path, *, run_id: str, time_scale: float, config: str | None = None, profile: ContractProfile = V1
) -> dict[str, Any]:
    """Results for whatever `path` is (see the module's docstring); raises HarnessError naming what it lacks."""
    if path.is_file() and path.name == RESULTS:
        return schema.load(path)
    if path.is_file():
        return from_histories(
            [path], kind="chaos", run_id=run_id, time_scale=time_scale, config=config, csvs=[], profile=profile
        )
    if not path.is_dir():
        raise HarnessError(f"{path} does not exist; pass a run directory, a Locust run directory or a history file")
    if (path / MANIFEST).is_file():
        return from_manifest(path, run_id)
    histories = sorted(path.glob("*.jsonl"))
    csvs = sorted(path.glob("*_stats.csv"))
    if histories:
        kind = "locust" if csvs else "chaos"
        return from_histories(
            histories, kind=kind, run_id=run_id, time_scale=time_scale, config=config, csvs=csvs, profile=profile
        )
    if (path / RESULTS).is_file():
        return schema.load(path / RESULTS)
    raise HarnessError(
        f"{path} holds no {MANIFEST}, history (*.jsonl) or {RESULTS}; pass a compare/demo run directory, a Locust "
        "run directory (--history and --csv written there) or a history file"
    )
