"""The report's plots, drawn with matplotlib (Agg) from results.json and returned as base64 PNG.

Each function returns None when its data is absent, so a report shows only the plots its run can draw.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

FLOW_COLOURS = {"poll": "#1f77b4", "sse": "#2ca02c", "download": "#9467bd", "legacy": "#d62728"}
CONFIG_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
FAULT_COLOURS = ("#f4a582", "#92c5de", "#fddbc7", "#d1e5f0", "#b2abd2")
DPI = 80


def to_png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def latency_over_time(configs: Sequence[Mapping[str, Any]], time_scale: float) -> str | None:
    """Every request's answer time against when it was sent (modelled time), one panel per config; fault
    windows shaded; requests a proxy cut drawn as crosses."""
    shown = [c for c in configs if c["timeline"]]
    if not shown:
        return None
    fig, axes = plt.subplots(len(shown), 1, figsize=(10, 1.9 * len(shown) + 0.6), sharex=True, squeeze=False)
    for ax, config in zip(axes[:, 0], shown, strict=True):
        _shade_faults(ax, config["faults"], time_scale)
        for flow, colour in FLOW_COLOURS.items():
            pts = [p for p in config["timeline"] if p[2] == flow]
            kept = [p for p in pts if p[3] != 2]
            cut = [p for p in pts if p[3] == 2]
            ax.scatter([p[0] / time_scale for p in kept], [max(p[1], 0.1) for p in kept], s=6, c=colour, label=flow)
            ax.scatter([p[0] / time_scale for p in cut], [max(p[1], 0.1) for p in cut], s=30, c=colour, marker="x")
        ax.set_yscale("log")
        ax.set_ylabel("ms")
        ax.set_title(config["name"], loc="left", fontsize=10)
    axes[0, 0].legend(loc="upper right", fontsize=8, ncol=4, markerscale=2)
    axes[-1, 0].set_xlabel("time since start (modelled s); answer time measured (ms); x = cut by a proxy")
    return to_png(fig)


def _shade_faults(ax: Any, faults: Sequence[Mapping[str, Any]], time_scale: float) -> None:
    for i, window in enumerate(faults):
        colour = FAULT_COLOURS[i % len(FAULT_COLOURS)]
        start, end = window["start_s"] / time_scale, window["end_s"] / time_scale
        ax.axvspan(start, max(end, start + 0.5), color=colour, alpha=0.5, lw=0)
        ax.annotate(window.get("kind") or "fault", (start, 1.0), xycoords=("data", "axes fraction"), fontsize=7,
                    va="top", rotation=90, color="#555555")  # fmt: skip


def _nines(percentile: float) -> float:
    return -math.log10(max(1e-5, 1 - percentile / 100))


def percentile_distribution(configs: Sequence[Mapping[str, Any]]) -> str | None:
    """Latency by percentile (HDR style: the x axis stretches the tail), one panel per flow, a line per config."""
    flows = [f for f in FLOW_COLOURS if any(c["flows"][f]["curve"] for c in configs)]
    if not flows:
        return None
    fig, axes = plt.subplots(1, len(flows), figsize=(3.2 * len(flows) + 0.5, 3.2), squeeze=False)
    ticks = [50.0, 90.0, 99.0, 99.9, 99.99]
    for ax, flow in zip(axes[0], flows, strict=True):
        for i, config in enumerate(configs):
            curve = config["flows"][flow]["curve"]
            if curve:
                ax.plot([_nines(p) for p, _ in curve], [max(v, 0.1) for _, v in curve],
                        marker=".", color=CONFIG_COLOURS[i % len(CONFIG_COLOURS)], label=config["name"])  # fmt: skip
        ax.set_yscale("log")
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_xticks([_nines(t) for t in ticks], [f"{t:g}" for t in ticks], fontsize=7)
        ax.set_title(flow, fontsize=10)
        ax.set_xlabel("percentile")
    axes[0, 0].set_ylabel("answer time (ms)")
    axes[0, -1].legend(fontsize=7)
    return to_png(fig)


def sse_gap_histogram(configs: Sequence[Mapping[str, Any]]) -> str | None:
    """How long each SSE connection went without a byte (its largest gap, modelled s), per config, with each
    config's SSE idle timer as a dashed line of the same colour."""
    shown = [(i, c) for i, c in enumerate(configs) if c["sse_gaps_s"]]
    if not shown:
        return None
    fig, ax = plt.subplots(figsize=(10, 3.2))
    top = max(max(c["sse_gaps_s"]) for _, c in shown)
    timers = [c["flows"]["sse"]["idle_timer_s"] or 0.0 for _, c in shown]
    bins = [b * max(top, *timers, 1.0) / 40 for b in range(42)]
    for i, config in shown:
        colour = CONFIG_COLOURS[i % len(CONFIG_COLOURS)]
        ax.hist(config["sse_gaps_s"], bins=bins, histtype="step", lw=1.5, color=colour, label=config["name"])
        timer = config["flows"]["sse"]["idle_timer_s"]
        if timer:
            ax.axvline(timer, color=colour, ls="--", lw=1)
    ax.set_xlabel("largest gap without a byte per SSE connection (modelled s); dashed: the config's SSE idle timer")
    ax.set_ylabel("connections")
    ax.legend(fontsize=8)
    return to_png(fig)


def _offset(value: float | None, predicted: float) -> float:
    return 0.0 if value is None else max(-30.0, min(30.0, (value - predicted) / predicted * 100))


def boundaries_plot(boundaries: Sequence[Mapping[str, Any]]) -> str | None:
    """How far each measured boundary lies from its prediction (% of the prediction), one row per config and
    flow; the band is the 10 % agreement wanted, the bar the bracket (last pass .. first fail). A boundary
    without a number to compare (predicted 0, or outside the searched range) is written out instead."""
    if not boundaries:
        return None
    fig, ax = plt.subplots(figsize=(9, 0.42 * len(boundaries) + 1.3))
    ax.axvspan(-10, 10, color="#d9f0d3", lw=0, label="within 10 %")
    ax.axvline(0, color="#555555", lw=0.8, ls="--")
    labels = []
    for y, b in enumerate(boundaries):
        predicted, colour = b["predicted_s"], FLOW_COLOURS[b["flow"]]
        labels.append(f"{b['config']} {b['flow']} ({predicted:g} s)")
        if b["relation"] != "between" or not predicted:
            text = f"measured {'< ' + format(b['upper_s'], 'g') if b['relation'] == 'below' else b['measured_s']} s"
            ax.annotate(f"{text}, predicted {predicted:g} s", (0, y), ha="center", va="center", fontsize=8)
            continue
        low, high = _offset(b["lower_s"], predicted), _offset(b["upper_s"], predicted)
        ax.plot([low, high], [y, y], lw=5, color=colour, alpha=0.45, solid_capstyle="butt")
        ax.plot([_offset(b["measured_s"], predicted)], [y], "o", color=colour, ms=6)
    ax.set_yticks(range(len(boundaries)), labels, fontsize=8)
    ax.set_ylim(len(boundaries) - 0.5, -0.5)
    ax.set_xlim(-30, 30)
    ax.set_xlabel("measured boundary - predicted, % of the predicted limit (bar: bracket found by bisection)")
    ax.legend(loc="lower right", fontsize=8)
    return to_png(fig)
