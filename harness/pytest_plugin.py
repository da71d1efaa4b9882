"""pytest plugin (entry point `pytest11`): registers the harness's markers for projects that use it."""

from __future__ import annotations

import pytest

MARKERS = {
    "unit": "no servers",
    "contract": "reference service on a local Redis",
    "stack": "the whole chain (nginx, Toxiproxy) as local processes",
    "chaos": "fault schedules and invariants over recorded histories",
    "containers": "the stack in Docker through testcontainers",
    "realtime": "unscaled time (opt-in)",
    "slow": "long-running",
}


def pytest_configure(config: pytest.Config) -> None:
    for name, doc in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {doc}")
