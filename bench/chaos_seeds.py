"""Sweep the chaos state machine over many seeds on one stack: per seed, pass or the anomaly it found.

The chaos tier runs the Hypothesis state machine once per suite run with a random seed, so a defect that one
seed in ten finds fails CI one run in ten. This runs it over a fixed list of seeds (the same machine, profile and
stack as `tests/chaos/test_state_machine.py`), without shrinking by default so a failing seed costs one run,
and prints one row per seed and the total. Exit 1 when any seed failed; replay one with
`HARNESS_CHAOS_SEED=<seed> pytest tests/chaos/test_state_machine.py` (that run shrinks it).

    .venv/bin/python bench/chaos_seeds.py [--seeds 50] [--first 1] [--time-scale 0.05] [--shrink]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from hypothesis import Phase, seed, settings
from hypothesis.stateful import run_state_machine_as_test

from harness.chaos.machine import ChaosMachine, machine_settings
from harness.fronts import check_params
from harness.stack import Stack, StackConfig
from harness.targets.base import heal

NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)


def first_line(exc: BaseException) -> str:
    """The finding itself: Hypothesis wraps an example that failed once and then passed in a FlakyFailure group,
    whose first sub-exception is what the history showed."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = str(exc).strip() or type(exc).__name__
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith(("VALID", "INVALID"))]
    return f"{type(exc).__name__}: {(lines or [text])[0][:200]}"


def run_seed(stack: Stack, front: str, chosen: int, out: Path, shrink: bool) -> tuple[bool, float, str]:
    heal(stack)
    history_dir = out / f"seed-{chosen}"
    history_dir.mkdir(parents=True, exist_ok=True)
    machine = seed(chosen)(ChaosMachine.bound(stack, check_params(front, stack.time_scale), history_dir))
    profile = machine_settings()
    chosen_settings = profile if shrink else settings(profile, phases=NO_SHRINK)
    started = time.monotonic()
    try:
        run_state_machine_as_test(machine, settings=chosen_settings)
    except Exception as exc:  # an anomaly, or a stack that broke: either is this seed's finding
        return False, time.monotonic() - started, first_line(exc)
    return True, time.monotonic() - started, ""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=50, help="how many seeds (default 50)")
    p.add_argument("--first", type=int, default=1, help="the first seed; the sweep runs first .. first+seeds-1")
    p.add_argument("--time-scale", type=float, default=0.05)
    p.add_argument("--proxy-config", default="recommended")
    p.add_argument("--shrink", action="store_true", help="shrink a failing seed (minutes on a real stack)")
    p.add_argument("--out", type=Path, help="directory for the histories (default: a new temporary one)")
    args = p.parse_args(argv)
    if args.seeds < 1:
        p.error(f"--seeds {args.seeds}: give at least 1")
    out = args.out or Path(tempfile.mkdtemp(prefix="chaos-seeds-"))
    config = StackConfig(proxy_config=args.proxy_config, time_scale=args.time_scale, aof="always", workers=2)
    failed: list[tuple[int, str]] = []
    started = time.monotonic()
    with Stack(config) as stack:
        for chosen in range(args.first, args.first + args.seeds):
            ok, wall, why = run_seed(stack, args.proxy_config, chosen, out, args.shrink)
            print(f"seed {chosen:>6}  {'pass' if ok else 'FAIL'}  {wall:6.1f} s  {why}", flush=True)
            if not ok:
                failed.append((chosen, why))
    total = time.monotonic() - started
    print(f"\n{args.seeds - len(failed)} of {args.seeds} seeds passed in {total:.0f} s; histories in {out}")
    for chosen, why in failed:
        print(f"  seed {chosen}: {why}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
