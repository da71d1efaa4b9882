"""The planted-defect matrix, conformance column: each defect of tests/other_impl that a black-box check can see,
switched on alone, fails conformance on the point its class names (tests/other_impl/matrix.py). The shipped
defect (racy idempotency) and the clean variant's conformance are in tests/conformance/test_other_service.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.other_impl.matrix import CONFORMANCE, TOOL, named_for_its_reason, run_variant

pytestmark = pytest.mark.chaos

DEFECTS = sorted(d for d, (tool, _) in TOOL.items() if tool == CONFORMANCE and d != "racy_idempotency")


@pytest.mark.parametrize("defect", DEFECTS)
def test_conformance_names_the_defect(defect: str, time_scale: float, tmp_path: Path) -> None:
    judged = run_variant(defect, (CONFORMANCE,), time_scale, tmp_path)[CONFORMANCE]
    assert named_for_its_reason(defect, judged) is None, named_for_its_reason(defect, judged)
