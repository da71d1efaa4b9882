"""Each fault of the list under >= 20 concurrent jobs of mixed length (initiated with and without a
clientRequestId, some re-sent, followed by polling or SSE, some clients disconnecting, artifacts downloaded):
the checker finds no anomaly in the recorded history, and every acknowledged job was followed to its end."""

from __future__ import annotations

import zlib

import pytest

from harness.chaos.catalogue import CASES, ChaosCase, run_case, tolerated, unexpected
from harness.clients.workload import WorkloadConfig
from harness.fronts import check_params
from harness.judge import check, render_text
from harness.judge.history import History, read_history
from harness.targets.base import Target
from tests.chaos.conftest import CHAOS_JOBS

pytestmark = pytest.mark.chaos


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_no_anomaly_under_fault(case: ChaosCase, healed: Target, history: History, front: str) -> None:
    params = check_params(front, healed.time_scale)
    seed = zlib.crc32(case.name.encode())
    config = WorkloadConfig.for_params(params, healed.time_scale, jobs=CHAOS_JOBS, seed=seed)
    run = run_case(healed, history, case, config)
    result = check(read_history(history.path), params)
    report = f"case {case.name}, workload seed {seed}, {run.summary.statuses}\n{render_text(result)}"
    assert not unexpected(result, case), report
    jobs = result.stats.jobs
    assert jobs["acknowledged"] >= CHAOS_JOBS // 2, report  # the workload really ran through the fault
    assert jobs["pending"] == jobs["unobserved"] == 0, report  # every acknowledged job was seen to its end
    assert result.stats.faults == (0 if case.make is None else 1), report
    if case.workload.get("cancel"):
        assert jobs["cancelled"] > 0, report  # cancels were sent, acknowledged and held to the end
    if tolerated(result, case):
        print(f"{case.name}: tolerated {len(tolerated(result, case))} prompt 502s while the only API restarted")
