"""`harness boundary`: per config, the job length at which the legacy synchronous start starts to fail and the
heartbeat interval at which SSE starts to fail, found by bisection in scaled time, beside the limits predicted
from the config's own timers. Exit 1 when a measured boundary differs from its prediction beyond --agreement."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from harness.cli.compare import csv_list
from harness.compare import BOUNDARY_FLOWS, DEFAULT_CONFIGS
from harness.stack.config import BACKENDS
from harness.stack.flags import SERVICE_HELP


def register_cli(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("boundary", help="find where each config breaks, vs its timers", description=__doc__)
    p.add_argument("--configs", type=csv_list, default=list(DEFAULT_CONFIGS), help="names or template paths")
    p.add_argument("--flows", type=csv_list, default=list(BOUNDARY_FLOWS), help="legacy, sse or both")
    p.add_argument("--time-scale", default="0.05", help="multiply every duration (default 0.05)")
    p.add_argument("--tolerance", type=float, default=0.03, help="stop when the bracket is this narrow (relative)")
    p.add_argument("--max-probes", type=int, default=10, help="probes per boundary at most")
    p.add_argument("--agreement", type=float, default=0.10, help="measured vs predicted, relative (default 0.10)")
    p.add_argument("--parallel", type=int, default=1, help="configs searched side by side (each its own stacks)")
    p.add_argument("--backend", choices=BACKENDS, default="local")
    p.add_argument("--service", default="reference", metavar="SPEC", help=SERVICE_HELP)
    p.add_argument("--out", type=Path, default=None, help="run directory (default: a new reports/<run-id>/)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from harness.cli.report import publish
    from harness.compare.boundary import SearchSpec, search_all
    from harness.compare.run import Progress, RunRecord
    from harness.core.timescale import parse_time_scale
    from harness.report import output
    from harness.report.text import boundaries_text

    unknown = [f for f in args.flows if f not in BOUNDARY_FLOWS]
    if unknown:
        raise SystemExit(f"harness boundary: unknown flow(s) {', '.join(unknown)}; use {', '.join(BOUNDARY_FLOWS)}")
    scale = parse_time_scale(args.time_scale)
    spec = SearchSpec(scale, args.tolerance, args.max_probes, args.agreement, args.backend, args.service)
    directory = output.run_dir("boundary", args.out)
    say = Progress()
    say(f"boundaries of {', '.join(args.flows)} behind {', '.join(args.configs)} at time scale {scale:g}")
    record = RunRecord(directory, "boundary", "Where each proxy config breaks", scale, {"search": spec_text(spec)})
    record.boundaries = search_all(args.configs, args.flows, spec, say, parallel=args.parallel)
    results = record.finish()
    print(boundaries_text(results))
    publish(results, directory)
    return 0 if all(b["agrees"] or b["explained"] for b in results["boundaries"]) else 1


def spec_text(spec: Any) -> str:
    return (
        f"bisection to {spec.tolerance:.0%} of the value, at most {spec.max_probes} probes, "
        f"agreement wanted within {spec.agreement:.0%}"
    )
