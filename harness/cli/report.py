"""`harness report PATH`: build report.html, summary.md and results.json from a compare/demo run directory, a Locust
run directory (its history JSONL and --csv files), a chaos history, or a results.json."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.report.output import Written


def register_cli(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("report", help="build the HTML/Markdown/JSON report of a recorded run", description=__doc__)
    parser.add_argument("path", type=Path, metavar="PATH", help="run directory, Locust run directory or history file")
    parser.add_argument("--out", type=Path, default=None, help="where to write (default: a new reports/<run-id>/)")
    parser.add_argument("--time-scale", default=None, help="the run's time scale (default: HARNESS_TIME_SCALE)")
    parser.add_argument("--config", default=None, help="the front a Locust or chaos run ran behind (its timers apply)")
    parser.add_argument(
        "--service", default=None, metavar="SPEC", help="the service a Locust or chaos run tested (default: the "
        "reference): its profile's routes pick the front's timers"
    )  # fmt: skip
    parser.set_defaults(handler=run)


def publish(results: Mapping[str, Any], directory: Path) -> Written:
    """Write the three files and say where they are, with the verdict sentence."""
    from harness.report import output

    written = output.write(results, directory)
    print(f"report: {written.html}")
    print(f"        {written.markdown} (CI summary), {written.json} (machines)")
    if (
        output.REPORTS_DIR / output.LATEST
    ).is_symlink() and written.directory.parent.resolve() == output.REPORTS_DIR.resolve():
        print(f"        {output.REPORTS_DIR / output.LATEST} -> {os.readlink(output.REPORTS_DIR / output.LATEST)}")
    print(f"verdict: {results['verdict']['sentence']}")
    return written


def run(args: argparse.Namespace) -> int:
    from harness.core.timescale import parse_time_scale, time_scale_from_env
    from harness.report import output, sources

    scale = time_scale_from_env() if args.time_scale is None else parse_time_scale(args.time_scale)
    run_id = args.out.name if args.out else output.new_run_id("report")
    from harness.contract import V1
    from harness.stack.service import load_service

    profile = load_service(args.service).contract() if args.service else V1
    results = sources.build_from(args.path, run_id=run_id, time_scale=scale, config=args.config, profile=profile)
    publish(results, output.run_dir("report", args.out))
    return 0
