"""A write whose reply is lost is sent again, and Redis runs every copy: each transition must apply once.

Behind a Toxiproxy `timeout` on Redis's replies (downstream), a command sent on an open connection reaches Redis
and runs, but its answer never comes back; the client times out and reconnects to send it again (redis-py's own
retry, then the worker's retry loop). The new connections hang in their handshake while the toxic lasts; once it
is removed, the next copy runs too. Before write ids, a re-sent `start` counted its attempt twice: the worker went
on as attempt 1, every later write of that attempt was refused as stale, and the job stayed `running` for ever.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from harness.core.net import free_port
from harness.core.processes import ManagedProcess
from harness.faults.toxiproxy import ToxiproxyClient
from harness.faults.toxiproxy_server import ToxiproxyServer
from harness.stack.components import redis_process
from reference_service.jobs import JobStatus, JobStore, Keys, uuid7
from reference_service.redis_conn import connect

pytestmark = pytest.mark.stack


@pytest.fixture
def lone_redis(tmp_path: Path) -> Iterator[ManagedProcess]:
    """A Redis no other process talks to, so its command counts are this test's commands alone."""
    proc = redis_process(free_port(), tmp_path / "redis", tmp_path / "logs", aof="always")
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def toxiproxy(tmp_path: Path) -> Iterator[ToxiproxyClient]:
    with ToxiproxyServer(tmp_path / "toxiproxy.log") as server, server.client() as client:
        yield client


def _port(proc: ManagedProcess) -> int:
    return int(proc.argv[proc.argv.index("--port") + 1])


async def _calls(redis: Redis, command: str) -> int:
    stats = await redis.info("commandstats")
    return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))


def test_a_start_resent_after_a_lost_reply_counts_one_attempt(
    lone_redis: ManagedProcess, toxiproxy: ToxiproxyClient
) -> None:
    redis_port = _port(lone_redis)
    proxy = toxiproxy.create_proxy("redis", upstream=f"127.0.0.1:{redis_port}", listen=f"127.0.0.1:{free_port()}")

    async def scenario() -> None:
        direct = connect(f"redis://127.0.0.1:{redis_port}/0")
        proxied = connect(f"redis://127.0.0.1:{proxy.port}/0", socket_timeout=0.2)
        store, keys, job = JobStore(proxied, Keys("resend")), Keys("resend"), uuid7()
        fields = {"jobId": job, "status": "queued", "totalFiles": 1, "progress": 0, "completedFiles": 0,
                  "attempts": 0, "fileIds": "[10001]"}  # fmt: skip
        assert (await store.create(job, fields, 60_000, None))[0]
        await store.transition(job, JobStatus.RUNNING, {"progress": 0}, mode="start")  # loads the script
        await store.transition(job, JobStatus.QUEUED, {"progress": 0}, attempt=1)
        sent, reconnects = await _calls(direct, "evalsha"), await _calls(direct, "hello")

        toxiproxy.add_toxic("redis", "timeout", {"timeout": 0}, name="lost_replies", stream="downstream")
        start = asyncio.ensure_future(
            store.transition(job, JobStatus.RUNNING, {"progress": 0}, mode="start", retry_s=30.0)
        )
        try:
            deadline = asyncio.get_running_loop().time() + 20
            # the write ran in Redis, and the client has twice reconnected to send it again
            while await _calls(direct, "evalsha") <= sent or await _calls(direct, "hello") < reconnects + 2:
                assert not start.done(), f"the start returned while every reply was swallowed: {start.result()}"
                assert asyncio.get_running_loop().time() < deadline, "the start was not sent, or not re-sent"
                await asyncio.sleep(0.02)
        finally:
            toxiproxy.remove_toxic("redis", "lost_replies")
        applied = await asyncio.wait_for(start, 30)
        h = {k.decode(): v.decode() for k, v in (await direct.hgetall(keys.job(job))).items()}
        assert h["attempts"] == "2", f"a re-sent start counted {int(h['attempts']) - 1} attempts instead of 1"
        assert applied.attempts == 2 and applied.replayed
        events = await store.events_after(job, 0)
        assert [json.loads(data)["attempts"] for _, _, data in events] == [0, 1, 1, 2]
        await direct.aclose()
        await proxied.aclose()

    asyncio.run(scenario())


def test_every_transition_applied_twice_writes_once(lone_redis: ManagedProcess) -> None:
    """The same write id sent twice (as a re-send does): the second copy answers the first one's seq."""

    async def scenario() -> None:
        redis = connect(f"redis://127.0.0.1:{_port(lone_redis)}/0")
        store, job = JobStore(redis, Keys("twice")), uuid7()
        send = store._transition

        async def twice(*, keys: list[str], args: list[object]) -> object:
            first = await send(keys=keys, args=args)
            again = await send(keys=keys, args=args)
            assert again[2] == first[2], f"a re-sent write got seq {again[2]}, its first copy {first[2]}"
            return again

        store._transition = twice  # type: ignore[method-assign]
        fields = {"jobId": job, "status": "queued", "totalFiles": 1, "progress": 0, "completedFiles": 0,
                  "attempts": 0, "fileIds": "[10001]"}  # fmt: skip
        await store.create(job, fields, 60_000, None)
        steps = [
            (JobStatus.RUNNING, {"mode": "start"}),
            (JobStatus.RUNNING, {"mode": "tick", "attempt": 1, "fields": {"progress": 50}}),
            (JobStatus.QUEUED, {"attempt": 1}),
            (JobStatus.RUNNING, {"mode": "start"}),
            (JobStatus.PROCESSING_ARTIFACTS, {"attempt": 2}),
            (JobStatus.COMPLETED, {"attempt": 2, "fields": {"progress": 100}}),
        ]
        for target, kw in steps:
            await store.transition(job, target, kw.pop("fields", None), **kw)  # type: ignore[arg-type]
        h = await store.get(job)
        assert (h["status"], h["attempts"], h["seq"]) == ("completed", "2", str(1 + len(steps)))
        assert [seq for seq, _, _ in await store.events_after(job, 0)] == list(range(1, 2 + len(steps)))
        await redis.aclose()

    asyncio.run(scenario())


def test_a_fenced_off_attempt_is_reclaimed_not_stranded(service) -> None:  # type: ignore[no-untyped-def]
    """A running job whose attempts moved on under its worker (as a double-counted start did) is handed back to the
    queue by that worker and finishes; it is never left `running` with no one working on it."""
    with service.client() as c:
        r = c.post("/v1/download/initiate", json={"fileIds": [10001], "simulate": {"durationMs": 40000}})
    assert r.status_code == 202, r.text
    job = r.json()["jobId"]
    service.wait_status(job, {"running"}, 15)

    async def bump() -> None:
        redis = connect(service.redis_url)
        await redis.hincrby(Keys().job(job), "attempts", 1)  # the worker's attempt 1 is now stale
        await redis.aclose()

    asyncio.run(bump())
    done = service.wait_status(job, {"completed", "failed"}, 60)
    assert done["status"] == "completed" and done["attempts"] == 3, done
