"""Pass/fail thresholds, k6-style: `--threshold "job_e2e:p99<130s"`, `--threshold "proxy_timeouts==0"`.

A threshold names a metric, an optional aggregate (default `count`), a comparison and a value. Durations are
milliseconds unless a unit says otherwise (`ms`, `s`, `m`), on this machine's clock. Metrics come from Locust's
aggregated stats (on the master when distributed) or from the checker's verdict over the run's histories.
This module imports nothing from Locust, so it is unit-tested without gevent.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from harness.core.errors import ConfigError

MetricKind = Literal["time", "number", "verdict"]

# Locust rows whose "response time" is a duration in ms, or a plain number (reconnects per stream).
TIME_METRICS = (
    "job_e2e",
    "job_download",
    "job_resume",
    "sse_first_event",
    "sse_max_gap",
    "initiate",
    "status",
    "stream",
    "download",
    "artifact",
    "cancel",
    "legacy_start",
    "proxy_timeouts",
    "async_proxy_timeouts",
    "requests",
)
NUMBER_METRICS = ("sse_reconnects",)
VERDICT_METRICS = ("lost_jobs", "duplicate_jobs", "checksum_mismatches", "anomalies", "completed_jobs", "inconclusive")
METRICS: dict[str, MetricKind] = {
    **dict.fromkeys(TIME_METRICS, "time"),
    **dict.fromkeys(NUMBER_METRICS, "number"),
    **dict.fromkeys(VERDICT_METRICS, "verdict"),
}
COUNTERS = ("count", "failures", "fail_ratio", "rps")
SHAPES = ("avg", "min", "max", "med")
DEFAULT_THRESHOLDS = (
    "proxy_timeouts==0", "lost_jobs==0", "duplicate_jobs==0", "checksum_mismatches==0", "inconclusive==0",
)  # fmt: skip

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
}
_UNITS = {"ms": 1.0, "s": 1000.0, "m": 60_000.0}
_EXPR = re.compile(
    r"^\s*(?P<metric>[a-z][a-z0-9_]*)\s*(?::\s*(?P<agg>[a-z_]+|p\d+(?:\.\d+)?)\s*)?"
    r"(?P<op><=|>=|==|!=|<|>)\s*(?P<value>[+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*(?P<unit>ms|s|m|%)?\s*$"
)

GRAMMAR = (
    "METRIC[:AGGREGATE] OP VALUE[UNIT], e.g. 'job_e2e:p99<130s', 'proxy_timeouts==0', 'status:fail_ratio<1%'\n"
    f"  METRIC: {', '.join(METRICS)}\n"
    f"  AGGREGATE: {', '.join(COUNTERS)}, {', '.join(SHAPES)}, pNN[.N] (default count; "
    f"{', '.join(VERDICT_METRICS)} take count only)\n"
    f"  OP: {' '.join(_OPS)}\n"
    "  UNIT: ms (default), s, m for durations; % for fail_ratio"
)


@dataclass(frozen=True)
class Threshold:
    """One parsed expression; `value` is normalised (ms for durations, a 0-1 ratio for fail_ratio)."""

    expr: str
    metric: str
    aggregate: str
    op: str
    value: float

    def holds(self, observed: float) -> bool:
        return _OPS[self.op](observed, self.value)


def parse_threshold(expr: str) -> Threshold:
    """Parse one expression; a ConfigError names it, says what is wrong and shows the grammar."""
    match = _EXPR.match(expr)
    if match is None:
        raise _bad(expr, "it does not read as METRIC[:AGGREGATE] OP VALUE[UNIT]")
    metric, agg, op = match["metric"], match["agg"] or "count", match["op"]
    value, unit = float(match["value"]), match["unit"]
    kind = METRICS.get(metric)
    if kind is None:
        raise _bad(expr, f"metric {metric!r} is unknown")
    if kind == "verdict" and agg != "count":
        raise _bad(expr, f"{metric} is a count from the checker; it takes no aggregate {agg!r}")
    if agg not in COUNTERS and agg not in SHAPES and _percentile(agg) is None:
        raise _bad(expr, f"aggregate {agg!r} is unknown")
    if unit == "%":
        if agg != "fail_ratio":
            raise _bad(expr, "'%' applies to fail_ratio only")
        value /= 100
    elif unit is not None:
        if kind != "time" or agg in COUNTERS:
            raise _bad(expr, f"unit {unit!r} applies to durations only (a timing aggregate of a timed metric)")
        value *= _UNITS[unit]
    return Threshold(expr.strip(), metric, agg, op, value)


def parse_thresholds(exprs: Iterable[str], defaults: bool = True) -> list[Threshold]:
    """The defaults (unless turned off) then the given expressions; one expression may hold several, by ';'."""
    given = [part for expr in exprs for part in expr.split(";") if part.strip()]
    return [parse_threshold(e) for e in [*(DEFAULT_THRESHOLDS if defaults else ()), *given]]


def _percentile(agg: str) -> float | None:
    if not agg.startswith("p"):
        return None
    try:
        q = float(agg[1:]) / 100
    except ValueError:
        return None
    return q if 0 < q <= 1 else None


def _bad(expr: str, why: str) -> ConfigError:
    return ConfigError(f"threshold {expr!r}: {why}.\nAccepted: {GRAMMAR}")


class MetricSource(Protocol):
    """Where observed values come from: a row's sample count, failures, rate and response-time shape."""

    def samples(self, metric: str) -> Sample | None: ...

    def verdict(self, metric: str) -> float | None: ...


