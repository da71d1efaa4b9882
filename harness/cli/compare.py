"""`harness compare`: the same seeded, bounded workload behind each proxy config (a fresh stack each); a matrix
config x flow (poll, SSE, download, legacy) of verdicts, proxy timeouts, latency percentiles, the largest SSE gap
and jobs completed/lost, each verdict held to its config header's expectation. Exit 1 when one differs."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.compare import BOUNDARY_FLOWS, DEFAULT_CONFIGS, FAULT_PLAN_NAMES
from harness.stack.config import BACKENDS
from harness.stack.flags import SERVICE_HELP


def csv_list(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]


def register_cli(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("compare", help="compare proxy configs under the same workload", description=__doc__)
    p.add_argument("--configs", type=csv_list, default=list(DEFAULT_CONFIGS), help="names or template paths (a,b,c)")
    p.add_argument("--workload", default="mixed", help="'mixed' (the built-in workload driver) or a locustfile path")
    p.add_argument("--seed", type=int, default=7, help="the workload's seed (same seed, same jobs)")
    p.add_argument("--jobs", type=int, default=24, help="jobs of the mixed workload (Locust: users)")
    p.add_argument("--duration", type=float, default=None, help="wall-clock bound per config, s (Locust: its -t)")
    p.add_argument("--time-scale", default="0.05", help="multiply every duration (default 0.05)")
    p.add_argument("--faults", choices=FAULT_PLAN_NAMES, default="none", help="fault schedule during the workload")
    p.add_argument("--legacy-starts", type=int, default=4, help="legacy synchronous starts spread over the job range")
    p.add_argument("--boundaries", action="store_true", help="also search each config's legacy and SSE boundaries")
    p.add_argument("--backend", choices=BACKENDS, default="local")
    p.add_argument("--service", default="reference", metavar="SPEC", help=SERVICE_HELP)
    p.add_argument("--aof", choices=("always", "everysec", "off"), default="always", help="Redis persistence")
    p.add_argument("--locust-args", default="", help="extra arguments for locust, e.g. '--weights LegacySync=1'")
    p.add_argument("--out", type=Path, default=None, help="run directory (default: a new reports/<run-id>/)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import shlex

    from harness.cli.report import publish
    from harness.compare.boundary import SearchSpec, search_all
    from harness.compare.drive import RunPlan
    from harness.compare.run import Progress, compare
    from harness.core.timescale import parse_time_scale
    from harness.report import output
    from harness.report.text import boundaries_text, matrix_text

    scale = parse_time_scale(args.time_scale)
    plan = RunPlan(
        workload=args.workload, seed=args.seed, jobs=args.jobs, duration_wall_s=args.duration, time_scale=scale,
        faults=args.faults, legacy_starts=args.legacy_starts, backend=args.backend, aof=args.aof,
        locust_args=tuple(shlex.split(args.locust_args)), service=args.service,
    )  # fmt: skip
    directory = output.run_dir("compare", args.out)
    say = Progress()
    say(f"comparing {', '.join(args.configs)} at time scale {scale:g}; run directory {directory}")
    record = compare(args.configs, plan, directory, say)
    if args.boundaries:
        record.boundaries = search_all(
            args.configs, list(BOUNDARY_FLOWS), SearchSpec(scale, backend=args.backend, service=args.service), say
        )
    results = record.finish()
    print(matrix_text(results))
    if results["boundaries"]:
        print(boundaries_text(results))
    publish(results, directory)
    mismatched = [
        f"{c['name']}/{f}" for c in results["configs"] for f, v in c["flows"].items() if v["matches"] is False
    ]
    if mismatched:
        print(f"verdicts that differ from their config header: {', '.join(mismatched)}")
    return 1 if mismatched else 0
