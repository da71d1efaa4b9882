"""Threshold expressions: parsing (with errors that name the expression and show the grammar) and judging."""

from __future__ import annotations

import subprocess
import sys

import pytest

from harness.core.errors import ConfigError
from harness.locust.thresholds import (
    DEFAULT_THRESHOLDS,
    Sample,
    Threshold,
    evaluate,
    parse_threshold,
    parse_thresholds,
    render,
)

pytestmark = pytest.mark.unit


def test_thresholds_import_neither_locust_nor_gevent() -> None:
    """Importing Locust monkey-patches the whole process with gevent: pytest must be able to stay out of it."""
    code = "import sys, harness.locust.thresholds; print(sorted(m for m in sys.modules if m in ('locust', 'gevent')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("expr", "metric", "agg", "op", "value"),
    [
        ("job_e2e:p99<130s", "job_e2e", "p99", "<", 130_000),
        ("proxy_timeouts==0", "proxy_timeouts", "count", "==", 0),
        (" status : p99.9 <= 250ms ", "status", "p99.9", "<=", 250),
        ("status:fail_ratio<1%", "status", "fail_ratio", "<", 0.01),
        ("sse_max_gap:max<2.5s", "sse_max_gap", "max", "<", 2500),
        ("job_e2e:avg<2m", "job_e2e", "avg", "<", 120_000),
        ("sse_reconnects:max<=3", "sse_reconnects", "max", "<=", 3),
        ("requests:rps>=100", "requests", "rps", ">=", 100),
        ("lost_jobs!=1", "lost_jobs", "count", "!=", 1),
        ("initiate:med>.5", "initiate", "med", ">", 0.5),
    ],
)
def test_expressions_parse_to_normalised_values(expr: str, metric: str, agg: str, op: str, value: float) -> None:
    t = parse_threshold(expr)
    assert (t.metric, t.aggregate, t.op) == (metric, agg, op)
    assert t.value == pytest.approx(value)


@pytest.mark.parametrize(
    ("expr", "why"),
    [
        ("job_e2e p99 < 130s", "does not read as"),
        ("job_e2e:p99<", "does not read as"),
        ("e2e:p99<130s", "metric 'e2e' is unknown"),
        ("job_e2e:p100.5<1s", "aggregate 'p100.5' is unknown"),
        ("job_e2e:mean<1s", "aggregate 'mean' is unknown"),
        ("lost_jobs:p99==0", "takes no aggregate"),
        ("proxy_timeouts<5s", "applies to durations only"),
        ("sse_reconnects:max<3s", "applies to durations only"),
        ("status:p99<1%", "'%' applies to fail_ratio only"),
    ],
)
def test_a_bad_expression_is_named_with_the_reason_and_the_grammar(expr: str, why: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_threshold(expr)
    message = str(caught.value)
    assert repr(expr) in message and why in message
    assert "Accepted: METRIC[:AGGREGATE] OP VALUE[UNIT]" in message and "job_e2e" in message


def test_defaults_come_first_and_can_be_turned_off() -> None:
    both = parse_thresholds(["job_e2e:p99<130s;status:p99<1s"])
    assert [t.expr for t in both] == [*DEFAULT_THRESHOLDS, "job_e2e:p99<130s", "status:p99<1s"]
    assert [t.expr for t in parse_thresholds(["proxy_timeouts<=2"], defaults=False)] == ["proxy_timeouts<=2"]


class Source:
    """Rows by metric (values in ms) and checker counts, as the plugin's StatsSource would give them."""

    def __init__(self, rows: dict[str, tuple[list[float], int]], counts: dict[str, float] | None = None) -> None:
        self.rows, self.counts = rows, counts

    def samples(self, metric: str) -> Sample | None:
        if metric not in self.rows:
            return None
        values, failures = self.rows[metric]
        ordered = sorted(values)

        def percentile(q: float) -> float:
            return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0

        avg = sum(values) / len(values) if values else 0.0
        lo, hi = min(values, default=0.0), max(values, default=0.0)
        return Sample(len(values), failures, len(values) / 10, avg, lo, hi, percentile)

    def verdict(self, metric: str) -> float | None:
        return None if self.counts is None else self.counts.get(metric)


def judged(exprs: list[str], source: Source) -> dict[str, tuple[float | None, bool]]:
    return {v.threshold.expr: (v.observed, v.passed) for v in evaluate(parse_thresholds(exprs, False), source)}


def test_percentiles_counts_ratios_and_verdict_counts_are_judged() -> None:
    e2e = [float(ms) for ms in range(1_000, 101_000, 1_000)]  # 1 s .. 100 s
    source = Source(
        {"job_e2e": (e2e, 2), "proxy_timeouts": ([3000.0, 3100.0], 2)},
        {"lost_jobs": 0, "checksum_mismatches": 1},
    )
    got = judged(
        [
            "job_e2e:p99<130s",
            "job_e2e:p50<=50s",
            "job_e2e:max<100s",
            "job_e2e:fail_ratio<1%",
            "job_e2e:count>=100",
            "proxy_timeouts==0",
            "lost_jobs==0",
            "checksum_mismatches==0",
        ],
        source,
    )
    assert got["job_e2e:p99<130s"] == (100_000, True)
    assert got["job_e2e:p50<=50s"] == (51_000, False)
    assert got["job_e2e:max<100s"] == (100_000, False)
    assert got["job_e2e:fail_ratio<1%"] == (0.02, False)
    assert got["job_e2e:count>=100"] == (100, True)
    assert got["proxy_timeouts==0"] == (2, False)
    assert got["lost_jobs==0"] == (0, True)
    assert got["checksum_mismatches==0"] == (1, False)


def test_a_metric_without_samples_counts_zero_but_has_no_shape() -> None:
    got = judged(["proxy_timeouts==0", "job_e2e:count==0", "job_e2e:p99<130s", "lost_jobs==0"], Source({}, None))
    assert got["proxy_timeouts==0"] == (0, True)
    assert got["job_e2e:count==0"] == (0, True)
    assert got["job_e2e:p99<130s"] == (None, False)  # a claim about latency needs latencies
    assert got["lost_jobs==0"] == (None, False)  # no verdict: the checker did not run


def test_the_report_says_what_failed_and_what_was_observed() -> None:
    source = Source({"job_e2e": ([2500.0], 0), "status": ([4.0, 6.0], 1)})
    text = render(evaluate(parse_thresholds(["job_e2e:p99<2s", "status:fail_ratio<=50%"], False), source))
    assert text.splitlines()[0] == "thresholds: 1 of 2 passed, 1 FAILED"
    assert "FAIL  job_e2e:p99<2s" in text and "observed 2.500 s" in text
    assert "PASS  status:fail_ratio<=50%" in text and "observed 50.00 %" in text


def test_holds_compares_with_the_operator() -> None:
    t = Threshold("x", "job_e2e", "max", ">=", 10)
    assert t.holds(10) and t.holds(11) and not t.holds(9.9)
