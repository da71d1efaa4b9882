"""`harness conformance` against live services: the reference passes under its profile; the second
implementation, read through its own profile, fails exactly on its one defect; the checks catch a defect
switched on in the reference (negative control); a wrong profile gives failed points, never a crash."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli.main import main
from harness.conformance import ConformanceConfig, run_conformance
from harness.conformance.render import render_table
from harness.conformance.runner import ORDER
from harness.contract import ContractProfile
from harness.contract.profiles import load_profile
from tests.conformance.conftest import OTHER_PROFILE

pytestmark = pytest.mark.contract
OTHER_LACKS = {"status.no_store", "errors.problem_json", "legacy_start"}


def _verdicts(points: list[dict[str, str]], verdict: str) -> set[str]:
    return {p["name"] for p in points if p["verdict"] == verdict}


def test_the_reference_passes_every_point_under_the_reference_profile(service, time_scale: float) -> None:
    result = run_conformance(ConformanceConfig(service.url, load_profile("reference"), time_scale))
    table = render_table(result)
    assert result.ok, table
    assert [p.name for p in result.points] == ORDER
    assert result.counts == {"pass": len(ORDER), "fail": 0, "absent": 0, "inconclusive": 0}
    assert result.wall_s < 120, table


def test_the_other_implementation_fails_only_on_its_defect(
    other_service: str, time_scale: float, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["conformance", "--target", other_service, "--profile", str(OTHER_PROFILE), "--time-scale", repr(time_scale)]
    code = main([*argv, "--out", str(tmp_path)])
    printed = capsys.readouterr().out
    report = json.loads((tmp_path / "conformance.json").read_text())
    assert code == 1, printed
    # the probes are recorded: the checker names the same defect in the run's history
    assert _verdicts(report["points"], "fail") == {"idempotency.concurrent", "history.invariants"}, printed
    assert _verdicts(report["points"], "absent") == OTHER_LACKS, printed
    judged = next(p for p in report["points"] if p["name"] == "history.invariants")
    assert "duplicate_job: clientRequestId 'conformance-" in judged["evidence"], judged
    defect = next(p for p in report["points"] if p["name"] == "idempotency.concurrent")
    assert "distinct jobs" in defect["evidence"] and len(defect["data"]["rounds"][-1]["jobs"]) > 1
    assert "idempotency.concurrent  fail" in printed and "-> FAIL" in printed
    assert "| `idempotency.concurrent` | **FAIL** |" in (tmp_path / "conformance.md").read_text()
    assert (tmp_path / "history.jsonl").stat().st_size > 0 and report["profile"] == "other"


def test_a_defect_switched_on_in_the_reference_is_caught(service, time_scale: float) -> None:
    """Negative control: the reference ignoring clientRequestId must fail both idempotency points, and only them
    (and the checker over the run's history, which holds the probes, names the duplicates)."""
    url = service.extra_api(REFERENCE_BUG_IGNORE_CLIENT_REQUEST_ID="1")
    result = run_conformance(ConformanceConfig(url, load_profile("reference"), time_scale))
    failed = {p.name for p in result.points if p.verdict == "fail"}
    assert failed == {"idempotency.retry", "idempotency.concurrent", "history.invariants"}, render_table(result)
    judged = next(p for p in result.points if p.name == "history.invariants")
    assert "duplicate_job" in judged.evidence, render_table(result)


def test_the_wrong_profile_fails_points_without_crashing(other_service: str, time_scale: float) -> None:
    reference: ContractProfile = load_profile("reference")
    result = run_conformance(ConformanceConfig(other_service, reference, time_scale, budget_s=30))
    assert not result.ok and result.wall_s < 40
    assert {"initiate.shape", "status.shape"} <= {p.name for p in result.points if p.verdict == "fail"}
    assert all(p.evidence for p in result.points)


def test_conformance_with_a_service_spec_boots_checks_and_tears_down(tmp_path: Path, time_scale: float) -> None:
    """`harness conformance --service SPEC`: the stack is booted from the spec, checked with the spec's profile,
    and torn down; the history and reports land in --out."""
    argv = [sys.executable, "-m", "harness.cli.main", "conformance", "--service", "reference"]
    argv += ["--time-scale", str(time_scale), "--out", str(tmp_path)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert re.search(r"\d+ points: \d+ pass, 0 fail", done.stdout), done.stdout
    assert (tmp_path / "history.jsonl").stat().st_size > 0
