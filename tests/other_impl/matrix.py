"""The planted-defect matrix of this implementation: what names each defect (failed conformance points or checker
anomaly kinds: any one is a detection) and the one tool of the harness that must catch it on its own.

Read by `bench/defect_matrix.py` (every defect through every tool, timed) and by `tests/matrix` (each defect
through its tool, in CI). `judge` runs one tool on one variant and returns what it flagged.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from harness.chaos.catalogue import BY_NAME, ChaosCase, run_case
from harness.clients.workload import WorkloadConfig
from harness.conformance import ConformanceConfig, run_conformance
from harness.faults import WorkerKill
from harness.fronts import check_params
from harness.judge import check_files
from harness.judge.history import History
from harness.stack import Stack, StackConfig

SPEC = Path(__file__).with_name("spec.toml")
CONFORMANCE = "conformance"
CASES = ("client-disconnects", "worker-sigkill", "redis-outage", "client-cancels")

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

# The one tool that must name each defect by itself (conformance, or a case of the chaos catalogue), and what it
# must name: the reason, not any failure.
TOOL: dict[str, tuple[str, set[str]]] = {
    "early_stream_end": (CONFORMANCE, {"sse.terminal_once"}),
    "racy_idempotency": (CONFORMANCE, {"idempotency.concurrent"}),
    "bad_input_500": (CONFORMANCE, {"errors.bad_input"}),
    "hang_on_redis_down": ("redis-outage", {"hung_request", "proxy_timeout"}),
    "ghost_jobs": ("client-cancels", {"ghost_job"}),
    "rerun_after_complete": ("client-cancels", {"status_regression", "rerun_after_terminal"}),
    "slow_stall_recovery": ("worker-sigkill-alone", {"deadline_missed"}),
    "redis_client_leak": ("client-disconnects", {"resource_leak"}),
    "unreachable_artifact": (CONFORMANCE, {"download.checksum"}),
    "no_terminal_event": (CONFORMANCE, {"sse.terminal_once"}),
    "status_500_on_redis_error": ("redis-outage", {"server_error"}),
    "complete_before_artifact": ("client-cancels", {"artifact_unreachable", "completed_without_artifact"}),
    "cancel_overwritten": ("client-cancels", {"status_regression", "cancel_overwritten"}),
}


# What a defect's tool needs beyond the default. A ghost job is made where clients have no idempotency key to
# retry an answered-500 initiate with (a retry with the key finds the job and names it). A slow stall recovery
# shows for certain on the jobs of the only worker, killed once a few of them run and restarted at once (with
# two workers the one killed may hold no job yet).
WORKLOAD: dict[str, dict[str, Any]] = {"ghost_jobs": {"client_request_id": 0.0}, "slow_stall_recovery": {"jobs": 16}}
WORKERS: dict[str, int] = {"slow_stall_recovery": 1}
EXTRA_CASES = {"worker-sigkill-alone": ChaosCase("worker-sigkill-alone", lambda: WorkerKill(index=0), hold_s=5.0)}


@dataclass(frozen=True)
class Judged:
    """What one tool flagged on one variant: failed points or anomaly kinds, the reasons if inconclusive."""

    flagged: frozenset[str]
    inconclusive: tuple[str, ...]
    evidence: str


def stack_config(defect: str, time_scale: float) -> StackConfig:
    workers = WORKERS.get(defect, 2)
    return StackConfig(service=str(SPEC), time_scale=time_scale, workers=workers, service_env={"OTHER_DEFECTS": defect})


def workload(stack: Stack, case: str, jobs: int, **overrides: Any) -> WorkloadConfig:
    """A short workload of few users: more streams and requests over the run than ever in flight at once, so a
    pool and a leak differ; the disconnect case churns streams (short jobs, all followed over SSE)."""
    params = check_params(stack.config.proxy_config, stack.time_scale, stack.profile)
    base = WorkloadConfig.for_params(params, stack.time_scale, jobs=jobs, concurrency=4, seed=5, cancel=0.25)
    if case == "client-disconnects":
        base = replace(base, jobs=2 * jobs, sse=1.0, min_job_s=10.0, max_job_s=20.0)
    return replace(base, **overrides)


def judge(stack: Stack, tool: str, out: Path, jobs: int = 8, **overrides: Any) -> Judged:
    """Run `tool` (CONFORMANCE or a catalogue case, its workload with `overrides`) against the running variant."""
    if tool == CONFORMANCE:
        result = run_conformance(ConformanceConfig(stack.endpoints.edge_url, stack.profile, stack.time_scale, 20))
        failed = frozenset(p.name for p in result.points if p.verdict == "fail")
        evidence = "; ".join(f"{p.name}: {p.evidence}" for p in result.points if p.verdict == "fail")
        return Judged(failed, tuple(p.evidence for p in result.points if p.verdict == "inconclusive"), evidence)
    path = out / f"{tool}.jsonl"
    params = check_params(stack.config.proxy_config, stack.time_scale, stack.profile)
    with History(path) as history:
        keys = stack.service.jobs.get("key")
        load = workload(stack, tool, jobs, **overrides)
        case = BY_NAME.get(tool) or EXTRA_CASES[tool]
        run_case(stack, history, case, load, stack.profile, keys, sample_clients=True)
    verdict = check_files([path], params)
    evidence = "; ".join(f"{a.kind}: {a.message}" for a in verdict.anomalies[:3])
    return Judged(frozenset(a.kind for a in verdict.anomalies), verdict.inconclusive, f"{evidence} ({path})")


def run_variant(defect: str, tools: tuple[str, ...], time_scale: float, out: Path, jobs: int = 8) -> dict[str, Judged]:
    """One variant booted from the spec, each tool run against it in turn."""
    with Stack(stack_config(defect, time_scale)) as stack:
        overrides = {"jobs": jobs, **WORKLOAD.get(defect, {})}
        return {tool: judge(stack, tool, out, **overrides) for tool in tools}


def named_for_its_reason(defect: str, judged: Judged) -> str | None:
    """None when the variant's tool named what its class must name; else why not (for the assertion)."""
    tool, reasons = TOOL[defect]
    if judged.flagged & reasons:
        return None
    return (
        f"{defect} through {tool}: expected one of {sorted(reasons)}, flagged {sorted(judged.flagged) or 'nothing'}"
        + (f" (inconclusive: {'; '.join(judged.inconclusive)})" if judged.inconclusive else "")
        + f"; {judged.evidence}"
    )
