"""A conformance result as a terminal table, Markdown and JSON (the HTML report reads the same dict)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.conformance.results import ConformanceResult

EVIDENCE_WIDTH = 96


def _headline(r: ConformanceResult) -> str:
    return f"conformance of {r.target} under profile {r.profile} ({r.profile_source}), time scale {r.time_scale:g}"


def _verdict_line(r: ConformanceResult) -> str:
    c = r.counts
    word = "PASS" if r.ok else "FAIL" if c["fail"] else "INCONCLUSIVE"
    return (
        f"{len(r.points)} points: {c['pass']} pass, {c['fail']} fail, {c['absent']} absent"
        + (f", {c['inconclusive']} inconclusive" if c["inconclusive"] else "")
        + f" -> {word} ({r.wall_s:.1f} s)"
    )


def render_table(r: ConformanceResult) -> str:
    width = max([len("POINT"), *(len(p.name) for p in r.points)])
    lines = [_headline(r), f"{'POINT':<{width}}  VERDICT  EVIDENCE"]
    for p in r.points:
        evidence = p.evidence if len(p.evidence) <= EVIDENCE_WIDTH else p.evidence[: EVIDENCE_WIDTH - 1] + "…"
        lines.append(f"{p.name:<{width}}  {p.verdict:<7}  {evidence}")
    lines.append(_verdict_line(r))
    if r.history:
        lines.append(f"history: {r.history} (judge it again: harness check {r.history})")
    return "\n".join(lines)


def render_markdown(r: ConformanceResult) -> str:
    rows = [f"| `{p.name}` | {_mark(p.verdict)} | {_cell(p.evidence)} |" for p in r.points]
    return "\n".join(
        [
            f"# Conformance: {r.profile} at {r.target}",
            "",
            f"{_headline(r)}, started {r.started_at}.",
            "",
            f"**{_verdict_line(r)}**",
            "",
            "| point | verdict | evidence |",
            "|---|---|---|",
            *rows,
            "",
        ]
    )


def _mark(verdict: str) -> str:
    return {"pass": "pass", "fail": "**FAIL**", "absent": "absent", "inconclusive": "**INCONCLUSIVE**"}.get(
        verdict, verdict
    )


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def write_reports(r: ConformanceResult, out_dir: Path) -> dict[str, Path]:
    """conformance.json and conformance.md in `out_dir` (created); returns what was written, by format."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {"json": out_dir / "conformance.json", "markdown": out_dir / "conformance.md"}
    data: dict[str, Any] = r.as_dict()
    written["json"].write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    written["markdown"].write_text(render_markdown(r), encoding="utf-8")
    return written
