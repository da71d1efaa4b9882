"""Each fault has its observed effect on a running chain, and the chain recovers with no job lost."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from harness.faults import ApiRestart, Latency, ProxyDown, RedisOutage, RedisPause, RedisRestart, ResetPeer, WorkerKill
from harness.stack import Stack, StackConfig
from tests.conftest import job_timeout, wait_until

if TYPE_CHECKING:
    from harness.stack.containers import ContainerStack
    from harness.stack.local import LocalStack

    AnyStack = LocalStack | ContainerStack

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def stack(backend: str, time_scale: float) -> Iterator[AnyStack]:
    """One chain per backend (the `backend` parameter of tests/stack/conftest.py) for the whole module."""
    config = StackConfig(backend=backend, proxy_config="recommended", time_scale=time_scale, workers=2, aof="always")
    with Stack(config) as s:
        yield s


def client(stack: AnyStack, **kw: object) -> httpx.Client:
    return httpx.Client(base_url=stack.endpoints.edge_url, timeout=kw.pop("timeout", 10.0), **kw)


def start_jobs(stack: AnyStack, n: int, duration_ms: int) -> list[str]:
    with client(stack) as c:
        return [
            c.post(
                "/v1/download/initiate", json={"fileIds": [10001 + i], "simulate": {"durationMs": duration_ms}}
            ).json()["jobId"]
            for i in range(n)
        ]


def wait_terminal(stack: AnyStack, jobs: list[str], timeout: float) -> dict[str, dict[str, Any]]:
    """Poll through the chain, riding out the fault's errors, until every job is terminal; their last status."""
    final: dict[str, dict[str, Any]] = {}
    with client(stack, timeout=3) as c:

        def probe() -> bool:
            for job in jobs:
                if job in final:
                    continue
                try:
                    r = c.get(f"/v1/download/status/{job}")
                except httpx.HTTPError:
                    return False
                if r.status_code == 200 and r.json()["status"] in {"completed", "failed", "cancelled"}:
                    final[job] = r.json()
            return len(final) == len(jobs)

        wait_until(probe, timeout, f"{len(jobs)} jobs to finish", interval=0.1)
    return final


def statuses(final: dict[str, dict[str, Any]]) -> set[str]:
    return {body["status"] for body in final.values()}


def status_latency(c: httpx.Client, n: int = 15) -> float:
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        assert c.get("/health").status_code == 200
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


def test_latency_on_api_is_measured_on_the_wire(stack, time_scale):
    with client(stack) as c:
        base = status_latency(c)
        with Latency(proxy="api", ms=2000).on(stack):  # 2 s of modelled time
            slow = status_latency(c, n=5)
        after = status_latency(c)
    added = 2.0 * time_scale
    assert slow - base >= added * 0.8, (base, slow)
    assert after < base + added / 2


def test_reset_peer_on_edge_breaks_connections_then_heals(stack):
    with ResetPeer(proxy="edge").on(stack), client(stack) as c, pytest.raises(httpx.TransportError):
        c.get("/health")
    with client(stack) as c:
        assert c.get("/health").status_code == 200


def test_redis_partition_and_pause_are_503_then_recover(stack):
    for fault in (ProxyDown("redis"), RedisPause()):
        with fault.on(stack), client(stack) as c:
            r = c.get("/health")
            assert r.status_code == 503 and r.headers["retry-after"], fault
        with client(stack) as c:
            wait_until(lambda c=c: c.get("/health").status_code == 200, 10, f"recovery after {fault!r}")


# bullmq job locks at the test scale: 2 s, renewed every 1 s (see reference_service.worker.worker_options).
LOCK_RENEW_S = 1.0


def test_redis_sigkill_mid_jobs_loses_nothing_and_reruns_nothing(stack, time_scale):
    """Every job completes; and when Redis is back within a quarter of a lock renewal period, in its first attempt: the
    workers' Redis backoff follows the time scale, so they reconnect (through the `redis` proxy) before any lock
    lapses. With bullmq's real-time backoff (2 s, 4 s...) the locks expired during the reconnection and the stall
    check re-ran running jobs. A slower restart (a container's stop and start) may let a lock lapse: a re-run is
    then the stall check doing its job, and only completion is required."""
    jobs = [job for ms in (10_000, 20_000, 30_000, 40_000) for job in start_jobs(stack, 8, ms)]  # workers busy
    with RedisRestart(graceful=False).on(stack) as fault:
        assert fault.windows and fault.windows[0].kind
    window = fault.windows[0]
    outage = (window.end_mono or time.monotonic()) - window.start_mono
    final = wait_terminal(stack, jobs, job_timeout(time_scale, 150))
    assert statuses(final) == {"completed"}, final
    reruns = {job: body["attempts"] for job, body in final.items() if body["attempts"] != 1}
    print(f"Redis restart took {outage:.2f} s; {len(reruns)} job(s) re-run")
    # Reconnection retries come 0.1, 0.3, 0.7 s after the kill (scaled backoff): Redis back by 0.25 s means
    # reconnected by 0.3 s, well before a lock renewed up to 1 s earlier lapses at 2 s.
    if outage < LOCK_RENEW_S / 4:
        assert reruns == {}, f"Redis was back after {outage:.2f} s, yet jobs were re-run: {reruns}"


def test_a_redis_outage_is_503_and_then_back_on_the_same_data(stack, time_scale):
    """Down for the fault's window (every request a prompt 503), then up again on its own data: jobs acknowledged
    before the outage complete after it."""
    jobs = start_jobs(stack, 4, 20_000)
    with RedisOutage().on(stack) as outage, client(stack) as c:
        r = c.get("/health")
        assert r.status_code == 503 and r.headers["retry-after"], outage
        assert c.get(f"/v1/download/status/{jobs[0]}").status_code == 503
    final = wait_terminal(stack, jobs, job_timeout(time_scale, 100))
    assert statuses(final) == {"completed"}, final


def test_worker_sigkill_then_reclaim(stack, time_scale):
    jobs = start_jobs(stack, 6, 40_000)
    with client(stack) as c:
        wait_until(lambda: c.get(f"/v1/download/status/{jobs[-1]}").json()["status"] == "running", 10, "running")
    with WorkerKill(index=0).on(stack):
        wait_until(lambda: not stack._proc("worker-0").alive, 5, "worker-0 to die")
    assert stack._proc("worker-0").alive  # restarted on remove
    final = wait_terminal(stack, jobs, job_timeout(time_scale, 160))
    assert statuses(final) == {"completed"}, final


def test_api_restart_is_survived(stack, time_scale):
    jobs = start_jobs(stack, 4, 20_000)
    with ApiRestart().on(stack):
        pass
    final = wait_terminal(stack, jobs, job_timeout(time_scale, 100))
    assert statuses(final) == {"completed"}, final
