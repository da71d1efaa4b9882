"""The judge's shape: one protocol for the invariants run in report order, statistics apart from detection,
and the public names where the rest of the harness finds them."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

import harness.judge as judge
from harness.judge import invariants, params, render, verdict
from harness.judge.facts import Facts
from harness.judge.index import Index
from harness.judge.stats import compute_stats

pytestmark = pytest.mark.unit

PARAMS = judge.CheckParams(deadline_s=10.0, idle_timer_s=3.0, budget_s=2.0)


def _broken() -> list[judge.Record]:
    """One history breaking five invariants: a lost job, a regression, a duplicate, a proxy timeout, a cancel."""

    def done(t: float, op: str, **seen: Any) -> judge.Record:
        return judge.Record("ok", t, t, op, f"{op}-{t}", "c1", latency_s=0.1, source=f"h:{t}", **seen)

    return [
        done(0.0, "initiate", job_id="j1", client_request_id="r1", status="queued"),
        done(1.0, "initiate", job_id="j2", client_request_id="r1", status="queued"),
        done(2.0, "status", job_id="j2", status="completed", attempts=1),
        done(3.0, "status", job_id="j2", status="running", attempts=1),
        done(4.0, "status", job_id="j3", http_status=504),
        done(5.0, "status", job_id="j4", status="cancelled", attempts=1),
        done(20.0, "status", job_id="j1", status="queued", attempts=0),
    ]


def test_the_invariants_share_one_protocol_and_run_in_report_order() -> None:
    names = [f.__name__ for f in invariants.INVARIANTS]
    assert names == ["check_lost", "check_order", "check_identity", "check_requests", "check_streams", "check_cancels",
                     "check_artifacts", "check_resources", "check_ghosts"]  # fmt: skip
    ix = Index.build(_broken(), PARAMS)
    found = [f for invariant in invariants.INVARIANTS for f in invariant(ix, PARAMS)]
    assert all(isinstance(f, invariants.Finding) for f in found)
    result = judge.check(_broken(), PARAMS)
    lines = {n: r for n, r in enumerate(_broken())}
    assert [(a.kind, a.job_id, a.message) for a in result.anomalies] == [
        (f.kind, f.job_id, f.anomaly(lines).message) for f in found
    ]
    kinds = [a.kind for a in result.anomalies]
    assert kinds == ["lost_job", "status_regression", "duplicate_job", "proxy_timeout", "unexpected_cancel"]


def test_statistics_are_computed_from_the_index_apart_from_detection() -> None:
    records = _broken()
    result = judge.check(records, PARAMS)
    assert compute_stats(Index.build(records, PARAMS), Facts.of(records), PARAMS, faults=0) == result.stats
    assert result.stats.jobs["lost"] == 1 and result.stats.jobs["duplicated"] == 1
    assert result.stats.proxy_timeouts == {"async": {504: 1}, "legacy": {}}


def test_the_public_names_are_the_defining_modules_objects() -> None:
    assert (judge.check, judge.CheckResult, judge.render_text) == (
        verdict.check,
        verdict.CheckResult,
        render.render_text,
    )
    assert judge.CheckParams is params.CheckParams


def test_importing_the_judge_loads_neither_the_cli_nor_anything_outside_the_standard_library_and_core() -> None:
    code = (
        "import sys; before = set(sys.modules); import harness.judge; stdlib = sys.stdlib_module_names; "
        "print(' '.join(sorted(m for m in set(sys.modules) - before if m.split('.')[0] not in stdlib)))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split()
    assert "harness.cli.check" not in loaded
    assert all(m == "harness" or m.startswith(("harness.core", "harness.judge")) for m in loaded), loaded
