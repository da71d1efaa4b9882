"""The planted-defect matrix, fault column: the defects that show under a dependency or worker fault (a Redis
outage, a worker SIGKILL), each switched on alone, named by the checker over that case's history."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.other_impl.matrix import TOOL, named_for_its_reason, run_variant

pytestmark = pytest.mark.chaos

DEFECTS = sorted(d for d, (tool, _) in TOOL.items() if tool in ("redis-outage", "worker-sigkill-alone"))


@pytest.mark.parametrize("defect", DEFECTS)
def test_the_fault_case_names_the_defect(defect: str, time_scale: float, tmp_path: Path) -> None:
    tool = TOOL[defect][0]
    judged = run_variant(defect, (tool,), time_scale, tmp_path)[tool]
    assert named_for_its_reason(defect, judged) is None, named_for_its_reason(defect, judged)
