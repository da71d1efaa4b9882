"""One way to open Redis: bounded timeouts and a bounded retry budget, so no call can hang a request."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import BusyLoadingError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, ConnectionRefusedError, OSError)
T = TypeVar("T")
RETRIED = (BusyLoadingError, RedisConnectionError, RedisTimeoutError)  # what a client retries (ours and bullmq's)


def connect(url: str, *, socket_timeout: float | None = 1.0, decode_responses: bool = False) -> Redis:
    """Fail within two socket timeouts when Redis is gone (one retry): a prompt 503, never a hang."""
    return Redis.from_url(
        url,
        socket_timeout=socket_timeout,
        socket_connect_timeout=socket_timeout or 1.0,
        retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), 1),
        retry_on_error=list(RETRIED),
        decode_responses=decode_responses,
        max_connections=512,
    )


async def redis_retry(call: Callable[[], Awaitable[T]], budget_s: float) -> T:
    """Retry a Redis call through a short outage (restart, partition); give up after `budget_s` of real time
    (0: one call, no retry). A retried write may run twice in Redis: make it safe to re-send first."""
    deadline = time.monotonic() + budget_s
    delay = 0.05
    while True:
        try:
            return await call()
        except REDIS_DOWN:
            if time.monotonic() + delay > deadline:
                raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)
