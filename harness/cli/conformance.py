"""`harness conformance --target URL [--profile NAME|FILE]`: the verdict table, exit 1 when a point fails."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.conformance.context import ConformanceConfig
from harness.conformance.render import render_table, write_reports
from harness.conformance.runner import run_conformance
from harness.contract import ContractProfile
from harness.contract.profiles import DEFAULT_PROFILE, available_profiles, load_profile
from harness.core.timescale import parse_time_scale, time_scale_from_env


def register_cli(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "conformance",
        help="check a running implementation against its contract profile (bounded, black-box)",
        description=__doc__,
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--target", metavar="URL", help="the base URL of a running service")
    where.add_argument(
        "--service", metavar="SPEC", help="a service spec: boot it behind the recommended front, check it, tear it down"
    )
    parser.add_argument(
        "--profile",
        default=None,
        metavar="NAME|FILE",
        help=f"a shipped profile ({', '.join(available_profiles())}) or a .toml file (default: the spec's, else "
        f"{DEFAULT_PROFILE})",
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
    scale = time_scale_from_env() if args.time_scale is None else parse_time_scale(args.time_scale)
    if args.service is None:
        return _check(args, args.target.rstrip("/"), load_profile(args.profile or DEFAULT_PROFILE), scale)
    from harness.stack import Stack, StackConfig

    stack_config = StackConfig(service=args.service, time_scale=scale, workers=1)
    profile = load_profile(args.profile or stack_config.service_spec().profile)
    with Stack(stack_config) as stack:
        return _check(args, stack.endpoints.edge_url, profile, stack.time_scale)


def _check(args: argparse.Namespace, url: str, profile: ContractProfile, scale: float) -> int:
    config = ConformanceConfig(url, profile, scale, args.budget)
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
