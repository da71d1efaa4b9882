"""The chaos state machine's own bookkeeping, without a stack."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from harness.chaos import machine as chaos_machine
from harness.chaos.machine import ChaosMachine
from harness.judge import CheckParams

pytestmark = pytest.mark.unit


def test_machines_bound_twice_never_share_a_client_request_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A seed sweep binds the machine once per seed on one stack, and each binding numbers its examples from 0.
    clientRequestIds made from the example's name and the process id collided across seeds: the service rightly
    answered the earlier seed's job (cancelled there), and the later history showed a cancel no client sent."""
    monkeypatch.setattr(chaos_machine, "note", lambda text: None)  # Hypothesis notes exist inside a run only
    stack = SimpleNamespace(time_scale=0.05, endpoints=SimpleNamespace(edge_url="http://127.0.0.1:9"))
    params = CheckParams.for_scale(0.05)
    machines = []
    for run in ("seed-1", "seed-2"):
        (tmp_path / run).mkdir()
        machines.append(ChaosMachine.bound(stack, params, tmp_path / run)())  # type: ignore[arg-type]
    try:
        assert machines[0].path.name == machines[1].path.name  # the same example name in both runs
        first = {next(machines[0].crids) for _ in range(3)}
        assert not first & {next(machines[1].crids) for _ in range(3)}
    finally:
        for machine in machines:
            machine.client.close()
            machine.history.close()
