"""Drive one config: a fresh stack, the same seeded workload, every operation recorded to one history.

The built-in `mixed` workload is `harness.clients.workload` (pollers, SSE followers, disconnects, retries, downloads)
plus a fixed coverage set that makes each flow's verdict independent of the seed: legacy synchronous starts
whose job lengths span the workload's range, and one SSE follower of the longest job. A locustfile instead is
run by Locust itself (`locust -f FILE --headless`, which boots its own stack), recording to the same kind of
history. Faults (`demo`: latency+jitter on the API, a Redis SIGKILL, a worker kill, an edge reset) run once a
quarter of the jobs are acknowledged, each for a while of modelled time, one after the other.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.clients import ServiceClient
from harness.clients.workload import Workload, WorkloadConfig
from harness.contract import ContractProfile, Timeouts
from harness.core.errors import ConfigError, HarnessError
from harness.core.timescale import scaled
from harness.faults import Fault, Latency, RedisRestart, ResetPeer, WorkerKill
from harness.faults.timing import Schedule, Timed
from harness.fronts import check_params
from harness.judge.history import History
from harness.stack import Stack, StackConfig
from harness.stack.components import AofProfile
from harness.stack.config import Backend
from harness.targets.base import RecordingTarget

Say = Callable[[str], None]
FAULT_PLANS: dict[str, tuple[tuple[Callable[[], Fault], float], ...]] = {
    "none": (),
    "demo": (
        (lambda: Latency("api", ms=2000, jitter=1000), 20.0),
        (lambda: RedisRestart(graceful=False), 5.0),
        (lambda: WorkerKill(index=0), 15.0),
        (lambda: ResetPeer("edge"), 3.0),
    ),
}


@dataclass(frozen=True)
class RunPlan:
    """How every config of a comparison is driven (durations modelled unless named _wall)."""

    workload: str = "mixed"
    seed: int = 7
    jobs: int = 24
    duration_wall_s: float | None = None
    time_scale: float = 0.05
    faults: str = "none"
    legacy_starts: int = 4
    backend: Backend = "local"
    aof: AofProfile = "always"
    locust_args: tuple[str, ...] = field(default=())
    service: str = "reference"  # the implementation in the SUT slot: a shipped spec's name or a spec file

    def __post_init__(self) -> None:
        if self.faults not in FAULT_PLANS:
            raise ConfigError(f"fault plan {self.faults!r} is unknown; use one of {', '.join(FAULT_PLANS)}")
        if self.workload != "mixed" and not Path(self.workload).is_file():
            raise ConfigError(f"workload {self.workload!r} is neither 'mixed' nor a locustfile that exists")

    @property
    def is_locust(self) -> bool:
        return self.workload != "mixed"

    def describe(self) -> dict[str, Any]:
        faults = ", ".join(f"{make()!r} for {hold:g} s" for make, hold in FAULT_PLANS[self.faults]) or "none"
        driver = "mixed (threaded workload driver)" if not self.is_locust else f"locust -f {self.workload}"
        return {"workload": driver, "service": self.service, "seed": self.seed, "jobs": self.jobs,
                "legacy starts": self.legacy_starts, "faults": faults}  # fmt: skip


def drive(plan: RunPlan, config: str, history_path: Path, say: Say) -> None:
    """Run the plan behind `config` and leave its history at `history_path`."""
    if plan.is_locust:
        run_locust(plan, config, history_path, say)
        return
    stack_config = StackConfig(
        backend=plan.backend, proxy_config=config, time_scale=plan.time_scale, aof=plan.aof, service=plan.service
    )
    with Stack(stack_config) as stack, History(history_path) as history:
        say(f"{config}: stack up in {stack.boot_seconds:.1f} s at {stack.endpoints.edge_url}")
        _drive_mixed(plan, config, stack, history, say)


def _drive_mixed(plan: RunPlan, config: str, stack: Any, history: History, say: Say) -> None:
    """The workload's users and the coverage set at once, the faults in the middle; every wait bounded."""
    params = check_params(config, stack.time_scale, stack.profile)
    wl = WorkloadConfig.for_params(
        params, stack.time_scale, jobs=plan.jobs, concurrency=min(plan.jobs, 32), seed=plan.seed
    )
    limit = plan.duration_wall_s or scaled(wl.ramp_s + wl.max_job_s * 3 + 120.0, plan.time_scale) + 20.0
    edge, profile = stack.endpoints.edge_url, stack.profile
    legacy = plan.legacy_starts if profile.offers("legacy_start") else 0
    pool = ThreadPoolExecutor(legacy + 1, thread_name_prefix="coverage")
    with Workload(edge, history, wl, run_id=f"{config}-{plan.seed}", profile=profile) as users, pool:
        futures = [pool.submit(_legacy, edge, history, wl, i, legacy, profile) for i in range(legacy)]
        futures.append(pool.submit(_long_sse, edge, history, wl, profile))
        _run_faults(plan, stack, history, users, wl, say, config)
        summary = users.join(timeout=limit)
        for fut in futures:
            fut.result(timeout=max(1.0, limit - summary.wall_s))
    say(f"{config}: {summary.acknowledged}/{summary.planned} jobs acknowledged in {summary.wall_s:.1f} s")


