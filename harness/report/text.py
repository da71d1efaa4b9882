"""The matrix and the boundaries as plain text, for the terminal (same numbers as the HTML and Markdown)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.fronts.nginx import FLOWS
from harness.report.fmt import num, pct
from harness.report.render import agrees_text, boundary_text, bracket_text, match_text, predicted_text

MATRIX_HEAD = (
    "config",
    "flow",
    "verdict",
    "expected",
    "match",
    "cut",
    "n",
    "p50ms",
    "p95ms",
    "p99ms",
    "maxms",
    "gap_s",
)
BOUNDARY_HEAD = ("config", "flow", "measured_s", "bracket_s", "predicted_s", "diff", "agrees")


def _table(head: tuple[str, ...], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [list(head), *rows]) for i in range(len(head))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in [list(head), *rows]]
    return "\n".join(lines)


def matrix_text(results: Mapping[str, Any]) -> str:
    """config x flow: verdict, header expectation, proxy timeouts, latency percentiles (ms), largest gap (s);
    then one line of jobs per config."""
    rows = []
    for c in results["configs"]:
        for flow in FLOWS:
            f = c["flows"][flow]
            rows.append([c["name"], flow, f["verdict"], f["expected"] or "-", match_text(f), str(f["proxy_timeouts"]),
                         str(f["requests"]), num(f["p50_ms"]), num(f["p95_ms"]), num(f["p99_ms"]), num(f["max_ms"]),
                         num(f["max_gap_s"])])  # fmt: skip
    jobs = [
        f"{c['name']}: jobs {j['completed']}/{j['acknowledged']} completed, {j['failed']} failed, {j['lost']} lost, "
        f"{len(c['faults'])} fault windows, {'safe' if c['safe'] else 'NOT safe'}"
        for c in results["configs"]
        for j in [c["jobs"]]
    ]
    return _table(MATRIX_HEAD, rows) + "\n" + "\n".join(jobs)


def boundaries_text(results: Mapping[str, Any]) -> str:
    rows = [
        [b["config"], b["flow"], boundary_text(b), bracket_text(b), predicted_text(b),
         pct(b["delta_pct"]), agrees_text(b)]
        for b in results["boundaries"]
    ]  # fmt: skip
    return _table(BOUNDARY_HEAD, rows)
