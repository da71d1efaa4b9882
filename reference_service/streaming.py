"""Live job updates: one pub/sub subscription per API process, fanned out to waiting streams.

Pub/sub drops what is published while Redis is away, so it is only a wake-up: every stream re-reads
the job's durable event log (a Redis stream) on each wake-up and at least once per heartbeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

from sse_starlette import ServerSentEvent

from reference_service.jobs import TERMINAL, JobStatus, JobStore
from reference_service.redis_conn import REDIS_DOWN, connect

log = logging.getLogger("reference_service.streaming")
TERMINAL_EVENTS = frozenset(s.value for s in TERMINAL)


class Notifier:
    def __init__(self, redis_url: str, channel: str) -> None:
        self.redis_url = redis_url
        self.channel = channel
        self._waiters: dict[str, set[asyncio.Event]] = {}

    @contextlib.contextmanager
    def watch(self, job_id: str) -> Iterator[asyncio.Event]:
        event = asyncio.Event()
        self._waiters.setdefault(job_id, set()).add(event)
        try:
            yield event
        finally:
            waiters = self._waiters.get(job_id)
            if waiters is not None:
                waiters.discard(event)
                if not waiters:
                    del self._waiters[job_id]

    def _wake(self, job_id: str) -> None:
        for event in self._waiters.get(job_id, ()):
            event.set()

    def _wake_all(self) -> None:
        for waiters in self._waiters.values():
            for event in waiters:
                event.set()

    async def run(self) -> None:
        """Subscribe, dispatch, and resubscribe after an outage (waking everyone to re-read)."""
        while True:
            redis = connect(self.redis_url, socket_timeout=None)
            try:
                async with redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self.channel)
                    self._wake_all()
                    async for message in pubsub.listen():
                        if message and message.get("type") == "message":
                            self._wake(message["data"].decode())
            except REDIS_DOWN as exc:
                log.warning("event subscription lost (%s); resubscribing", exc)
                await asyncio.sleep(0.2)
            finally:
                with contextlib.suppress(Exception):
                    await redis.aclose()


async def wait_for(event: asyncio.Event, timeout: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), timeout)


async def job_events(
    job_id: str,
    last_event_id: int | None,
    store: JobStore,
    notifier: Notifier,
    heartbeat_s: float,
    snapshot: Callable[[dict[str, str]], dict[str, Any]],
) -> AsyncIterator[ServerSentEvent]:
    """Snapshot (unless resuming), then every event after it, ending with exactly one terminal event."""
    with notifier.watch(job_id) as wake:
        if last_event_id is None:
            h = await store.get(job_id)
            seq = int(h.get("seq", "1"))
            terminal = JobStatus(h["status"]).terminal
            # A finished job's last event is its terminal one: the snapshot sits just before it so the
            # terminal event still follows, once, with a higher id.
            last_event_id = seq - 1 if terminal else seq
            yield ServerSentEvent(data=json.dumps(snapshot(h)), event="snapshot", id=str(last_event_id))
        while True:
            wake.clear()
            try:
                entries = await store.events_after(job_id, last_event_id)
            except REDIS_DOWN:
                entries = []
            for seq, name, data in entries:
                yield ServerSentEvent(data=data, event=name, id=str(seq))
                last_event_id = seq
                if name in TERMINAL_EVENTS:
                    return
            await wait_for(wake, heartbeat_s)


async def wait_terminal(
    job_id: str, store: JobStore, notifier: Notifier, recheck_s: float, gone: Callable[[], Awaitable[bool]]
) -> dict[str, str] | None:
    """Hold until the job ends (the legacy synchronous flow); None once the client has gone away."""
    with notifier.watch(job_id) as wake:
        while not await gone():
            wake.clear()
            with contextlib.suppress(*REDIS_DOWN):
                h = await store.get(job_id)
                if not h or JobStatus(h["status"]).terminal:
                    return h
            await wait_for(wake, recheck_s)
    return None
