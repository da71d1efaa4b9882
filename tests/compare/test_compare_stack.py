"""`harness compare` over four fronts as a user runs it: each flow's verdict matches the config header, the run
is reported, and the report can be rebuilt from the histories it recorded."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from harness.cli.main import main
from harness.fronts.nginx import FLOWS, load_proxy_config
from harness.fronts.timers import chain_timers

pytestmark = pytest.mark.stack
CONFIGS = ["recommended", "nginx-defaults", "buffered-sse", "cloudflare-edge"]
SCALE = 0.05


def test_the_matrix_matches_every_config_header(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    argv = ["compare", "--configs", ",".join(CONFIGS), "--jobs", "10", "--seed", "3", "--out", str(out)]
    code = main([*argv, "--time-scale", str(SCALE)])
    printed = capsys.readouterr().out
    assert code == 0, printed[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert [c["name"] for c in results["configs"]] == CONFIGS
    for config in results["configs"]:
        header = load_proxy_config(config["name"]).expectations
        predicted = chain_timers(load_proxy_config(config["name"]), SCALE).predicted_verdicts()
        verdicts = {flow: config["flows"][flow]["verdict"] for flow in FLOWS}
        assert verdicts == dict(header) == predicted, (config["name"], verdicts, config["examples"])
        assert config["jobs"]["lost"] == 0 and config["jobs"]["acknowledged"] >= 10
    cut = {c["name"]: c["flows"]["legacy"]["proxy_codes"] for c in results["configs"]}
    assert set(cut["cloudflare-edge"]) == {"524"} and set(cut["nginx-defaults"]) == {"504"}
    assert results["verdict"]["ship"] == "recommended"
    assert results["configs"][2]["flows"]["sse"]["max_gap_s"] >= 60.0  # buffered: silent past its idle timer
    for config in CONFIGS:
        assert re.search(rf"^\[\s*\d+\.\d s\] {config}: stack up in", printed, re.M), printed
    assert f"verdict: {results['verdict']['sentence']}" in printed
    assert {p.name for p in out.iterdir()} >= {"report.html", "summary.md", "results.json", "run.json", *CONFIGS}

    assert main(["report", str(out), "--out", str(tmp_path / "again")]) == 0
    again = json.loads((tmp_path / "again" / "results.json").read_text())
    assert [c["flows"] for c in again["configs"]] == [c["flows"] for c in results["configs"]]
    assert again["verdict"] == results["verdict"]
