"""`harness report PATH` on what runs leave behind: a Locust run directory (history JSONL + --csv), a history file."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from harness.cli.main import main
from harness.judge.history import History

pytestmark = pytest.mark.unit
LOCUST_COLUMNS = [
    "Type",
    "Name",
    "Request Count",
    "Failure Count",
    "Median Response Time",
    "95%",
    "99%",
    "Max Response Time",
]


def record_run(path: Path) -> None:
    """A small history as the clients write it: a polled job, a streamed one, a download, a legacy start cut by 504."""
    with History(path) as h:
        inv = h.invoke("initiate", "user-1", client_request_id="c1")
        h.complete(inv, "ok", job_id="j1", status="queued", http_status=202)
        inv = h.invoke("status", "user-1", job_id="j1")
        h.complete(inv, "ok", job_id="j1", status="completed", progress=100.0, attempts=1, http_status=200)
        inv = h.invoke("stream", "user-1", job_id="j1", follower="user-1/sse-1")
        h.event(inv, event="completed", event_id=3, status="completed")
        h.complete(inv, "ok", max_gap_s=0.75, first_event_s=0.01, http_status=200)
        inv = h.invoke("download", "user-1", job_id="j1")
        h.complete(inv, "ok", http_status=302)
        inv = h.invoke("legacy_start", "user-2")
        h.complete(inv, "info", http_status=504, error="http_504")


def test_a_locust_run_directory_becomes_a_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "locust-run"
    run.mkdir()
    record_run(run / "history.jsonl")
    with (run / "stats_stats.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(LOCUST_COLUMNS)
        writer.writerow(["POST", "initiate", "1", "0", "12", "12", "12", "12"])
        writer.writerow(["", "Aggregated", "1", "0", "12", "12", "12", "N/A"])
    out = tmp_path / "out"
    code = main(["report", str(run), "--out", str(out), "--time-scale", "0.05", "--config", "nginx-defaults"])
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    assert results["kind"] == "locust" and results["title"] == "Locust run behind nginx-defaults"
    (config,) = results["configs"]
    flows = config["flows"]
    assert [flows[f]["verdict"] for f in ("poll", "sse", "download", "legacy")] == ["pass", "pass", "pass", "fail"]
    assert flows["legacy"]["proxy_timeouts"] == 1 and flows["legacy"]["matches"] is True
    assert flows["sse"]["max_gap_s"] == pytest.approx(15.0)  # 0.75 s on the clock at 0.05
    assert [r["name"] for r in results["locust"]] == ["initiate", "Aggregated"]
    assert results["locust"][1]["max_ms"] is None
    markdown = (out / "summary.md").read_text()
    assert "### Locust stats" in markdown and "| POST | initiate | 1 | 0 | 12 |" in markdown
    assert f"verdict: {results['verdict']['sentence']}" in capsys.readouterr().out


def test_a_history_file_without_a_known_front_still_reports(tmp_path: Path) -> None:
    record_run(tmp_path / "chaos.jsonl")
    assert main(["report", str(tmp_path / "chaos.jsonl"), "--out", str(tmp_path / "out"), "--time-scale", "0.05"]) == 0
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    (config,) = results["configs"]
    assert results["kind"] == "chaos" and config["name"] == "chaos run"
    assert config["flows"]["legacy"]["expected"] is None and config["flows"]["legacy"]["matches"] is None
    assert results["verdict"]["ship"] == "chaos run"


def test_a_path_with_nothing_to_report_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    assert "holds no run.json, history (*.jsonl) or results.json" in capsys.readouterr().err
