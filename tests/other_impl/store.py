"""The job store: every key in Redis, one connection pool per process, and the calls API and workers make.

Key layout (PREFIX = "other:"):

    other:job:<id>           hash: id state percent tries file_count files_done sha256 bytes failure poll_ms seq
                             owner (the running attempt's token) file_ids duration_ms created_ms request_id
                             cancel_token
    other:log:<id>           list: the job's events, "<seq> <event> <body JSON>", seq = index + 1
    other:rid:<request_id>   string: the job id a request_id created (set in the same step as the job)
    other:queue              list: ids waiting; LPUSH new ones, taken from the right (re-queued ones go right)
    other:processing:<n>     list: ids worker <n> took (moved there from the queue by the take script)
    other:workers            set: every processing list's key, for the reapers
    other:lease:<id>         string: the running attempt's token, expiring LEASE_S after its latest tick
    other:initiates          counter of initiates (only with the ghost_jobs defect)
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple, TypeVar

from redis import exceptions as rx
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff, NoBackoff

from . import scripts
from .config import JOB_TTL_S, MAX_TRIES, Timing

PREFIX = "other:"
DOWN = (rx.ConnectionError, rx.TimeoutError)  # BusyLoadingError (AOF loading) is a ConnectionError
T = TypeVar("T")


class Entry(NamedTuple):
    """One event of a job's log: its seq (the SSE id), its SSE event name, the status body (JSON text)."""

    seq: int
    event: str
    data: str

    @classmethod
    def parse(cls, raw: str) -> Entry:
        seq, event, data = raw.split(" ", 2)
        return cls(int(seq), event, data)

    @property
    def state(self) -> str:
        return str(json.loads(self.data)["state"])


class Taken(NamedTuple):
    job_id: str
    token: str
    file_ids: list[int]
    duration_s: float


def _keyed(kind: str) -> Callable[[object], str]:
    return lambda name: f"{PREFIX}{kind}:{name}"


class Keys:
    queue = PREFIX + "queue"
    workers = PREFIX + "workers"
    initiates = PREFIX + "initiates"
    job = staticmethod(_keyed("job"))  # by job id
    log = staticmethod(_keyed("log"))
    lease = staticmethod(_keyed("lease"))
    rid = staticmethod(_keyed("rid"))  # by request id
    processing = staticmethod(_keyed("processing"))  # by worker index


