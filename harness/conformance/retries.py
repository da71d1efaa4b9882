"""Idempotency (a retried initiate never makes a second job, sequential or concurrent) and request latency."""

from __future__ import annotations

import contextlib
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

from harness.conformance.context import SHORT_JOB_S, Run
from harness.conformance.results import Point, absent, failed, judged, passed, percentile
from harness.contract import Reply


def idempotency(run: Run) -> list[Point]:
    if not run.profile.offers("idempotency"):
        return [absent("idempotency.retry", "idempotency key"), absent("idempotency.concurrent", "idempotency key")]
    return [_sequential(run), _concurrent(run)]


def _key() -> str:
    return f"conformance-{uuid.uuid4().hex[:12]}"


def _where(run: Run) -> str:
    f = run.profile.features
    return f"header {f.idempotency_header}" if f.idempotency == "header" else run.profile.fields["client_request_id"]


def _sequential(run: Run) -> Point:
    key = _key()
    simulate = run.simulate(SHORT_JOB_S)
    with run.client(recorded=True) as client:  # recorded: the checker judges the retry too (duplicate_job)
        replies = [run.note("initiate", client.initiate(run.short_files, key, simulate)) for _ in range(2)]
    ids = [r.job.job_id if r.ok and r.job is not None else None for r in replies]
    codes = [r.http_status for r in replies]
    if None in ids:
        return failed("idempotency.retry", f"initiate with {_where(run)}={key} answered {codes}", codes=codes)
    same = ids[0] == ids[1]
    evidence = f"2 sequential initiates with {_where(run)}={key}: " + ("one job" if same else f"two jobs {ids}")
    return judged("idempotency.retry", same, evidence, job_ids=ids)


def _concurrent(run: Run) -> Point:
    """`retries` clients send one key at once, `rounds` times with fresh keys; any second job is a fail."""
    cfg = run.config
    rounds: list[dict[str, object]] = []
    for _ in range(cfg.rounds):
        if rounds and run.remaining(3 * cfg.request_s) <= 0:
            break
        key = _key()
        replies = _at_once(run, key, cfg.retries)
        ids = sorted({r.job.job_id for r in replies if r.ok and r.job is not None and r.job.job_id})
        refused = [r.http_status or r.error for r in replies if not r.ok]
        rounds.append({"key": key, "jobs": ids, "refused": refused})
        if len(ids) != 1:
            why = f"{len(ids)} distinct jobs: {', '.join(ids)}" if ids else f"no job ({refused})"
            evidence = f"{cfg.retries} concurrent initiates with {_where(run)}={key} -> {why}"
            return failed("idempotency.concurrent", evidence, rounds=rounds)
    evidence = f"{cfg.rounds} rounds of {cfg.retries} concurrent initiates with one {_where(run)}: one job each"
    return passed("idempotency.concurrent", evidence, rounds=rounds)


def _at_once(run: Run, key: str, count: int) -> list[Reply]:
    """`count` clients, connected beforehand, released together by a barrier (bounded wait)."""
    barrier = threading.Barrier(count)
    clients = [run.client(recorded=True) for _ in range(count)]
    simulate = run.simulate(SHORT_JOB_S)

    def one(i: int) -> Reply:
        client = clients[i]
        client.status(run.unknown_id())  # opens the connection, so the initiates leave together
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=run.config.request_s)
        return client.initiate(run.short_files, key, simulate)  # contended on purpose: not a latency sample

    try:
        with ThreadPoolExecutor(count, thread_name_prefix="conformance-retry") as pool:
            return list(pool.map(one, range(count), timeout=run.remaining()))
    finally:
        for client in clients:
            client.close()


def latency(run: Run) -> list[Point]:
    """p50/p99 of successful initiate and status answers (the run's so far, plus a sample of each)."""
    simulate = run.simulate(SHORT_JOB_S / 2)
    job_id = run.jobs.get("long") or run.jobs.get("shape")
    for _ in range(run.config.latency_samples):
        if run.remaining(2 * run.config.request_s) <= 0:  # keep time for the checker
            break
        run.note("initiate", run.probe.initiate(run.short_files[:1], None, simulate))
        if job_id is not None:
            run.note("status", run.probe.status(job_id))
            run.note("status", run.probe.status(job_id))
    return [_judge(run, "initiate"), _judge(run, "status")]


def _judge(run: Run, kind: str) -> Point:
    name, limit = f"latency.{kind}", run.profile.limits[f"{kind}_p99_ms"]
    sample = [s * 1000 for s in run.latencies.get(kind, [])]
    if not sample:
        return failed(name, f"no {kind} request succeeded")
    p50, p99 = percentile(sample, 50), percentile(sample, 99)
    evidence = f"p50 {p50:.0f} ms, p99 {p99:.0f} ms over {len(sample)} (limit p99 <= {limit:g} ms)"
    return judged(name, p99 <= limit, evidence, p50_ms=round(p50, 2), p99_ms=round(p99, 2), n=len(sample))
