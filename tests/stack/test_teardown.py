"""Nothing is left running: after a normal exit, after a failed start, after SIGINT to `harness up`."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from harness.core.errors import StackStartError
from harness.stack import Stack, StackConfig
from tests.conftest import wait_until

pytestmark = pytest.mark.stack


def gone(pid: int) -> bool:
    """Gone for good: even a zombie nobody reaped counts as left behind."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def test_normal_exit_leaves_no_process(time_scale):
    with Stack(StackConfig(proxy_config="cloudflare-edge", time_scale=time_scale, workers=2)) as stack:
        pids = stack.pids()
        assert {"redis", "api", "worker-0", "worker-1", "nginx", "edge-nginx", "toxiproxy"} <= set(pids)
        assert not any(gone(p) for p in pids.values())
    assert all(gone(p) for p in pids.values()), pids


def test_failed_start_tears_down_what_started_and_shows_the_log(time_scale):
    stack = Stack(StackConfig(time_scale=time_scale, service_env={"REFERENCE_MAX_ATTEMPTS": "0"}))
    with pytest.raises(StackStartError, match="api exited") as info:
        stack.__enter__()
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert (stack.log_dir / "api.log").is_file() and str(stack.log_dir) in str(info.value)  # kept, and named
    assert "REFERENCE_MAX_ATTEMPTS='0' is out of range" in notes  # the failing component's own words
    pids = stack.pids()
    assert {"redis", "api", "toxiproxy"} <= set(pids)
    assert all(gone(p) for p in pids.values()), pids
    shutil.rmtree(stack.workdir)


@contextlib.contextmanager
def harness_up(time_scale: float, proxy_config: str) -> Iterator[tuple[subprocess.Popen[str], dict[str, Any]]]:
    """`harness up --json` as a subprocess and the JSON line it printed; killed if a test leaves it running."""
    env = {**os.environ, "HARNESS_TIME_SCALE": str(time_scale)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.cli.main", "up", "--json", "--proxy-config", proxy_config],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert proc.stdout is not None
        yield proc, json.loads(proc.stdout.readline())
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_sigint_to_harness_up_tears_everything_down(time_scale):
    with harness_up(time_scale, "alb-edge") as (proc, info):
        pids = info["pids"]
        assert info["edge_url"].startswith("http://127.0.0.1:") and len(pids) >= 6
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0, proc.stderr.read() if proc.stderr else ""
    assert all(gone(p) for p in pids.values()), pids


def test_sigkill_of_harness_up_leaves_no_process_behind(time_scale):
    """No cleanup code runs after SIGKILL: the kernel (PR_SET_PDEATHSIG) takes every child down with it,
    nginx included (it runs without a master, so no worker can outlive it)."""
    with harness_up(time_scale, "cloudflare-edge") as (proc, info):
        try:
            proc.kill()
            proc.wait(timeout=10)
            # every component leads its own process group: the group must be empty, not just its leader gone
            wait_until(lambda: all(group_gone(p) for p in info["pids"].values()), 10, f"the groups of {info['pids']}")
        finally:
            shutil.rmtree(os.path.dirname(info["log_dir"]), ignore_errors=True)
