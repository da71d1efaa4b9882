"""The fault list of the chaos suite and the soak bench, and one way to run a case: a workload with a fault
applied mid-flight, all recorded to one history, judged by the checker.

A case's fault goes in once a few jobs are acknowledged, while others are still being initiated, so it hits
jobs in every phase (queued, running, finishing, being downloaded). Durations are modelled seconds.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from harness.clients.workload import Workload, WorkloadConfig, WorkloadSummary
from harness.contract import V1, ContractProfile
from harness.core.net import redis_clients
from harness.core.procfs import process_figures
from harness.core.timescale import scaled
from harness.faults import (
    ApiRestart,
    Fault,
    Latency,
    RedisOutage,
    RedisPause,
    RedisRestart,
    ResetPeer,
    Timeout,
    WorkerKill,
)
from harness.faults.timing import Timed
from harness.judge import CheckResult
from harness.judge.history import History
from harness.judge.invariants import Anomaly
from harness.targets.base import RecordingTarget, Target

# A restart of the only API process: the front has nowhere else to send a request for about a second and
# answers 502 at once. That is an outage the checker rightly reports (invariant 4); it is tolerated only in
# this exact shape (a prompt 502 inside the restart's own window), so anything else still fails the run.
PROMPT_502_S = 1.0


def prompt_502_during_api_restart(anomaly: Anomaly) -> bool:
    return (
        anomaly.kind == "proxy_timeout"
        and any(d.startswith("ApiRestart(") for d in anomaly.during)
        and all(r.http_status == 502 and (r.latency_s or 0.0) < PROMPT_502_S for r in anomaly.evidence)
    )


@dataclass(frozen=True)
class ChaosCase:
    """One fault of the list: how to make it, how long it stays applied, what the workload does around it."""

    name: str
    make: Callable[[], Fault] | None
    hold_s: float = 40.0
    workload: Mapping[str, Any] = field(default_factory=dict)
    tolerate: Callable[[Anomaly], bool] | None = None

    def fault(self) -> Fault | None:
        return None if self.make is None else self.make()


CASES: tuple[ChaosCase, ...] = (
    ChaosCase("redis-restart", lambda: RedisRestart(graceful=True)),
    ChaosCase("redis-sigkill", lambda: RedisRestart(graceful=False)),
    ChaosCase("redis-pause", RedisPause),
    ChaosCase("redis-outage", RedisOutage, hold_s=30.0),  # past a front's 15 s short-route timer: a hang shows
    ChaosCase("worker-sigkill", lambda: WorkerKill(index=0)),
    ChaosCase("api-restart", ApiRestart, tolerate=prompt_502_during_api_restart),
    ChaosCase("reset-peer-edge", lambda: ResetPeer("edge")),
    ChaosCase("reset-peer-redis", lambda: ResetPeer("redis")),
    ChaosCase("latency-jitter-api", lambda: Latency("api", ms=2000, jitter=1000)),
    ChaosCase("timeout-redis", lambda: Timeout("redis")),
    ChaosCase("timeout-edge", lambda: Timeout("edge")),
    ChaosCase("client-disconnects", None, workload={"disconnect": 1.0}),
    ChaosCase("client-cancels", None, workload={"cancel": 0.5}),  # a cancel holds: nothing runs or ends after it
)
BY_NAME = {case.name: case for case in CASES}


@dataclass(frozen=True)
class CaseRun:
    case: ChaosCase
    summary: WorkloadSummary
    fault_s: float


def run_case(
    stack: Target,
    history: History,
    case: ChaosCase,
    config: WorkloadConfig,
    profile: ContractProfile = V1,
    jobs_key: str | None = None,
    sample_clients: bool = False,
) -> CaseRun:
    """Start the workload (its clients speaking `profile`), apply the case's fault once a quarter of the jobs are
    acknowledged (bounded wait), keep it `hold_s` (modelled), remove it, and wait for every user to finish.
    Around it, where the target's Redis is known: with `jobs_key` (the spec's `[jobs].key`, "*" for the id) the
    jobs the service created during the case (for `ghost_job`); with `sample_clients`, its client count before
    and after (for `resource_leak`: meaningful on a warm service under a load that opens far more connections
    over the run than at once, such as a stream-churning one; a cold start's pools grow legitimately), and the
    resident memory and open file descriptors of the API and worker processes the harness started (a process
    restarted by the case is not compared with its predecessor)."""
    config = replace(config, **case.workload)
    fault = case.fault()
    limit = scaled(config.ramp_s + config.follow_s + 60.0, config.time_scale) + 30.0
    run_id = f"{case.name}-{time.time_ns():x}"
    redis_url = stack.endpoints.redis_url  # a target the harness did not start has none to sample
    baseline = redis_clients(redis_url) if redis_url and sample_clients else None
    if baseline is not None:
        history.record_sample("redis_clients", baseline)
    owned = owned_processes(stack) if sample_clients else {}
    for name, pid in owned.items():
        for what, value in process_figures(pid).items():
            history.record_sample(f"{name}_{what}", value)
    before = service_jobs(redis_url, jobs_key, profile) if redis_url and jobs_key else set()
    with Workload(stack.endpoints.edge_url, history, config, run_id=run_id, profile=profile) as wl:
        wl.wait_acknowledged(max(1, config.jobs // 4), timeout=scaled(config.ramp_s, config.time_scale) + 15.0)
        started = time.monotonic()
        if fault is not None:
            timed = Timed(fault, case.hold_s).on(RecordingTarget(stack, history.record_fault))
            with timed:
                timed.wait(timeout=timed.duration + 30.0)
        fault_s = time.monotonic() - started
        summary = wl.join(timeout=limit)
    if baseline is not None:
        history.record_sample("redis_clients", drained(redis_url, baseline, scaled(DRAIN_S, config.time_scale) + 1.0))
    now = owned_processes(stack) if owned else {}
    for name, pid in owned.items():
        if now.get(name) == pid:
            for what, value in process_figures(pid).items():
                history.record_sample(f"{name}_{what}", value)
    if redis_url and jobs_key:
        for job_id in sorted(service_jobs(redis_url, jobs_key, profile) - before):
            history.record_sample("service_job", 1, job_id=job_id)
    return CaseRun(case, summary, fault_s)


def owned_processes(target: Target) -> dict[str, int]:
    """The API and worker processes of a target the harness started, by component (host pids); {} for others."""
    pids = getattr(target, "pids", None)
    if pids is None:
        return {}
    return {name: pid for name, pid in pids().items() if name == "api" or name.startswith("worker")}


def service_jobs(redis_url: str, key: str, profile: ContractProfile) -> set[str]:
    """The ids of the jobs the service holds in its Redis: keys matching `key` ("*" for the id) whose id has the
    shape of the profile's job ids (a job's other keys, such as "dl:job:<id>:events", are not jobs)."""
    import redis

    head, _, tail = key.partition("*")
    shape = re.compile(profile.job_id_pattern)
    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    try:
        keys = (k.decode(errors="replace") for k in client.scan_iter(match=key, count=1000))
        ids = (k[len(head) : len(k) - len(tail)] for k in keys)
        return {job_id for job_id in ids if shape.fullmatch(job_id)}
    except redis.RedisError:
        return set()
    finally:
        client.close()


DRAIN_S = 20.0  # modelled seconds the service gets to let go of what the load made it hold


def drained(redis_url: str, baseline: int, within_s: float) -> int:
    """Redis's client count once it is back near `baseline`, or the last one seen after `within_s` seconds."""
    deadline, seen = time.monotonic() + within_s, baseline
    while True:
        now = redis_clients(redis_url)
        seen = seen if now is None else now
        if seen <= baseline + 2 or time.monotonic() >= deadline:
            return seen
        time.sleep(0.2)


def unexpected(result: CheckResult, case: ChaosCase | None = None) -> list[Anomaly]:
    """The anomalies the case does not tolerate (all of them for most cases)."""
    tolerate = case.tolerate if case is not None else None
    return [a for a in result.anomalies if tolerate is None or not tolerate(a)]


def tolerated(result: CheckResult, case: ChaosCase | None = None) -> list[Anomaly]:
    keep = {id(a) for a in unexpected(result, case)}
    return [a for a in result.anomalies if id(a) not in keep]
