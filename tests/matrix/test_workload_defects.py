"""The planted-defect matrix, workload column: the defects a plain workload shows with no fault (users that
cancel, stream churn with disconnects), each switched on alone, named by the checker; and the faithful variant
through the same cases flagged by nothing (no false alarm: every other row would mean nothing)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.other_impl.matrix import TOOL, named_for_its_reason, run_variant

pytestmark = pytest.mark.chaos

CASES = ("client-cancels", "client-disconnects")
DEFECTS = sorted(d for d, (tool, _) in TOOL.items() if tool in CASES)


@pytest.mark.parametrize("defect", DEFECTS)
def test_the_workload_names_the_defect(defect: str, time_scale: float, tmp_path: Path) -> None:
    tool = TOOL[defect][0]
    judged = run_variant(defect, (tool,), time_scale, tmp_path)[tool]
    assert named_for_its_reason(defect, judged) is None, named_for_its_reason(defect, judged)


def test_the_faithful_variant_passes_the_workload_cases(time_scale: float, tmp_path: Path) -> None:
    judged = run_variant("none", CASES, time_scale, tmp_path)
    assert all(not j.flagged and not j.inconclusive for j in judged.values()), judged
