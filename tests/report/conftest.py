"""A results.json recorded from a real demo run (trimmed), rendered once per test run (copied before a change)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.report import output

FIXTURE = Path(__file__).with_name("fixtures") / "results.json"


@pytest.fixture(scope="session")
def results() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(FIXTURE.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="session")
def rendered(results: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> output.Written:
    root = tmp_path_factory.mktemp("rendered") / "reports"
    return output.write(results, root / "fixture-demo", root=root)