def _run_faults(
    plan: RunPlan, stack: Any, history: History, users: Workload, wl: WorkloadConfig, say: Say, config: str
) -> None:
    steps = FAULT_PLANS[plan.faults]
    if not steps:
        return
    users.wait_acknowledged(max(1, wl.jobs // 4), timeout=scaled(wl.ramp_s, wl.time_scale) + 15.0)
    schedule = Schedule(*(Timed(make(), hold) for make, hold in steps)).on(RecordingTarget(stack, history.record_fault))
    say(f"{config}: faults {' -> '.join(step.fault.kind for step in schedule.steps)}")
    schedule.run()


def _legacy(edge: str, history: History, wl: WorkloadConfig, index: int, count: int, profile: ContractProfile) -> None:
    """One synchronous start whose job length is the index-th of `count` spread over the workload's range."""
    share = index / max(1, count - 1)
    length_s = wl.min_job_s + (wl.max_job_s - wl.min_job_s) * share
    timeouts = Timeouts(legacy_s=scaled(wl.max_job_s * 3, wl.time_scale) + 10.0)
    time.sleep(scaled(wl.ramp_s, wl.time_scale) * share)
    with ServiceClient(edge, history, f"legacy-{index}", timeouts=timeouts, profile=profile) as client:
        client.legacy_start([20001 + index], f"legacy-{index}-{time.time_ns():x}", _length(profile, length_s))


def _length(profile: ContractProfile, length_s: float) -> dict[str, int] | None:
    """The simulate control that makes a job `length_s` long, where the service takes one."""
    return {"durationMs": round(length_s * 1000)} if profile.features.simulate else None


def _long_sse(edge: str, history: History, wl: WorkloadConfig, profile: ContractProfile) -> None:
    """The longest job of the range, followed over SSE to its end, then downloaded: the stream's worst case. A
    service without the simulate control gets twelve file ids (the longest job of a service taking 10 s a file)."""
    files = [30001] if profile.features.simulate else list(range(30001, 30013))
    with ServiceClient(edge, history, "long-sse", timeouts=wl.timeouts(), profile=profile) as client:
        reply = client.initiate(files, f"long-sse-{time.time_ns():x}", _length(profile, wl.max_job_s))
        if reply.job is None or reply.job.job_id is None:
            return
        deadline = scaled(wl.follow_s, wl.time_scale)
        seen = client.follow_sse(reply.job.job_id, deadline)
        if seen.terminal is None:
            client.poll_until_terminal(reply.job.job_id, deadline)
        client.download(reply.job.job_id)


def run_locust(plan: RunPlan, config: str, history_path: Path, say: Say) -> None:
    """`locust -f FILE --headless` behind `config` (Locust boots the stack); its CSV lands beside the history."""
    duration = plan.duration_wall_s or scaled(300.0, plan.time_scale)
    argv = [
        str(Path(sys.executable).with_name("locust")), "-f", plan.workload, "--headless", "--only-summary",
        "-u", str(plan.jobs), "-r", str(plan.jobs), "-t", f"{max(1, round(duration))}s",
        "--stop-timeout", str(max(5, round(scaled(200.0, plan.time_scale)))),
        "--proxy-config", config, "--time-scale", str(plan.time_scale), "--aof", plan.aof, "--backend", plan.backend,
        "--history", str(history_path), "--csv", str(history_path.with_name("locust")), "--no-default-thresholds",
        "--service", plan.service,
        *plan.locust_args,
    ]  # fmt: skip
    say(f"{config}: {shlex.join(argv[1:])}")
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 120, check=False)
    except subprocess.TimeoutExpired:
        raise HarnessError(f"locust behind {config} did not finish within {duration + 120:.0f} s") from None
    if not history_path.is_file():
        raise HarnessError(f"locust behind {config} exited {done.returncode} without a history: {done.stderr[-800:]}")
    say(f"{config}: locust exited {done.returncode}")
