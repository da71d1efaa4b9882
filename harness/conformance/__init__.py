"""Conformance: a bounded black-box run that checks every contract point a profile declares against a URL.

    from harness.conformance import ConformanceConfig, run_conformance
    result = run_conformance(ConformanceConfig("http://127.0.0.1:8000", load_profile("reference"), 0.05))
    result.ok, result.as_dict()      # a verdict per point: pass / fail / absent, with evidence

`harness conformance --target URL --profile NAME|FILE` prints the table (see `harness.cli.conformance`).
"""

from __future__ import annotations

from harness.conformance.context import ConformanceConfig
from harness.conformance.results import ConformanceResult, Point, Verdict
from harness.conformance.runner import run_conformance

__all__ = ["ConformanceConfig", "ConformanceResult", "Point", "Verdict", "run_conformance"]
