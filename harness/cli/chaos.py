"""`harness chaos`: the fault catalogue against a service — one the harness boots from a spec (`--service`), or a
running one by URL (`--target`) — each case under a workload, the checker's verdict per case, and the report.

    harness chaos --service ./my-service.toml --faults worker-sigkill,redis-restart --jobs 12 --time-scale 0.05
    harness chaos --target http://127.0.0.1:8000 --profile ./my-profile.toml --faults reset-peer-edge

Exit 0 when every case's verdict holds, 1 when one does not (the anomalies are printed), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness.core.errors import ConfigError
from harness.stack.flags import add_stack_flags, stack_config


def register_cli(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "chaos",
        help="run the fault catalogue against a service (booted from --service, or --target URL)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_stack_flags(parser)
    parser.add_argument("--target", metavar="URL", help="a running service the harness did not start")
    parser.add_argument("--profile", default=None, help="its contract profile: a name or a .toml (default: the spec's)")
    parser.add_argument(
        "--redis-control", default=None, metavar="CONTROL", help="with --target: its Redis as docker:NAME or a TOML "
        "file of commands (kill_cmd, start_cmd, ready_cmd, ...), so Redis faults can run"
    )  # fmt: skip
    parser.add_argument(
        "--worker-control", action="append", default=[], metavar="CONTROL",
        help="with --target: one worker (repeat for worker-1, ...), as --redis-control",
    )  # fmt: skip
    parser.add_argument("--faults", default=None, metavar="A,B", help="the cases to run (default: all); see below")
    parser.add_argument("--jobs", type=int, default=12, help="jobs per case (default 12)")
    parser.add_argument("--seed", type=int, default=1, help="the workload's seed (default 1)")
    parser.add_argument(
        "--cancel", type=float, default=0.1, metavar="FRACTION",
        help="jobs whose user cancels them mid-run (default 0.1; a cancel must hold through the settle window)",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, default=None, help="where histories and the report go (default: reports/)")
    parser.set_defaults(handler=run)


def _cases(spec: str | None) -> list[Any]:
    from harness.chaos.catalogue import BY_NAME, CASES

    if not spec:
        return list(CASES)
    names = [n.strip() for n in spec.split(",") if n.strip()]
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        raise ConfigError(f"--faults {unknown[0]!r} is not a case; choose from {', '.join(BY_NAME)}")
    return [BY_NAME[n] for n in names]


@contextlib.contextmanager
def _target(args: argparse.Namespace) -> Iterator[tuple[Any, Any]]:
    """The target and the contract profile its clients speak."""
    from harness.contract import load_profile

    if args.target:
        from harness.targets.controls import parse_control
        from harness.targets.remote import RemoteTarget

        config = stack_config(args)
        profile = load_profile(args.profile)
        redis = None if args.redis_control is None else parse_control(args.redis_control, "--redis-control")
        workers = [parse_control(text, "--worker-control") for text in args.worker_control]
        remote = RemoteTarget(
            args.target, profile, time_scale=config.time_scale, redis_control=redis, worker_control=workers or None
        )
        with remote:
            yield remote, profile
        return
    from harness.stack import Stack

    config = stack_config(args)
    profile = load_profile(args.profile) if args.profile else config.service_spec().contract()
    with Stack(config) as stack:
        yield stack, profile


def run(args: argparse.Namespace) -> int:
    from harness.chaos.catalogue import run_case, unexpected
    from harness.clients.workload import WorkloadConfig
    from harness.fronts import check_params
    from harness.judge import History, check_files, render_text
    from harness.report import output, sources
    from harness.targets import heal

    cases = _cases(args.faults)
    if not 1 <= args.jobs <= 10_000:
        raise ConfigError(f"--jobs {args.jobs}: give 1 to 10000")
    if not 0 <= args.cancel <= 1:
        raise ConfigError(f"--cancel {args.cancel}: give a fraction of the jobs from 0 to 1")
    out = output.run_dir("chaos", args.out)
    failed = []
    with _target(args) as (target, profile):
        front = None if args.target else stack_config(args).proxy_config
        params = check_params(front, target.time_scale, profile)
        jobs_key = None if args.target else stack_config(args).service_spec().jobs.get("key")
        for case in cases:
            heal(target)
            config = WorkloadConfig.for_params(
                params, target.time_scale, jobs=args.jobs, seed=args.seed, cancel=args.cancel
            )
            path = out / f"{case.name}.jsonl"
            with History(path) as history:
                run_case(target, history, case, config, profile=profile, jobs_key=jobs_key)
            result = check_files([path], params)
            bad = unexpected(result, case)
            jobs = result.stats.jobs
            judged = not result.inconclusive  # a case that judged nothing (no job acknowledged...) is never a pass
            mark = "FAIL" if bad else "ok" if judged else "INCONCLUSIVE"
            print(f"{case.name:22} {mark:4}  acknowledged {jobs['acknowledged']:>4}  completed {jobs['completed']:>4}  "
                  f"cancelled {jobs['cancelled']:>3}  anomalies {len(bad)}  ({path})", flush=True)  # fmt: skip
            for note in result.notes:
                print(f"{'':24}note: {note}", flush=True)
            if bad or not judged:
                failed.append(case.name)
                print(render_text(result), file=sys.stderr)
        heal(target)
    results = sources.build_from(out, run_id=out.name, time_scale=target.time_scale, config=front, profile=profile)
    output.write(results, out)
    verdict = "every case held" if not failed else f"failed: {', '.join(failed)}"
    print(f"report: {out / 'report.html'}\nverdict: {verdict}")
    return 1 if failed else 0
