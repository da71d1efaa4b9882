"""The job store's guard: an illegal move is refused inside Redis and nothing is written."""

from __future__ import annotations

import asyncio

import pytest

from reference_service.jobs import IllegalTransition, JobStatus, JobStore, Keys, uuid7
from reference_service.redis_conn import connect

pytestmark = pytest.mark.contract


def test_illegal_moves_are_refused_and_never_written(service):
    async def scenario() -> None:
        redis = connect(service.redis_url)
        store = JobStore(redis, Keys("guardtest"))
        job = uuid7()
        fields = {
            "jobId": job,
            "status": "queued",
            "totalFiles": 1,
            "progress": 0,
            "completedFiles": 0,
            "attempts": 0,
            "fileIds": "[10001]",
            "createdAt": 1,
            "expiresAt": 2,
        }
        created, _ = await store.create(job, fields, 60_000, None)
        assert created
        await store.transition(job, JobStatus.RUNNING, {"progress": 0}, mode="start")
        await store.transition(job, JobStatus.RUNNING, {"progress": 50}, mode="tick", attempt=1)
        before = await store.get(job)
        for target, kw in [
            (JobStatus.RUNNING, {"fields": {"progress": 40}, "mode": "tick", "attempt": 1}),
            (JobStatus.RUNNING, {"fields": {"progress": 60}, "mode": "tick", "attempt": 0}),
            (JobStatus.COMPLETED, {"attempt": 1}),
            (JobStatus.EXPIRED, {}),
        ]:
            with pytest.raises(IllegalTransition):
                await store.transition(job, target, kw.pop("fields", None), **kw)
        assert await store.get(job) == before  # refused moves wrote nothing, not even updatedAt
        await store.transition(job, JobStatus.CANCELLED)
        with pytest.raises(IllegalTransition, match="cancelled -> running"):
            await store.transition(job, JobStatus.RUNNING, mode="start")
        events = await store.events_after(job, 0)
        assert [e[0] for e in events] == [1, 2, 3, 4] and events[-1][1] == "cancelled"
        await redis.aclose()

    asyncio.run(scenario())
