"""`harness check HISTORY.jsonl...`: judge recorded histories; exit 0 when VALID, 1 when INVALID (anomalies) or
INCONCLUSIVE (too little to judge: no job acknowledged, jobs nobody looked at, a fault no request met), 2 on bad
input.

Histories are judged as a stream (`check_files`): memory stays bounded by the jobs they hold, not their length.

Durations given on the command line are seconds on this machine's clock; their defaults are the modelled
ones passed through the time scale (`CheckParams.for_scale`).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from harness.core.errors import HarnessError
from harness.core.timescale import parse_time_scale, time_scale_from_env
from harness.judge.params import CheckParams
from harness.judge.render import render_text, to_json
from harness.judge.verdict import check_files


def register_cli(subparsers: Any) -> argparse.ArgumentParser:
    """Add `check` to the `harness` CLI; the handler is `args.handler(args)` and returns the exit code."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "check", help="judge recorded histories against the invariants (exit 1 on anomalies)"
    )
    p.add_argument("histories", nargs="+", metavar="HISTORY.jsonl", help="history files (also .jsonl.zst), merged")
    p.add_argument("--json", action="store_true", help="print the verdict as JSON")
    p.add_argument("--idle-timer", type=float, help="smallest idle timer of the chain, s (default: scaled 60)")
    p.add_argument("--budget", type=float, help="per-request budget of the async flow, s (default: min(5, idle))")
    p.add_argument("--deadline", type=float, help="from acknowledgment to a terminal state, s (default: scaled 600)")
    p.add_argument(
        "--stall-recovery", type=float, metavar="S",
        help="how soon a dead worker's running job is taken over, s (default: scaled 60, at least 3)",
    )  # fmt: skip
    p.add_argument("--legacy-strict", action="store_true", help="count legacy proxy timeouts as anomalies")
    p.add_argument("--time-scale", type=float, help="scale for the defaults (default: HARNESS_TIME_SCALE)")
    p.add_argument(
        "--allow-inconclusive", action="store_true",
        help="exit 0 when the history held too little to judge (default: exit 1, as for anomalies)",
    )  # fmt: skip
    p.set_defaults(handler=run_check)
    return p


def run_check(args: argparse.Namespace) -> int:
    for flag in ("deadline", "idle_timer", "budget", "stall_recovery"):
        value = getattr(args, flag)
        if value is not None and not value > 0:  # also NaN
            print(
                f"harness check: --{flag.replace('_', '-')} {value!r} is not a duration; give seconds > 0",
                file=sys.stderr,
            )
            return 2
    scale = time_scale_from_env() if args.time_scale is None else parse_time_scale(args.time_scale)
    params = CheckParams.for_scale(
        scale,
        deadline_s=args.deadline,
        idle_timer_s=args.idle_timer,
        budget_s=args.budget,
        stall_s=args.stall_recovery,
        legacy_strict=args.legacy_strict or None,
    )
    try:
        result = check_files(args.histories, params)
    except (HarnessError, OSError) as exc:
        print(f"harness check: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(to_json(result), indent=2) if args.json else render_text(result))
    if result.verdict == "INCONCLUSIVE" and args.allow_inconclusive:
        return 0
    return 0 if result.valid else 1
