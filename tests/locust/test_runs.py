"""`locust -f scenarios/...` as a user runs it (a subprocess, headless, scaled time): the verdicts it prints,
the exit code it returns, the stats it writes, and the stack it boots and tears down."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.judge import CheckParams, check
from harness.judge.history import read_history
from harness.stack import Stack, StackConfig
from tests.conftest import wait_until

pytestmark = pytest.mark.stack
ROOT = Path(__file__).resolve().parents[2]
LOCUST = Path(sys.executable).with_name("locust")
SCALE = "0.05"


def locust_argv(*args: str) -> list[str]:
    return [str(LOCUST), "--headless", "--time-scale", SCALE, *args]


ENV = {**os.environ, "PATH": f"{ROOT / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}


def locust(*args: str, timeout: float = 150) -> subprocess.CompletedProcess[str]:
    argv = locust_argv(*args)
    return subprocess.run(argv, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=timeout, check=False)


def users_of(workdir: Path) -> list[str]:
    """Processes whose command line or environment names the stack's directory (nginx, Redis, API, workers)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            seen = (proc / "cmdline").read_bytes() + (proc / "environ").read_bytes()
        except OSError:
            continue
        if str(workdir).encode() in seen and proc.name != str(os.getpid()):
            found.append(proc.name)
    return found


def output(run: subprocess.CompletedProcess[str]) -> str:
    return run.stdout + run.stderr


