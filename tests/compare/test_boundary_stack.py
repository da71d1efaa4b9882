"""Boundary searches that must find a known boundary: legacy behind nginx-defaults (its 60 s read timer) and SSE
behind short (its 30 s stream read timer), each within 10 % of the prediction."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli.main import main
from harness.compare.boundary import SearchSpec, search_one

pytestmark = pytest.mark.stack


def test_legacy_behind_nginx_defaults_breaks_near_60_s(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["boundary", "--configs", "nginx-defaults", "--flows", "legacy", "--time-scale", "0.05"]
    assert main([*argv, "--out", str(tmp_path)]) == 0, capsys.readouterr().out
    (found,) = json.loads((tmp_path / "results.json").read_text())["boundaries"]
    assert found["predicted_s"] == 60.0 and found["relation"] == "between"
    assert found["lower_s"] < found["upper_s"] <= 66.0
    assert abs(found["measured_s"] - 60.0) <= 6.0 and found["agrees"]
    assert [p[1] for p in found["probes"]].count("fail") >= 1 and len(found["probes"]) <= 10
    assert "504 after" in " ".join(p[2] for p in found["probes"])


def test_sse_behind_short_breaks_near_its_30_s_stream_timer() -> None:
    found = search_one("short", "sse", SearchSpec(time_scale=0.05, tolerance=0.04, max_probes=8))
    assert found["predicted_s"] == 30.0 and found["relation"] == "between"
    assert abs(found["measured_s"] - 30.0) <= 3.0 and found["agrees"]
    passed = [p for p in found["probes"] if p[1] == "pass"]
    assert passed and all(p[2].startswith("heartbeat after") for p in passed)
