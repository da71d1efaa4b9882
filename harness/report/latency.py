"""Exact latency percentiles from an HDR histogram (microsecond resolution, 3 significant digits).

Every number a report prints about latency comes from here, so the HTML, the Markdown and results.json agree.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hdrh.histogram import HdrHistogram

LOWEST_US = 1
HIGHEST_US = 3_600_000_000  # one hour: longer than any request a run can hold
SIGNIFICANT_DIGITS = 3
CURVE_PERCENTILES = (0.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.99, 100.0)


def histogram(values_s: Iterable[float]) -> HdrHistogram:
    """An HDR histogram of durations given in seconds (clamped into its range)."""
    hist = HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)
    for value in values_s:
        hist.record_value(min(HIGHEST_US, max(LOWEST_US, round(value * 1_000_000))))
    return hist


def _ms(hist: HdrHistogram, percentile: float) -> float:
    value = hist.get_max_value() if percentile >= 100.0 else hist.get_value_at_percentile(percentile)
    return round(int(value) / 1000, 3)


def summary(values_s: Iterable[float]) -> dict[str, Any]:
    """n, p50, p95, p99 and max in milliseconds (None when there is no value)."""
    hist = histogram(values_s)
    n = int(hist.get_total_count())
    if n == 0:
        return {"n": 0, "p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None}
    return {"n": n, "p50_ms": _ms(hist, 50), "p95_ms": _ms(hist, 95), "p99_ms": _ms(hist, 99), "max_ms": _ms(hist, 100)}


def curve(values_s: Iterable[float]) -> list[list[float]]:
    """[percentile, milliseconds] pairs for a percentile-distribution plot (empty without values)."""
    hist = histogram(values_s)
    if hist.get_total_count() == 0:
        return []
    return [[p, _ms(hist, p)] for p in CURVE_PERCENTILES]