def connect(url: str, name: str, *, socket_timeout: float | None, retries: int, max_connections: int = 256) -> Redis:
    """A client over one pool for this process, its connections named `name` (CLIENT LIST). `socket_timeout`
    None: no timeouts at all (connect included)."""
    # One quick retry of a connection error (a pooled connection Redis closed when it restarted); never of a
    # timeout, so a stalled Redis costs one socket timeout.
    retry = Retry(ExponentialBackoff(cap=0.1, base=0.02) if retries else NoBackoff(), retries, (rx.ConnectionError,))
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=socket_timeout,
        socket_timeout=socket_timeout,
        socket_connect_timeout=socket_timeout,
        retry=retry,
        retry_on_error=[rx.ConnectionError] if retries else [],
        decode_responses=True,
        client_name=name,
    )
    return Redis(connection_pool=pool)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class Store:
    """The calls on the job store. With `forever` (the hang_on_redis_down defect) a call that cannot reach Redis
    is tried again, without end, instead of raising."""

    def __init__(self, redis: Redis, timing: Timing, *, forever: bool = False) -> None:
        self.redis = redis
        self.timing = timing
        self.forever = forever
        self._scripts = {name: redis.register_script(scripts.source(name)) for name in scripts.SCRIPTS}

    async def call(self, make: Callable[[], Awaitable[T]]) -> T:
        while True:
            try:
                return await make()
            except DOWN:
                if not self.forever:
                    raise
                await asyncio.sleep(0.1)

    async def _run(self, name: str, keys: list[str], args: list[Any]) -> Any:
        script = self._scripts[name]
        return await self.call(lambda: script(keys=keys, args=[PREFIX, *args]))

    # --- the API's calls ----------------------------------------------------------------------------------
    async def ping(self) -> None:
        await self.call(self.redis.ping)

    async def create(self, file_ids: list[int], request_id: str | None, check: bool = True) -> tuple[bool, Entry]:
        """A new pending job, queued; or (False, its entry) of the job `request_id` created already."""
        job_id = str(uuid.uuid4())
        rid_key = Keys.rid(request_id) if request_id else ""
        keys = [Keys.job(job_id), Keys.log(job_id), rid_key, Keys.queue]
        ttl_ms = JOB_TTL_S * 1000
        duration_ms = round(self.timing.duration_s(len(file_ids)) * 1000)
        args = [job_id, json.dumps(file_ids), len(file_ids), duration_ms, self.timing.poll_after_ms, now_ms()]
        created, _, raw = await self._run("create", keys, [*args, request_id or "", ttl_ms, "1" if check else "0"])
        return bool(created), Entry.parse(raw)

    async def job_for_request(self, request_id: str) -> str | None:
        found = await self.call(lambda: self.redis.get(Keys.rid(request_id)))
        return None if found is None else str(found)

    async def count_initiate(self) -> int:
        return int(await self.call(lambda: self.redis.incr(Keys.initiates)))

    async def last(self, job_id: str) -> Entry | None:
        raw = await self.call(lambda: self.redis.lindex(Keys.log(job_id), -1))
        return None if raw is None else Entry.parse(str(raw))

    async def after(self, job_id: str, seq: int) -> list[Entry]:
        """The events with a seq above `seq`, oldest first."""
        raw = await self.call(lambda: self.redis.lrange(Keys.log(job_id), seq, -1))
        return [Entry.parse(str(item)) for item in raw]

    async def cancel(self, job_id: str) -> tuple[int, Entry | None]:
        """(1 cancelled | 0 already finished | -1 unknown, the job's latest entry)."""
        reply = await self._run("cancel", [Keys.job(job_id), Keys.lease(job_id)], [job_id, uuid.uuid4().hex])
        return int(reply[0]), Entry.parse(reply[1]) if len(reply) > 1 and reply[1] else None

    # --- the workers' calls -------------------------------------------------------------------------------
    async def register(self, processing: str) -> None:
        await self.redis.sadd(Keys.workers, processing)

    async def take(self, processing: str, token_base: str) -> Taken | None:
        reply = await self._run("take", [Keys.queue, processing], [token_base, self._lease_ms()])
        if not reply:
            return None
        job_id, token, file_ids, duration_ms = reply
        return Taken(job_id, token, json.loads(file_ids), int(duration_ms) / 1000)

    async def tick(self, job_id: str, token: str, percent: float, files_done: int, force: bool) -> bool:
        keys = [Keys.job(job_id), Keys.lease(job_id)]
        args = [job_id, token, percent, files_done, self._lease_ms(), "1" if force else "0"]
        return bool(await self._run("tick", keys, args))

    async def complete(
        self, job_id: str, token: str, processing: str, sha256: str, size: int, *, force: bool, keep: bool
    ) -> bool:
        keys = [Keys.job(job_id), Keys.lease(job_id), processing]
        args = [job_id, token, sha256, size, "1" if force else "0", "1" if keep else "0"]
        return bool(await self._run("complete", keys, args))

    async def release(self, job_id: str, token: str, processing: str) -> bool:
        keys = [Keys.job(job_id), Keys.lease(job_id), processing, Keys.queue]
        return bool(await self._run("release", keys, [job_id, token]))

    async def expired(self) -> list[tuple[str, str]]:
        """(processing list, job id) of every taken job whose lease is gone."""
        lists = sorted(str(name) for name in await self.redis.smembers(Keys.workers))
        async with self.redis.pipeline(transaction=False) as pipe:
            for name in lists:
                pipe.lrange(name, 0, -1)
            entries = await pipe.execute()
        taken = [(name, str(job_id)) for name, ids in zip(lists, entries, strict=True) for job_id in ids]
        if not taken:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for _, job_id in taken:
                pipe.exists(Keys.lease(job_id))
            alive = await pipe.execute()
        return [pair for pair, live in zip(taken, alive, strict=True) if not live]

    async def reap(self, processing: str, job_id: str, rerun: bool) -> str:
        keys = [processing, Keys.job(job_id), Keys.lease(job_id), Keys.queue]
        return str(await self._run("reap", keys, [job_id, MAX_TRIES, "1" if rerun else "0"]))

    def _lease_ms(self) -> int:
        return max(1, round(self.timing.lease_s * 1000))
