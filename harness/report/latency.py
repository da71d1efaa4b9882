"""Exact latency percentiles from an HDR histogram (microsecond resolution, 3 significant digits).

Every number a report prints about latency comes from here, so the HTML, the Markdown and results.json agree.
A streamed history's latencies arrive as the judge's histograms (`harness.judge.histogram`: the same buckets),
turned into an HdrHistogram count by count, so every figure is the one recording each value would give.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hdrh.histogram import HdrHistogram

from harness.judge.histogram import HIGHEST_US, LOWEST_US, Histogram

SIGNIFICANT_DIGITS = 3
CURVE_PERCENTILES = (0.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.99, 100.0)


def histogram(values_s: Iterable[float]) -> HdrHistogram:
    """An HDR histogram of durations given in seconds (clamped into its range)."""
    hist = HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)
    for value in values_s:
        hist.record_value(min(HIGHEST_US, max(LOWEST_US, round(value * 1_000_000))))
    return hist


def from_buckets(counted: Histogram) -> HdrHistogram:
    """The HDR histogram of the values a judge histogram counted (bucket by bucket: the same figures)."""
    hist = HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)
    for value_us, count in counted.counts():
        hist.record_value(value_us, count)
    return hist


def _ms(hist: HdrHistogram, percentile: float) -> float:
    value = hist.get_max_value() if percentile >= 100.0 else hist.get_value_at_percentile(percentile)
    return round(int(value) / 1000, 3)


def summary(values_s: Iterable[float] | HdrHistogram) -> dict[str, Any]:
    """n, p50, p95, p99 and max in milliseconds (None when there is no value)."""
    hist = values_s if isinstance(values_s, HdrHistogram) else histogram(values_s)
    n = int(hist.get_total_count())
    if n == 0:
        return {"n": 0, "p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None}
    return {"n": n, "p50_ms": _ms(hist, 50), "p95_ms": _ms(hist, 95), "p99_ms": _ms(hist, 99), "max_ms": _ms(hist, 100)}


def curve(values_s: Iterable[float] | HdrHistogram) -> list[list[float]]:
    """[percentile, milliseconds] pairs for a percentile-distribution plot (empty without values)."""
    hist = values_s if isinstance(values_s, HdrHistogram) else histogram(values_s)
    if hist.get_total_count() == 0:
        return []
    return [[p, _ms(hist, p)] for p in CURVE_PERCENTILES]