@dataclass(frozen=True)
class Sample:
    """One metric's aggregate over the run: counts, rate, and a percentile function over its values."""

    count: int
    failures: int
    rps: float
    avg: float
    min: float
    max: float
    percentile: Callable[[float], float]


@dataclass(frozen=True)
class Verdict:
    """How one threshold fared; `observed` is None when there was nothing to measure."""

    threshold: Threshold
    observed: float | None
    passed: bool

    def line(self) -> str:
        t = self.threshold
        shown = "no samples" if self.observed is None else _show(t, self.observed)
        return f"{'PASS' if self.passed else 'FAIL'}  {t.expr:<34} observed {shown}"


def observe(threshold: Threshold, source: MetricSource) -> float | None:
    """The observed value a threshold is judged on; None when a shape is asked of a metric without samples."""
    if METRICS[threshold.metric] == "verdict":
        return source.verdict(threshold.metric)
    sample, agg = source.samples(threshold.metric), threshold.aggregate
    if agg in ("count", "failures", "fail_ratio", "rps"):
        if sample is None:
            return 0.0
        ratio = sample.failures / sample.count if sample.count else 0.0
        return {"count": sample.count, "failures": sample.failures, "fail_ratio": ratio, "rps": sample.rps}[agg]
    if sample is None or sample.count == 0:
        return None
    shapes = {"avg": sample.avg, "min": sample.min, "max": sample.max}
    return shapes[agg] if agg in shapes else sample.percentile(0.5 if agg == "med" else _percentile(agg) or 1.0)


def evaluate(thresholds: Sequence[Threshold], source: MetricSource) -> list[Verdict]:
    """Judge every threshold; one with nothing to measure fails (a threshold is a claim that needs evidence)."""
    out = []
    for t in thresholds:
        observed = observe(t, source)
        passed = observed is not None and not math.isnan(observed) and t.holds(observed)
        out.append(Verdict(t, observed, passed))
    return out


def _show(t: Threshold, observed: float) -> str:
    if t.aggregate == "fail_ratio":
        return f"{observed * 100:.2f} %"
    if t.aggregate in COUNTERS or METRICS[t.metric] != "time":
        return f"{observed:g}"
    return f"{observed / 1000:.3f} s" if observed >= 1000 else f"{observed:.1f} ms"


def render(verdicts: Sequence[Verdict]) -> str:
    failed = [v for v in verdicts if not v.passed]
    head = f"thresholds: {len(verdicts) - len(failed)} of {len(verdicts)} passed"
    return "\n".join([head + (f", {len(failed)} FAILED" if failed else ""), *(f"  {v.line()}" for v in verdicts)])
