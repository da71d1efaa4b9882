"""`harness conformance --target URL [--profile NAME|FILE]`: the verdict table, exit 1 when a point fails."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.conformance.context import ConformanceConfig
from harness.conformance.render import render_table, write_reports
from harness.conformance.runner import run_conformance
from harness.contract.profiles import DEFAULT_PROFILE, available_profiles, load_profile
from harness.core.timescale import time_scale_from_env


def register_cli(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "conformance",
        help="check a running implementation against its contract profile (bounded, black-box)",
        description=__doc__,
    )
    parser.add_argument("--target", required=True, metavar="URL", help="the service's base URL")
    parser.add_argument(
        "--profile",
        default=DEFAULT_PROFILE,
        metavar="NAME|FILE",
        help=f"a shipped profile ({', '.join(available_profiles())}) or a .toml file (default {DEFAULT_PROFILE})",
    )
    parser.add_argument(
        "--time-scale",
        default=None,
        metavar="X",
        help="how fast the target's jobs run: 1 = real time (10-120 s jobs); default $HARNESS_TIME_SCALE or 1",
    )
    parser.add_argument("--budget", type=float, default=120.0, metavar="S", help="upper bound of the run (s)")
    parser.add_argument("--out", type=Path, default=None, metavar="DIR", help="write JSON, Markdown and the history")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    scale = time_scale_from_env() if args.time_scale is None else args.time_scale
    config = ConformanceConfig(args.target.rstrip("/"), load_profile(args.profile), scale, args.budget)
    out: Path | None = args.out
    history = out / "history.jsonl" if out is not None else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        if history is not None and history.exists():
            history.unlink()  # a history is one run's record
    result = run_conformance(config, history)
    print(render_table(result), flush=True)
    if out is not None:
        written = write_reports(result, out)
        print(f"reports: {', '.join(str(p) for p in written.values())}")
    return 0 if result.ok else 1
