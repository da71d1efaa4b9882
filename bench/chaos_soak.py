"""Soak the fault list: every case of the chaos suite with more jobs, one table of what clients were promised
(acknowledged jobs) against what the checker found (lost, duplicated, other anomalies).

One stack (Redis AOF `always`, two workers) serves every case; it is healed between cases. Each case records its
own history under --out, so any row can be judged again with `harness check`. Exit 1 when any case shows an
anomaly the suite does not tolerate. `reruns` counts jobs that needed more than one attempt (see `reruns`).

    .venv/bin/python bench/chaos_soak.py [--jobs 100] [--cases redis-sigkill,api-restart] [--time-scale 0.05]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from harness.chaos.catalogue import BY_NAME, CASES, ChaosCase, run_case, tolerated, unexpected
from harness.clients.workload import WorkloadConfig
from harness.fronts import check_params
from harness.judge import check, render_text
from harness.judge.history import History, Record, read_history
from harness.stack import Stack, StackConfig
from harness.targets.base import Target, heal

COLUMNS = (
    *("case", "acked", "completed", "failed", "cancelled"),
    *("lost", "duplicated", "other", "502s", "reruns", "wall_s"),
)


@dataclass(frozen=True)
class Row:
    case: str
    acked: int
    completed: int
    failed: int
    cancelled: int
    lost: int
    duplicated: int
    other: int
    prompt_502s: int
    reruns: int
    wall_s: float

    def cells(self) -> list[str]:
        values = [*vars(self).values()]
        return [f"{v:.1f}" if isinstance(v, float) else str(v) for v in values]


def soak_case(stack: Target, case: ChaosCase, args: argparse.Namespace, out: Path, front: str) -> Row:
    heal(stack)
    params = check_params(front, stack.time_scale)
    config = WorkloadConfig.for_params(
        params,
        stack.time_scale,
        jobs=args.jobs,
        concurrency=min(args.jobs, args.concurrency),
        ramp_s=args.ramp,
        seed=args.seed,
    )
    path = out / f"{case.name}.jsonl"
    started = time.monotonic()
    with History(path) as history:
        run_case(stack, history, case, config)
    records = read_history(path)
    result = check(records, params)
    bad = unexpected(result, case)
    if bad:
        print(render_text(result), file=sys.stderr)
    jobs = result.stats.jobs
    others = sum(1 for a in bad if a.kind not in ("lost_job", "duplicate_job"))
    return Row(
        case.name,
        jobs["acknowledged"],
        jobs["completed"],
        jobs["failed"],
        jobs["cancelled"],
        jobs["lost"],
        jobs["duplicated"],
        others,
        len(tolerated(result, case)),
        reruns(records),
        time.monotonic() - started,
    )


def reruns(records: list[Record]) -> int:
    """Jobs that ended after more than one attempt (as last seen). The workload plans some failed attempts (the
    same ones for the same seed), so compare this column between runs of one seed: a fault that makes workers
    lose their job locks shows as more reruns, not as anomalies."""
    last: dict[str, int] = {}
    for r in records:
        if r.job_id and r.attempts is not None and r.status in ("completed", "failed"):
            last[r.job_id] = r.attempts
    return sum(1 for attempts in last.values() if attempts > 1)


def table(rows: list[Row]) -> str:
    total = Row("total", *(sum(getattr(r, f) for r in rows) for f in list(vars(rows[0]))[1:])) if rows else None
    lines = [COLUMNS, *(r.cells() for r in rows), *([total.cells()] if total else [])]
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(str(c).rjust(w) for c, w in zip(line, widths, strict=True)) for line in lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--jobs", type=int, default=100, help="jobs per case (default 100; 11 cases -> 1,100 jobs)")
    p.add_argument("--concurrency", type=int, default=50, help="client threads per case")
    p.add_argument("--ramp", type=float, default=60.0, help="modelled seconds over which jobs are initiated")
    p.add_argument("--cases", help=f"comma-separated subset of: {', '.join(BY_NAME)}")
    p.add_argument("--time-scale", type=float, default=0.05)
    p.add_argument("--proxy-config", default="recommended")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", type=Path, help="directory for the histories (default: a new temporary one)")
    p.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = p.parse_args(argv)
    cases = [BY_NAME[name] for name in args.cases.split(",")] if args.cases else list(CASES)
    out = args.out or Path(tempfile.mkdtemp(prefix="chaos-soak-"))
    out.mkdir(parents=True, exist_ok=True)
    config = StackConfig(proxy_config=args.proxy_config, time_scale=args.time_scale, aof="always", workers=2)
    rows: list[Row] = []
    started = time.monotonic()
    with Stack(config) as stack:
        for case in cases:
            rows.append(soak_case(stack, case, args, out, args.proxy_config))
            print(" ".join(rows[-1].cells()), flush=True)
    print(f"\n{table(rows)}\n\nwall {time.monotonic() - started:.0f} s; histories in {out}")
    if args.json:
        args.json.write_text(json.dumps([vars(r) for r in rows], indent=2))
    return 1 if any(r.lost or r.duplicated or r.other for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
