"""Live job updates: one pub/sub subscription per API process, fanned out to waiting streams.

Pub/sub drops what is published while Redis is away, so it is only a wake-up: every stream re-reads
the job's durable event log (a Redis stream) on each wake-up and at least once per heartbeat.

A held stream is the API's main cost in memory (thousands can be open at once), so each one keeps little:
a `Wake` (a flag and, while waiting, one future and one timer) rather than an `asyncio.Event` waited on
through `asyncio.wait_for` (a deque and a task per wait), and its heartbeats come from its own generator
rather than from a second task per response.
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
HEARTBEAT = ServerSentEvent(comment="heartbeat")


class Wake:
    """Set by the notifier, cleared and waited on (with a timeout) by one stream."""

    __slots__ = ("_set", "_waiter")

    def __init__(self) -> None:
        self._set = False
        self._waiter: asyncio.Future[None] | None = None

    def set(self) -> None:
        self._set = True
        if self._waiter is not None:
            _release(self._waiter)

    def clear(self) -> None:
        self._set = False

    async def wait(self, timeout: float) -> None:
        """Return when set, or after `timeout` seconds."""
        if self._set:
            return
        loop = asyncio.get_running_loop()
        self._waiter = waiter = loop.create_future()
        timer = loop.call_later(timeout, _release, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None


def _release(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class Notifier:
    def __init__(self, redis_url: str, channel: str) -> None:
        self.redis_url = redis_url
        self.channel = channel
        self._waiters: dict[str, set[Wake]] = {}

    @contextlib.contextmanager
    def watch(self, job_id: str) -> Iterator[Wake]:
        wake = Wake()
        self._waiters.setdefault(job_id, set()).add(wake)
        try:
            yield wake
        finally:
            waiters = self._waiters.get(job_id)
            if waiters is not None:
                waiters.discard(wake)
                if not waiters:
                    del self._waiters[job_id]

    def _wake(self, job_id: str) -> None:
        for wake in self._waiters.get(job_id, ()):
            wake.set()

    def _wake_all(self) -> None:
        for waiters in self._waiters.values():
            for wake in waiters:
                wake.set()

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


async def job_events(
    job_id: str,
    last_event_id: int | None,
    store: JobStore,
    notifier: Notifier,
    heartbeat_s: float,
    snapshot: Callable[[dict[str, str]], dict[str, Any]],
    current: dict[str, str] | None = None,
) -> AsyncIterator[ServerSentEvent]:
    """Snapshot (unless resuming), then every event after it, ending with exactly one terminal event; a comment
    heartbeat every `heartbeat_s`, whatever else is sent (serve it with the response's own ping off).
    `current` is the job's hash if the caller has just read it (the snapshot then needs no second read)."""
    loop = asyncio.get_running_loop()
    next_heartbeat = loop.time() + heartbeat_s
    with notifier.watch(job_id) as wake:
        if last_event_id is None:
            first = _snapshot_event(current or await store.get(job_id), snapshot)
            last_event_id = int(first.id or 0)
            yield first
        current = None  # not kept for the life of the stream
        while True:
            if loop.time() >= next_heartbeat:
                yield HEARTBEAT
                next_heartbeat = loop.time() + heartbeat_s
            wake.clear()
            try:
                # A Redis that hangs must not hold the next heartbeat back: the read gets until then.
                async with asyncio.timeout_at(next_heartbeat):
                    entries = await store.events_after(job_id, last_event_id)
            except (TimeoutError, *REDIS_DOWN):
                entries = []
            for seq, name, data in entries:
                yield ServerSentEvent(data=data, event=name, id=str(seq))
                last_event_id = seq
                if name in TERMINAL_EVENTS:
                    return
            await wake.wait(max(0.0, next_heartbeat - loop.time()))


def _snapshot_event(h: dict[str, str], snapshot: Callable[[dict[str, str]], dict[str, Any]]) -> ServerSentEvent:
    """The job as it is now. A finished job's last event is its terminal one: the snapshot takes the id just
    before it, so the terminal event still follows, once, with a higher id."""
    seq = int(h.get("seq", "1"))
    event_id = seq - 1 if JobStatus(h["status"]).terminal else seq
    return ServerSentEvent(data=json.dumps(snapshot(h)), event="snapshot", id=str(event_id))


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
            await wake.wait(recheck_s)
    return None
