"""results.json -> report.html (self-contained: plots inline as base64 PNG, no external asset) and summary.md.

Both are rendered from the same document with the same number formatting, so they show the same verdicts
and the same numbers; the HTML's matrix cells carry data-* attributes so a test (or a script) can read them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2

from harness.fronts.nginx import FLOWS
from harness.report import plots
from harness.report.fmt import DASH, num, pct

TEMPLATES = Path(__file__).with_name("templates")


def boundary_text(b: Mapping[str, Any]) -> str:
    """'≈ 58.6' (bracketed), '< 1' (fails from the lowest value tried), '> 400' (never failed)."""
    if b["relation"] == "below":
        return f"< {num(b['upper_s'])}"
    if b["relation"] == "above":
        return f"> {num(b['lower_s'])}"
    return f"≈ {num(b['measured_s'])}"


def bracket_text(b: Mapping[str, Any]) -> str:
    return f"{num(b['lower_s'])}{DASH}{num(b['upper_s'])}" if b["relation"] == "between" else DASH


def predicted_text(b: Mapping[str, Any]) -> str:
    value = b["predicted_s"]
    if value is None:
        return DASH
    return "0 (always fails)" if value == 0 else num(value)


def agrees_text(b: Mapping[str, Any]) -> str:
    """'yes' (within the agreement wanted), 'explained' (once the service's own share is added), or 'no'."""
    if b["agrees"]:
        return "yes"
    return f"explained (+{b['overhead_s']:.1f} s)" if b.get("explained") else "no"


def match_text(flow: Mapping[str, Any]) -> str:
    return {True: "yes", False: "NO", None: DASH}[flow["matches"]]


def _environment(autoescape: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(num=num, pct=pct, boundary=boundary_text, bracket=bracket_text, predicted=predicted_text)
    env.filters["match"] = match_text
    env.filters["agrees"] = agrees_text
    env.globals["FLOWS"] = FLOWS
    return env


def figures(results: Mapping[str, Any]) -> list[dict[str, str]]:
    """The plots this run can draw, in reading order: id, title, caption, base64 PNG."""
    configs, scale = results["configs"], results["time_scale"]
    drawn = [
        ("plot-latency", "Latency over time", "shaded: fault windows", plots.latency_over_time(configs, scale)),
        ("plot-percentiles", "Percentile distribution", "HDR histogram, exact", plots.percentile_distribution(configs)),
        ("plot-sse-gaps", "SSE gaps", "largest silence per connection", plots.sse_gap_histogram(configs)),
        ("plot-boundaries", "Boundaries found vs predicted", "", plots.boundaries_plot(results["boundaries"])),
    ]
    return [{"id": i, "title": t, "caption": c, "png": png} for i, t, c, png in drawn if png is not None]


def render_html(results: Mapping[str, Any]) -> str:
    figs = {f["id"]: f for f in figures(results)}
    return _environment(True).get_template("report.html.j2").render(r=results, figs=figs)


def render_markdown(results: Mapping[str, Any]) -> str:
    return _environment(False).get_template("summary.md.j2").render(r=results)