def final_rows(prefix: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """Locust's final stats (--json-file is written at exit; the CSV lags by up to its write interval)."""
    entries = json.loads(Path(f"{prefix}.json").read_text())
    return {(e["method"], e["name"]): e for e in entries}


def count(rows: dict[tuple[str, str], dict[str, Any]], kind: str, name: str) -> int:
    row = rows.get((kind, name))
    return int(row["num_requests"]) if row else 0


def test_mixed_run_behind_the_recommended_front_passes_with_every_job_completed_and_verified(tmp_path: Path) -> None:
    history, stats = tmp_path / "history.jsonl", tmp_path / "stats"
    args = ["-u", "20", "-r", "10", "-t", "20s", "--stop-timeout", "15", "--history", str(history)]
    args += ["--json-file", str(stats)]
    run = locust("-f", "scenarios/mixed.py", *args, "--threshold", "job_e2e:p99<30s;sse_max_gap:max<3s")
    text = output(run)
    assert run.returncode == 0, text[-4000:]
    assert "PROXY_TIMEOUT" not in text and "thresholds: 7 of 7 passed" in text
    logs = re.search(r"logs in (\S+)/logs", text)
    assert logs and not Path(logs.group(1)).exists(), "the stack's working directory outlived the run"
    result = check(read_history(history), CheckParams.for_scale(float(SCALE)))
    jobs = result.stats.jobs
    assert result.valid, [a.message for a in result.anomalies]
    assert jobs["acknowledged"] > 20 and jobs["completed"] == jobs["acknowledged"], jobs
    rows = final_rows(stats)
    assert count(rows, "JOB", "e2e") == jobs["completed"]
    assert count(rows, "JOB", "download") > 0 and rows[("JOB", "download")]["num_failures"] == 0
    artifacts = [r for r in read_history(history) if r.op == "artifact" and r.type != "invoke"]
    assert artifacts and all(r.checksum_ok for r in artifacts)
    assert count(rows, "SSE", "max_gap") > 0 and count(rows, "JOB", "resume") > 0 and count(rows, "JOB", "retry") > 0


def test_the_legacy_endpoint_behind_nginx_defaults_reports_504s_and_fails_the_run(tmp_path: Path) -> None:
    args = ["-u", "6", "-r", "6", "-t", "12s", "--proxy-config", "nginx-defaults", "--only-summary"]
    run = locust("-f", "scenarios/legacy.py", *args, "--history", str(tmp_path / "history.jsonl"))
    text = output(run)
    assert run.returncode == 3, text[-4000:]
    assert re.search(r"PROXY_TIMEOUT legacy_start 504 +[1-9]", text), text[-4000:]
    assert re.search(r"FAIL  proxy_timeouts==0 +observed [1-9]", text)
    assert re.search(r"proxy timeouts, legacy: 504 x[1-9]", text) and "proxy timeouts, async: none" in text


def test_with_host_it_drives_a_running_stack_and_leaves_it_running(tmp_path: Path) -> None:
    config = StackConfig(time_scale=float(SCALE), workdir=tmp_path / "stack")
    with Stack(config) as stack:
        edge = stack.endpoints.edge_url
        args = ["-u", "5", "-r", "5", "-t", "8s", "--stop-timeout", "10", "--only-summary", "--host", edge]
        run = locust("-f", "scenarios/polling.py", *args, "--history", str(tmp_path / "history.jsonl"))
        text = output(run)
        assert run.returncode == 0, text[-4000:]
        assert "stack up" not in text and "stack stopped" not in text
        assert re.search(r"JOB +e2e +[1-9]", text)
        assert httpx.get(f"{edge}/health", timeout=5).status_code == 200


def test_a_distributed_run_aggregates_metrics_and_judges_thresholds_on_the_sum(tmp_path: Path) -> None:
    history, stats = tmp_path / "history.jsonl", tmp_path / "stats"
    args = ["-u", "12", "-r", "12", "-t", "12s", "--stop-timeout", "15", "--processes", "2", "--json-file", str(stats)]
    run = locust("-f", "scenarios/mixed.py", *args, "--history", str(history), "--threshold", "job_e2e:count>=1")
    text = output(run)
    assert run.returncode == 0, text[-4000:]
    files = sorted(tmp_path.glob("history-*.jsonl"))
    assert len(files) == 2 and not history.exists()
    per_file = [check(read_history(f), CheckParams.for_scale(float(SCALE))).stats for f in files]
    statuses = [sum(1 for r in read_history(f) if r.op == "status" and r.type != "invoke") for f in files]
    assert all(s.jobs["completed"] > 0 for s in per_file) and all(n > 0 for n in statuses), "both workers ran jobs"
    rows = final_rows(stats)
    completed = sum(s.jobs["completed"] for s in per_file)
    assert count(rows, "JOB", "e2e") == completed
    assert count(rows, "GET", "status") == sum(statuses)
    assert re.search(rf"PASS  job_e2e:count>=1 +observed {completed}\b", text), text[-3000:]
    assert f"completed {completed}," in text and "2 history file(s)" in text


def interruptible() -> None:
    """A terminal's foreground job takes Ctrl-C even when this suite runs as a background job (which
    inherits SIGINT ignored, and Python keeps an ignored SIGINT ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("processes", [[], ["--processes", "2"]], ids=["local", "processes"])
def test_ctrl_c_tears_the_stack_down_and_still_prints_the_verdict(tmp_path: Path, processes: list[str]) -> None:
    log = tmp_path / "locust.log"
    argv = locust_argv("-f", "scenarios/polling.py", "-u", "4", "-r", "4", "--history", str(tmp_path / "h.jsonl"))
    with open(log, "w") as out:  # its own process group, as a terminal's foreground job is
        proc = subprocess.Popen(
            [*argv, *processes],
            cwd=ROOT,
            env=ENV,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=interruptible,
        )
    try:
        up = wait_until(lambda: re.search(r"logs in (\S+)/logs", log.read_text()), 60, "the stack to boot")
        workdir = Path(up.group(1))
        assert users_of(workdir), "the probe sees no process of the running stack"
        wait_until(lambda: re.search(r"JOB +e2e +[1-9]", log.read_text()), 60, "a finished job")
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches every process of the foreground group
        assert proc.wait(timeout=60) == 0, log.read_text()[-3000:]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    text = log.read_text()
    assert "harness: stack stopped" in text and "harness check: VALID" in text, text[-3000:]
    assert f"in {2 if processes else 1} history file(s)" in text and "no verdict" not in text
    assert not workdir.exists() and users_of(workdir) == []
