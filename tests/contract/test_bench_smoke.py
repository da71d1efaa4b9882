"""The service benchmark runs end to end in quick mode and writes its figures; no timing is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.contract
BENCH = Path(__file__).resolve().parents[2] / "bench" / "service_bench.py"


def _assert_clean(window: dict, where: str) -> None:
    assert window["sent"] > 0 and window["ok"] > 0, f"{where}: no request answered: {window}"
    assert window["errors"] == 0, f"{where}: errors {window['error_kinds']}"
    assert {"p50_ms", "p99_ms", "p999_ms", "generator", "cpu_share"} <= set(window), where


def test_quick_bench_writes_figures_with_positive_counts_and_no_errors(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, f"bench exited {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    figures = json.loads(out.read_text())
    assert {"command", "machine", "config", "aims", "initiate", "status", "capacity"} <= set(figures)
    assert figures["machine"]["cores"] >= 1 and figures["machine"]["python"]
    _assert_clean(figures["initiate"], "initiate")
    _assert_clean(figures["status"], "status")
    for target in ("api", "floor"):
        steps = figures["capacity"][target]["steps"]
        assert steps, f"capacity ramp ran no step for {target}"
        for step in steps:
            _assert_clean(step, f"{target} at {step['rate']}/s")
    assert "ratio" in figures["capacity"]
