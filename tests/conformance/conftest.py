"""The second implementation (other_impl.py) as a local process on a free port, and its profile."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.contract import ContractProfile
from harness.contract.profiles import load_profile
from harness.core.net import free_port, http_ok
from harness.core.processes import ManagedProcess

ROOT = Path(__file__).resolve().parents[2]
OTHER_PROFILE = Path(__file__).with_name("other.toml")


@pytest.fixture(scope="session")
def other_profile() -> ContractProfile:
    return load_profile(OTHER_PROFILE)


@pytest.fixture(scope="session")
def other_service(tmp_path_factory: pytest.TempPathFactory, time_scale: float) -> Iterator[str]:
    """The URL of a running other_impl at the session's time scale."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "tests.conformance.other_impl", "--port", str(port), "--time-scale", repr(time_scale)]
    log = tmp_path_factory.mktemp("other") / "other_impl.log"
    proc = ManagedProcess("other-impl", argv, log, ready=http_ok(f"{url}/healthz"), cwd=str(ROOT))
    try:
        proc.start(timeout=20)
        yield url
    finally:
        proc.stop()
