"""The chaos state machine's own bookkeeping, without a stack."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import ClassVar

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule

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


class _Flaky(RuleBasedStateMachine):
    """Fails once two steps ran, but only the first time a schedule is replayed: shrinking meets a flaky replay,
    as it does on a real stack whose timing differs between runs."""

    failures = chaos_machine.FailureLog()
    seen: ClassVar[set[tuple[int, ...]]] = set()

    def __init__(self) -> None:
        super().__init__()
        self.steps: list[str] = []

    @rule(n=st.integers(0, 3))
    def step(self, n: int) -> None:
        self.steps.append(f"state.step(n={n})")
        schedule = tuple(len(s) for s in self.steps)
        if len(self.steps) >= 2 and schedule not in self.seen:
            self.seen.add(schedule)
            self.failures.record(self.steps, f"sse_gap: planted after {len(self.steps)} steps")
            raise AssertionError("planted")


def test_a_machine_failure_starts_with_the_first_anomaly_and_the_shortest_schedule_whatever_hypothesis_raises() -> None:
    run = settings(max_examples=20, stateful_step_count=5, database=None, derandomize=True, deadline=None)
    with pytest.raises(chaos_machine.MachineFailed) as caught:
        chaos_machine.run_machine(_Flaky, run)
    text = str(caught.value)
    assert text.startswith("the chaos machine found an anomaly"), text
    assert "sse_gap: planted after 2 steps" in text.splitlines()[1]
    assert "shortest schedule seen failing (2 steps):" in text and "state.step(n=" in text
    assert caught.value.__cause__ is not None, "Hypothesis's own error stays chained"


def test_a_machine_run_with_no_anomaly_raises_what_hypothesis_raised() -> None:
    class Broken(RuleBasedStateMachine):
        failures = chaos_machine.FailureLog()

        @rule()
        def step(self) -> None:
            raise RuntimeError("the stack went away")

    with pytest.raises(RuntimeError, match="the stack went away"):
        chaos_machine.run_machine(Broken, settings(max_examples=2, database=None, deadline=None))
