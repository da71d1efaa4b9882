"""Hypothesis fault schedules against one stack for the whole machine run; the stack is healed between
examples. A failure prints the seed and the shrunk schedule as code; replay with HARNESS_CHAOS_SEED=<seed>,
or paste the printed steps after `state = ChaosMachine.bound(stack, params, tmp_path)()`."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from hypothesis import seed

from harness.chaos.machine import ChaosMachine, machine_settings, run_machine
from harness.fronts import check_params
from harness.targets.base import Target

pytestmark = pytest.mark.chaos


# A passing run takes well under a minute; a failing one then shrinks on the real stack, which Hypothesis bounds
# at about five minutes, so the failure (seed, shrunk schedule, reproduce blob) is printed before this timeout.
@pytest.mark.timeout(900)
def test_fault_schedules_keep_every_invariant(healed: Target, front: str, tmp_path: Path) -> None:
    chosen = int(os.environ.get("HARNESS_CHAOS_SEED") or random.randrange(2**32))
    machine = seed(chosen)(ChaosMachine.bound(healed, check_params(front, healed.time_scale), tmp_path))
    print(f"chaos machine seed {chosen} (replay: HARNESS_CHAOS_SEED={chosen}); histories in {tmp_path}")
    try:
        run_machine(machine, machine_settings())
    except BaseException as exc:
        exc.add_note(f"chaos machine seed {chosen}: replay with HARNESS_CHAOS_SEED={chosen}; histories in {tmp_path}")
        raise
