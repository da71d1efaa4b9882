"""`harness chaos` as a user runs it: a case per fault against a service booted from its spec, a verdict per case,
the report; and its negative control, a spec whose service has a planted defect, fails naming the anomaly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.stack.test_service_spec import write_spec

pytestmark = pytest.mark.chaos


def harness_chaos(
    spec: Path, out: Path, time_scale: float, *faults: str, profile: str | None = None
) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "harness.cli.main", "chaos", "--service", str(spec), "--faults", ",".join(faults)]
    argv += ["--profile", profile] if profile else []
    argv += ["--jobs", "8", "--time-scale", str(time_scale), "--out", str(out)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=600, env=os.environ.copy())


def test_each_case_gets_a_verdict_and_the_run_a_report(tmp_path: Path, time_scale: float) -> None:
    spec = write_spec(tmp_path / "service.toml", lambda data: None)
    done = harness_chaos(spec, tmp_path / "out", time_scale, "worker-sigkill", "redis-restart")
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert [line.split()[:2] for line in lines[:2]] == [["worker-sigkill", "ok"], ["redis-restart", "ok"]]
    assert lines[-1] == "verdict: every case held"
    assert {"report.html", "summary.md", "results.json"} <= {p.name for p in (tmp_path / "out").iterdir()}


def test_a_planted_defect_fails_the_run_naming_it(tmp_path: Path, time_scale: float) -> None:
    def plant(data: dict[str, Any]) -> None:
        data["env"]["REFERENCE_BUG_IGNORE_CLIENT_REQUEST_ID"] = "1"  # a retried initiate makes a second job

    spec = write_spec(tmp_path / "buggy.toml", plant)
    done = harness_chaos(spec, tmp_path / "out", time_scale, "reset-peer-edge")
    assert done.returncode == 1 and done.stdout, done.stdout + done.stderr[-3000:]
    assert done.stdout.splitlines()[0].split()[:2] == ["reset-peer-edge", "FAIL"], done.stdout + done.stderr[-3000:]
    assert "duplicate_job" in done.stderr and done.stdout.splitlines()[-1] == "verdict: failed: reset-peer-edge"


def test_a_case_that_judged_no_job_is_inconclusive_not_a_pass(tmp_path: Path, time_scale: float) -> None:
    """Clients speaking another implementation's profile: every initiate is refused, nothing is acknowledged, and
    a verdict over no job is no verdict."""
    spec = write_spec(tmp_path / "service.toml", lambda data: None)
    other = str(Path(__file__).resolve().parents[1] / "other_impl" / "profile.toml")
    done = harness_chaos(spec, tmp_path / "out", time_scale, "reset-peer-edge", profile=other)
    assert done.returncode == 1 and done.stdout, done.stdout + done.stderr[-3000:]
    first = done.stdout.splitlines()[0].split()
    assert first[:4] == ["reset-peer-edge", "INCONCLUSIVE", "acknowledged", "0"], done.stdout
