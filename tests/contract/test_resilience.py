"""Retries, worker death, Redis death and stalls: every job still reaches the right end state."""

from __future__ import annotations

import pytest

from tests.conftest import job_timeout

pytestmark = pytest.mark.contract


def start(service, **simulate):
    with service.client() as c:
        r = c.post("/v1/download/initiate", json={"fileIds": [10001, 10002], "simulate": simulate})
    assert r.status_code == 202, r.text
    return r.json()["jobId"]


def test_two_failed_attempts_then_success(service, time_scale):
    job = start(service, durationMs=4000, failAttempts=2)
    done = service.wait_status(job, {"completed", "failed"}, job_timeout(time_scale, 40))
    assert done["status"] == "completed" and done["attempts"] == 3 and done["error"] is None


def test_three_failed_attempts_is_failed_with_the_error(service, time_scale):
    job = start(service, durationMs=4000, failAttempts=3)
    done = service.wait_status(job, {"completed", "failed"}, job_timeout(time_scale, 40))
    assert done["status"] == "failed" and done["attempts"] == 3
    assert done["error"]["code"] == "simulated_failure" and done["error"]["retryable"] is False


def test_a_retry_is_visible_while_it_waits(service, time_scale):
    job = start(service, durationMs=4000, failAttempts=1)
    seen = service.wait_status(job, {"queued"}, job_timeout(time_scale, 10))
    # still queued after the failed attempt: the error is visible and marked retryable
    if seen["attempts"] == 1:
        assert seen["error"] is None or seen["error"]["retryable"] is True
    assert service.wait_status(job, {"completed"}, job_timeout(time_scale, 30))["attempts"] == 2


def test_worker_sigkill_mid_job_completes_on_another_worker(service, time_scale):
    job = start(service, durationMs=40000)
    service.wait_status(job, {"running"}, 15)
    victim = service.workers[0]
    victim.kill()
    try:
        done = service.wait_status(job, {"completed", "failed"}, job_timeout(time_scale, 120))
    finally:
        victim.start()
    assert done["status"] == "completed"


def test_redis_sigkill_and_restart_mid_job_loses_nothing(service, time_scale):
    jobs = [start(service, durationMs=30000) for _ in range(5)]
    service.wait_status(jobs[-1], {"running"}, 15)
    service.redis.restart(graceful=False)  # SIGKILL, then start again on the same AOF (appendfsync always)
    for job in jobs:
        done = service.wait_status(job, {"completed", "failed"}, job_timeout(time_scale, 150))
        assert done["status"] == "completed", done


def test_a_stalled_attempt_is_reclaimed_and_completes(service, time_scale):
    job = start(service, durationMs=4000, stallAttempts=1)
    done = service.wait_status(job, {"completed", "failed"}, job_timeout(time_scale, 80))
    assert done["status"] == "completed" and done["attempts"] == 2
