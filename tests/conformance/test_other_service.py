"""The second implementation run by the harness from its service spec, as a user runs their own: every tool of
the command line pointed at it, with the verdicts its variant predicts. `OTHER_DEFECTS=none` (inherited by the
stack's local processes) is the clean variant; unset, it ships with racy idempotency."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conformance.conftest import OTHER_SPEC

pytestmark = [pytest.mark.contract, pytest.mark.chaos]


def harness(*argv: str, defects: str | None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "OTHER_DEFECTS"}
    if defects is not None:
        env["OTHER_DEFECTS"] = defects
    command = [sys.executable, "-m", "harness.cli.main", *argv]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, check=False)


def test_conformance_from_the_spec_fails_only_on_the_shipped_defect(tmp_path: Path, time_scale: float) -> None:
    done = harness("conformance", "--service", str(OTHER_SPEC), "--time-scale", repr(time_scale),
                   "--out", str(tmp_path), defects=None)  # fmt: skip
    report = json.loads((tmp_path / "conformance.json").read_text())
    failed = {p["name"] for p in report["points"] if p["verdict"] == "fail"}
    expected = {"idempotency.concurrent", "history.invariants"}  # the probes' duplicates, named by the checker too
    assert done.returncode == 1 and failed == expected, done.stdout[-3000:] + done.stderr[-2000:]
    clean = harness("conformance", "--service", str(OTHER_SPEC), "--time-scale", repr(time_scale),
                    "--out", str(tmp_path / "clean"), defects="none")  # fmt: skip
    assert clean.returncode == 0 and "0 fail" in clean.stdout, clean.stdout[-3000:] + clean.stderr[-2000:]


def test_the_chaos_catalogue_holds_on_the_clean_variant(tmp_path: Path, time_scale: float) -> None:
    """Worker SIGKILL, Redis SIGKILL, a Redis outage, a paused Redis and an API restart on processes the harness
    started from the spec: every case judged (jobs acknowledged and followed to their end) and held."""
    cases = ["worker-sigkill", "redis-sigkill", "redis-outage", "redis-pause", "api-restart"]
    done = harness("chaos", "--service", str(OTHER_SPEC), "--faults", ",".join(cases), "--jobs", "8",
                   "--time-scale", repr(time_scale), "--out", str(tmp_path), defects="none")  # fmt: skip
    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert [line.split()[:2] for line in lines[: len(cases)]] == [[case, "ok"] for case in cases], done.stdout
    assert lines[-1] == "verdict: every case held"
    results = json.loads((tmp_path / "results.json").read_text())
    jobs = results["configs"][0]["jobs"]
    assert jobs["completed"] + jobs["cancelled"] == jobs["acknowledged"] > 0, jobs  # some users may cancel


def test_compare_behind_named_fronts_on_its_own_routes(tmp_path: Path, time_scale: float) -> None:
    """The fronts select the stream by the profile's paths: buffered-sse holds this service's stream (its SSE
    fails, as the header says), recommended passes; the legacy flow it lacks is n/a, never a failure."""
    done = harness("compare", "--service", str(OTHER_SPEC), "--configs", "recommended,buffered-sse", "--jobs", "8",
                   "--time-scale", repr(time_scale), "--out", str(tmp_path), defects="none")  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    results = json.loads((tmp_path / "results.json").read_text())
    verdicts = {c["name"]: {f: v["verdict"] for f, v in c["flows"].items()} for c in results["configs"]}
    assert verdicts == {
        "recommended": {"poll": "pass", "sse": "pass", "download": "pass", "legacy": "n/a"},
        "buffered-sse": {"poll": "pass", "sse": "fail", "download": "pass", "legacy": "n/a"},
    }, done.stdout[-3000:]
    assert results["verdict"]["ship"] == "recommended"
    assert results["workload"]["service"] == str(OTHER_SPEC)


def test_locust_takes_the_spec_and_its_profile(tmp_path: Path, time_scale: float) -> None:
    history = tmp_path / "history.jsonl"
    done = harness("locust", "mixed", "--", "--service", str(OTHER_SPEC), "--headless", "-u", "6", "-r", "6",
                   "-t", "10s", "--stop-timeout", "10", "--time-scale", repr(time_scale), "--history", str(history),
                   defects="none")  # fmt: skip
    text = done.stdout + done.stderr
    assert done.returncode == 0, text[-4000:]
    assert "harness check: VALID" in text and "PASS  inconclusive==0" in text, text[-4000:]
    # Judged, not merely quiet: the users spoke the spec's profile (the reference's would be refused: 0 jobs).
    assert "inconclusive:" not in text and "acknowledged 0," not in text, text[-4000:]
