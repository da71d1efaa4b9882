"""The planted-defect matrix: each defect of the second implementation (tests/other_impl/defects.py) switched on
alone, the harness pointed at it as a user would (conformance, then the chaos workload under a few faults, every
history judged by the checker), and whether the defect was named.

    .venv/bin/python bench/defect_matrix.py [--defects a,b] [--time-scale 0.05] [--jobs 8]

Prints one row per defect: what caught it (failed conformance points, anomaly kinds of the checker, inconclusive
verdicts) and whether that is the class the defect belongs to. The clean variant (`none`) comes first: it must
show nothing, or every other row means nothing. Exit 1 when a defect was missed or the clean variant was flagged.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path
from tempfile import TemporaryDirectory

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.chaos.catalogue import BY_NAME, run_case  # noqa: E402
from harness.clients.workload import WorkloadConfig  # noqa: E402
from harness.conformance import ConformanceConfig, run_conformance  # noqa: E402
from harness.fronts import check_params  # noqa: E402
from harness.judge import check_files  # noqa: E402
from harness.judge.history import History  # noqa: E402
from harness.stack import Stack, StackConfig  # noqa: E402

SPEC = ROOT / "tests" / "other_impl" / "spec.toml"
CASES = ("client-disconnects", "worker-sigkill", "redis-outage", "client-cancels")
# What names each defect: failed conformance points or checker anomaly kinds (any one of them is a detection).
EXPECTED: dict[str, set[str]] = {
    "none": set(),
    "early_stream_end": {
        "sse.terminal_once",
        "sse.heartbeat",
        "sse_early_close",
        "sse_terminal_count",
        "sse_reconnect_storm",
    },
    "racy_idempotency": {"idempotency.concurrent", "duplicate_job"},
    "bad_input_500": {"errors.bad_input"},
    "hang_on_redis_down": {"hung_request", "proxy_timeout"},  # a hang the front cuts is a proxy timeout
    "ghost_jobs": {"ghost_job"},
    "rerun_after_complete": {"status_regression", "rerun_after_terminal"},
    "slow_stall_recovery": {"deadline_missed"},
    "redis_client_leak": {"resource_leak"},
    "unreachable_artifact": {"download.checksum", "artifact_unreachable"},
    "no_terminal_event": {"sse.terminal_once", "sse_missing_terminal"},
    "status_500_on_redis_error": {"server_error"},
    "complete_before_artifact": {"download.checksum", "artifact_unreachable", "completed_without_artifact"},
    "cancel_overwritten": {"cancel", "cancel_overwritten", "unexpected_cancel", "status_regression"},
}


def judge_variant(defect: str, scale: float, jobs: int, out: Path) -> tuple[set[str], list[str], float]:
    """(what flagged it, inconclusive reasons, seconds) for one variant."""
    started = time.monotonic()
    flagged: set[str] = set()
    reasons: list[str] = []
    config = StackConfig(service=str(SPEC), time_scale=scale, workers=2, service_env={"OTHER_DEFECTS": defect})
    with Stack(config) as stack:
        result = run_conformance(ConformanceConfig(stack.endpoints.edge_url, stack.profile, scale, budget_s=60))
        flagged |= {p.name for p in result.points if p.verdict == "fail"}
        params = check_params(config.proxy_config, stack.time_scale, stack.profile)
        # Few users, many jobs each: more streams and requests over the run than ever in flight at once, so what
        # a pool keeps and what a leak piles up differ.
        workload = WorkloadConfig.for_params(params, stack.time_scale, jobs=jobs, concurrency=4, seed=5, cancel=0.25)
        for case in CASES:
            path = out / f"{defect}-{case}.jsonl"
            # The disconnect case churns streams: short jobs, all followed over SSE, many more streams over the
            # run than requests ever in flight at once (what tells a leak from a pool).
            churn = replace(workload, jobs=32, sse=1.0, min_job_s=10.0, max_job_s=20.0)
            load = churn if case == CASES[0] else workload
            with History(path) as history:
                keys = stack.service.jobs["key"]
                run_case(stack, history, BY_NAME[case], load, profile=stack.profile, jobs_key=keys, sample_clients=True)
            verdict = check_files([path], params)
            flagged |= {a.kind for a in verdict.anomalies}
            reasons += [f"{case}: {why}" for why in verdict.inconclusive]
    return flagged, reasons, time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--defects", default=",".join(EXPECTED), help="comma list (default: all, clean first)")
    parser.add_argument("--time-scale", type=float, default=0.05)
    parser.add_argument("--jobs", type=int, default=16)
    args = parser.parse_args()
    defects = [d.strip() for d in args.defects.split(",") if d.strip()]
    unknown = [d for d in defects if d not in EXPECTED]
    if unknown:
        parser.error(f"unknown defect(s) {unknown}; known: {', '.join(EXPECTED)}")
    caught = missed = 0
    print(f"{'defect':28} {'caught':7} {'s':>6}  flagged by (expected: {' / '.join(CASES)} + conformance)")
    with TemporaryDirectory(prefix="defect-matrix-") as tmp:
        for defect in defects:
            flagged, reasons, seconds = judge_variant(defect, args.time_scale, args.jobs, Path(tmp))
            if defect == "none":
                ok = not flagged and not reasons
                mark = "clean" if ok else "FLAGGED"
            else:
                ok = bool(flagged & EXPECTED[defect])
                mark = "yes" if ok else "MISSED"
                caught, missed = caught + ok, missed + (not ok)
            shown = ", ".join(sorted(flagged)) or "-"
            print(f"{defect:28} {mark:7} {seconds:6.1f}  {shown}", flush=True)
            for why in reasons:
                print(f"{'':44}inconclusive: {why}")
            if defect == "none" and not ok:
                missed += 1
    print(f"caught {caught} of {caught + missed} planted defects")
    return 0 if missed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
