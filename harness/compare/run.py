"""`harness compare`: the same seeded workload behind each config (a fresh stack each), judged into one matrix.

Histories land in <out>/<config>/history.jsonl and the run's manifest in <out>/run.json, so `harness report
<out>` can rebuild the report from what was recorded.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.compare.drive import RunPlan, drive
from harness.fronts.nginx import FLOWS
from harness.report import schema
from harness.report.analyse import Subject, analyse_files
from harness.report.sources import write_manifest
from harness.stack.service import load_service


class Progress:
    """One line per step, with the time elapsed since the run began."""

    def __init__(self, printer: Callable[[str], None] = print) -> None:
        self.started = time.monotonic()
        self._print = printer

    def __call__(self, text: str) -> None:
        self._print(f"[{time.monotonic() - self.started:6.1f} s] {text}")

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started


def verdict_line(config: Mapping[str, Any]) -> str:
    """'poll=pass sse=pass download=pass legacy=fail (as the header expects); 24/24 jobs completed, 0 lost'."""
    flows = config["flows"]
    verdicts = " ".join(f"{f}={flows[f]['verdict']}" for f in FLOWS)
    off = [f"{f} expected {flows[f]['expected']}" for f in FLOWS if flows[f]["matches"] is False]
    header = "; ".join(off) if off else "as the header expects"
    jobs = config["jobs"]
    fates = f"{jobs['completed']}/{jobs['acknowledged']} jobs completed, {jobs['failed']} failed, {jobs['lost']} lost"
    return f"{verdicts} ({header}); {fates}"


@dataclass
class RunRecord:
    """What a run did, kept until it is written: its manifest (run.json) and its results document."""

    out: Path
    kind: str
    title: str
    time_scale: float
    workload: dict[str, Any] = field(default_factory=dict)
    configs: list[dict[str, Any]] = field(default_factory=list)
    entries: list[dict[str, Any]] = field(default_factory=list)
    boundaries: list[dict[str, Any]] = field(default_factory=list)

    def finish(self) -> dict[str, Any]:
        """Write run.json (so `harness report` can rebuild) and return the results document."""
        manifest = {
            "run_id": self.out.name,
            "kind": self.kind,
            "title": self.title,
            "time_scale": self.time_scale,
            "workload": self.workload,
            "configs": self.entries,
            "boundaries": self.boundaries,
        }
        write_manifest(self.out, manifest)
        return schema.build(
            run_id=self.out.name,
            kind=self.kind,
            title=self.title,
            time_scale=self.time_scale,
            configs=self.configs,
            boundaries=self.boundaries,
            workload=self.workload,
            sources=[str(self.out / h) for e in self.entries for h in e["histories"]],
        )


def compare(
    configs: Sequence[str],
    plan: RunPlan,
    out: Path,
    say: Progress,
    *,
    kind: str = "compare",
    title: str = "Proxy configs compared",
) -> RunRecord:
    """Drive every config in turn; the record's `finish()` writes the manifest and gives the results."""
    profile = load_service(plan.service).contract()  # a bad spec, profile or config name fails before any boot
    subjects = [Subject.named(name, plan.time_scale, profile) for name in configs]
    record = RunRecord(out, kind, title, plan.time_scale, plan.describe())
    for name, subject in zip(configs, subjects, strict=True):
        history = out / subject.name / "history.jsonl"
        history.parent.mkdir(parents=True, exist_ok=True)
        history.unlink(missing_ok=True)
        started = time.monotonic()
        drive(plan, name, history, say)
        result = analyse_files([history], subject)
        say(f"{subject.name}: {verdict_line(result)} [{time.monotonic() - started:.1f} s]")
        record.configs.append(result)
        record.entries.append({"name": subject.name, "source": name, "histories": [str(history.relative_to(out))]})
    return record
