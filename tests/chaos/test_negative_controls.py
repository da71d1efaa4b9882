"""Negative controls: each breaks the one thing an invariant guards, and the checker must name it.

Without these, a green chaos suite could mean a blind checker. Each control gets its own small stack.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from harness.chaos.pytest_plugin import StackFactory
from harness.clients import ServiceClient
from harness.clients.workload import Workload, WorkloadConfig
from harness.faults import RedisRestart
from harness.fronts import check_params
from harness.judge import CheckResult, check, render_text
from harness.judge.history import History, read_history
from harness.targets.base import RecordingTarget, Target

pytestmark = pytest.mark.chaos


def kinds(result: CheckResult) -> set[str]:
    return {a.kind for a in result.anomalies}


class OneOff:
    """Stacks for one test only (each control breaks its own), closed at the test's end."""

    def __init__(self, factory: StackFactory) -> None:
        self.factory = factory
        self.made: list[Any] = []

    def __call__(self, **overrides: Any) -> Target:
        self.made.append(stack := self.factory(**overrides))
        return stack

    def close(self) -> None:
        while self.made:
            self.made.pop().close()


@pytest.fixture
def one_off(stack_factory: StackFactory) -> Iterator[OneOff]:
    stacks = OneOff(stack_factory)
    try:
        yield stacks
    finally:
        stacks.close()


def test_redis_without_persistence_killed_loses_jobs(one_off: OneOff, history: History, front: str) -> None:
    stack = one_off(aof="off", workers=2)
    params = check_params(front, stack.time_scale)
    config = WorkloadConfig.for_params(
        params, stack.time_scale, jobs=8, min_job_s=60, max_job_s=90, ramp_s=0, sse=0.0, disconnect=0.0
    )
    with Workload(stack.endpoints.edge_url, history, config) as wl:
        assert wl.wait_acknowledged(8, timeout=15)
        RedisRestart(graceful=False).on(RecordingTarget(stack, history.record_fault)).apply().remove()
        wl.join(timeout=60)
    result = check(read_history(history.path), params)
    assert "lost_job" in kinds(result), render_text(result)
    assert result.stats.jobs["lost"] >= 1, render_text(result)


def test_buffered_sse_front_shows_a_gap(one_off: OneOff, history: History) -> None:
    stack = one_off(proxy_config="buffered-sse", workers=1)
    params = check_params("buffered-sse", stack.time_scale)
    assert params.idle_timer_s is not None
    with ServiceClient(stack.endpoints.edge_url, history, "sse") as client:
        job = client.initiate([10001], simulate={"durationMs": 90_000}).job
        assert job is not None and job.job_id
        seen = client.follow_sse(job.job_id, deadline=params.idle_timer_s * 4)
    result = check(read_history(history.path), params)
    assert "sse_gap" in kinds(result), f"{seen}\n{render_text(result)}"


def test_legacy_start_behind_nginx_defaults_hits_the_proxy_timeout(one_off: OneOff, history: History) -> None:
    stack = one_off(proxy_config="nginx-defaults", workers=1)
    params = check_params("nginx-defaults", stack.time_scale)
    with ServiceClient(stack.endpoints.edge_url, history, "legacy") as client:
        reply = client.legacy_start([10001], simulate={"durationMs": 120_000})
    assert reply.http_status == 504, reply
    records = read_history(history.path)
    lenient = check(records, params)
    assert not lenient.anomalies and lenient.stats.proxy_timeouts["legacy"] == {504: 1}, render_text(lenient)
    strict = check(records, replace(params, legacy_strict=True))
    assert kinds(strict) == {"legacy_proxy_timeout"}, render_text(strict)


def test_service_that_ignores_client_request_id_duplicates_jobs(one_off: OneOff, history: History, front: str) -> None:
    stack = one_off(workers=1, service_env={"REFERENCE_BUG_IGNORE_CLIENT_REQUEST_ID": "1"})
    params = check_params(front, stack.time_scale)
    config = WorkloadConfig.for_params(
        params,
        stack.time_scale,
        jobs=6,
        min_job_s=10,
        max_job_s=20,
        ramp_s=5,
        client_request_id=1.0,
        resend=1.0,
        seed=3,
    )
    with Workload(stack.endpoints.edge_url, history, config) as wl:
        wl.join(timeout=60)
    result = check(read_history(history.path), params)
    assert "duplicate_job" in kinds(result), render_text(result)
    assert result.stats.jobs["duplicated"] >= 1
