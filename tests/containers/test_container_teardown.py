"""Nothing is left in the engine: after a normal exit, a failed start, SIGINT to `harness up --backend containers`,
and (through `harness down`) after a run that was killed outright."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from harness.core.errors import StackStartError
from harness.images import ImageSet
from harness.images.engine import connect
from harness.stack import Stack, StackConfig
from harness.stack.containers.engine import OWNER_LABEL, STACK_LABEL, owner_id
from tests.stack.conftest import require_engine

pytestmark = [pytest.mark.containers, pytest.mark.serial, pytest.mark.timeout(300)]


@pytest.fixture(scope="session", autouse=True)
def engine_required() -> None:
    """Before the images fixture (which skips): under CI, no engine is a failure."""
    require_engine()


@pytest.fixture(scope="module")
def engine() -> Iterator[Any]:
    client = connect()
    yield client
    client.close()


def labelled(engine: Any, label: str) -> dict[str, list[str]]:
    """Names of what the engine holds with `label` (key=value), by kind; empty lists when all is gone."""
    selector = {"label": [label]}
    return {
        "containers": [c.name for c in engine.containers.list(all=True, filters=selector)],
        "networks": [n.name for n in engine.networks.list(filters=selector)],
        "volumes": [v.name for v in engine.volumes.list(filters=selector)],
    }


NOTHING: dict[str, list[str]] = {"containers": [], "networks": [], "volumes": []}


def test_normal_exit_leaves_nothing_and_keeps_the_logs(engine, offline_images: ImageSet, time_scale):
    config = StackConfig(backend="containers", proxy_config="cloudflare-edge", time_scale=time_scale, workers=2)
    with Stack(config) as stack:
        held = labelled(engine, f"{STACK_LABEL}={stack.stack_id}")
        assert len(held["containers"]) == 7 and len(held["networks"]) == 1 and len(held["volumes"]) == 1, held
        assert set(stack.components()) == {"redis", "api", "worker-0", "worker-1", "nginx", "edge-nginx"}
        assert httpx.get(f"{stack.endpoints.edge_url}/health").status_code == 200
    assert labelled(engine, f"{STACK_LABEL}={stack.stack_id}") == NOTHING
    assert b"worker ready" in (stack.log_dir / "worker-1.log").read_bytes()  # copied before removal
    assert (stack.log_dir / "edge-nginx.log").stat().st_size > 0  # nginx's access log goes to stdout


def test_failed_start_removes_what_started_and_shows_the_log(engine, offline_images: ImageSet, time_scale):
    stack = Stack(StackConfig(backend="containers", time_scale=time_scale, service_env={"REFERENCE_MAX_ATTEMPTS": "0"}))
    with pytest.raises(StackStartError, match=r"(api|worker-\d) exited") as info:  # whichever fails first
        stack.__enter__()
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "REFERENCE_MAX_ATTEMPTS='0' is out of range" in notes  # the failing container's own words
    assert labelled(engine, f"{STACK_LABEL}={stack.stack_id}") == NOTHING
    assert any("out of range" in log.read_text() for log in stack.log_dir.glob("*.log"))  # logs kept


def start_up(*flags: str) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.cli.main", "up", "--backend", "containers", "--json", *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line, proc.stderr.read() if proc.stderr else "no output"
    return proc, json.loads(line)


def test_sigint_to_harness_up_removes_everything(engine, offline_images: ImageSet):
    proc, info = start_up("--proxy-config", "alb-edge")
    owner = f"{OWNER_LABEL}={owner_id(proc.pid)}"
    try:
        assert info["edge_url"].startswith("http://127.0.0.1:") and "edge-nginx" in info["components"]
        assert httpx.get(f"{info['edge_url']}/health").status_code == 200
        assert len(labelled(engine, owner)["containers"]) == 7
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0, proc.stderr.read() if proc.stderr else ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert labelled(engine, owner) == NOTHING


def test_harness_down_reaps_a_killed_run(engine, offline_images: ImageSet):
    proc, _ = start_up()
    owner = f"{OWNER_LABEL}={owner_id(proc.pid)}"
    proc.kill()  # SIGKILL: no teardown at all
    proc.wait()
    assert len(labelled(engine, owner)["containers"]) == 6
    down = subprocess.run(
        [sys.executable, "-m", "harness.cli.main", "down"], capture_output=True, text=True, timeout=60, env=os.environ
    )
    assert down.returncode == 0, down.stderr
    assert f"owner {owner_id(proc.pid)}" in down.stdout and "6 container(s), 1 network(s), 1 volume(s)" in down.stdout
    assert labelled(engine, owner) == NOTHING
