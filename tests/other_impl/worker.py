"""The worker: takes jobs from the Redis queue into its own processing list, runs up to `concurrency` at once,
and reaps the jobs of workers that died.

A running job ticks every TICK_S (modelled): its progress is written and its lease renewed in one atomic step,
which also tells the worker to stop when the job was cancelled or taken over. The artifact is written (temp
file, then rename) before the job is marked done. SIGTERM: stop taking, hand the running jobs back to the queue,
exit 0. A Redis outage is waited out: every call is retried with backoff until Redis answers again.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import os
import signal
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from .config import COMPLETE_LAG_S, Config, artifact, artifact_path
from .defects import defect
from .store import DOWN, Keys, Store, Taken, connect

log = logging.getLogger("other_impl.worker")
T = TypeVar("T")
RELEASE_BUDGET_S = 1.0  # real seconds a stopping worker spends handing jobs back
TAKER_GRACE_S = 0.5


class Stopping(Exception):
    """The worker is stopping while a call waits for Redis."""


def write_artifact(directory: Path, job_id: str, data: bytes) -> None:
    """Atomically: readers see no file or the whole file."""
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{job_id}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, artifact_path(directory, job_id))
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class Worker:
    def __init__(self, config: Config, index: int, concurrency: int) -> None:
        self.config = config
        self.timing = config.timing
        self.concurrency = max(1, concurrency)
        self.processing = Keys.processing(index)
        self.token_base = f"w{index}-{uuid.uuid4().hex[:12]}"
        self.redis = connect(
            config.redis_url,
            f"other-worker-{index}",
            socket_timeout=1.0,
            retries=0,
            max_connections=self.concurrency + 8,
        )
        self.store = Store(self.redis, self.timing)
        self.running: dict[str, tuple[asyncio.Task[None], str]] = {}
        self.stopping = asyncio.Event()
        self.quiet_until = 0.0  # the reaper holds off until then after an outage, so live workers renew first
        self._down_since: float | None = None
        self._backoff_cap = max(0.05, min(1.0, self.timing.lease_s / 2))

    async def persist(self, make: Callable[[], Awaitable[T]]) -> T:
        """The call, retried with backoff while Redis is unreachable; raises Stopping once the worker stops."""
        delay = 0.05
        while True:
            try:
                result = await make()
            except DOWN as exc:
                if self.stopping.is_set():
                    raise Stopping from exc
                if self._down_since is None:
                    self._down_since = time.monotonic()
                    log.warning("redis unreachable (%s); retrying", type(exc).__name__)
                self.quiet_until = time.monotonic() + 2 * self.timing.lease_s
                await self._pause(delay)
                delay = min(delay * 2, self._backoff_cap)  # back well within a lease once Redis is
                continue
            if self._down_since is not None:
                log.warning("redis back after %.1f s", time.monotonic() - self._down_since)
                self._down_since = None
            return result

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds)

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        try:
            await self.persist(lambda: self.store.register(self.processing))
        except Stopping:
            return 0
        print(f"worker ready processing={self.processing} concurrency={self.concurrency}", flush=True)
        taker = asyncio.create_task(self._take_loop())
        reaper = asyncio.create_task(self._reap_loop())
        await self.stopping.wait()
        await self._shutdown(taker, reaper)
        return 0

    async def _take_loop(self) -> None:
        while not self.stopping.is_set():
            if len(self.running) >= self.concurrency:
                await self._pause(self.timing.take_poll_s)
                continue
            try:
                taken = await self.persist(lambda: self.store.take(self.processing, self.token_base))
            except Stopping:
                return
            if taken is None:
                await self._pause(self.timing.take_poll_s)
                continue
            task = asyncio.create_task(self._run_job(taken))
            self.running[taken.job_id] = (task, taken.token)

    async def _run_job(self, job: Taken) -> None:
        try:
            await self._work(job)
        except (asyncio.CancelledError, Stopping):
            pass
        except Exception:
            log.exception("job %s failed in this worker; its lease will expire and it is taken over", job.job_id)
        finally:
            current = self.running.get(job.job_id)
            if current is not None and current[1] == job.token:
                del self.running[job.job_id]

    async def _work(self, job: Taken) -> None:
        force = defect("cancel_overwritten")  # the worker ignores a cancel and writes over it
        total, duration = len(job.file_ids), max(job.duration_s, 1e-3)
        started = time.monotonic()
        while True:
            await asyncio.sleep(self.timing.tick_s)
            done = (time.monotonic() - started) / duration
            if done >= 1:
                break
            percent, files_done = round(100 * done, 1), int(total * done)
            tick = functools.partial(self.store.tick, job.job_id, job.token, percent, files_done, force)
            go_on = await self.persist(tick)
            if not go_on:
                log.info("job %s: stopped (cancelled, or taken over by another worker)", job.job_id)
                return
        data = artifact(job.file_ids)
        sha256, size = hashlib.sha256(data).hexdigest(), len(data)
        keep = defect("rerun_after_complete")  # leaves the lease to expire, so the reaper sees the job again

        async def complete() -> bool:
            return await self.store.complete(
                job.job_id, job.token, self.processing, sha256, size, force=force, keep=keep
            )

        if defect("complete_before_artifact"):
            await self.persist(complete)
            await asyncio.sleep(self.timing.real(COMPLETE_LAG_S))
            await asyncio.to_thread(write_artifact, self.config.artifact_dir, job.job_id, data)
            return
        await asyncio.to_thread(write_artifact, self.config.artifact_dir, job.job_id, data)
        if not await self.persist(complete):
            log.info("job %s: completion refused (cancelled, or taken over)", job.job_id)

    async def _reap_loop(self) -> None:
        rerun = defect("rerun_after_complete")  # a done job whose lease expired is re-queued as well
        while not self.stopping.is_set():
            await self._pause(self.timing.reap_every_s)
            if self.stopping.is_set() or time.monotonic() < self.quiet_until:
                continue
            try:
                for processing, job_id in await self.store.expired():
                    outcome = await self.store.reap(processing, job_id, rerun)
                    if outcome in ("requeued", "failed"):
                        log.warning("job %s: lease expired in %s; %s", job_id, processing, outcome)
            except DOWN:
                self.quiet_until = time.monotonic() + 2 * self.timing.lease_s

    async def _shutdown(self, taker: asyncio.Task[None], reaper: asyncio.Task[None]) -> None:
        reaper.cancel()
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(taker, TAKER_GRACE_S)
        jobs = list(self.running.items())
        for _, (task, _) in jobs:
            task.cancel()
        await asyncio.gather(*(task for _, (task, _) in jobs), reaper, return_exceptions=True)

        async def release_all() -> list[bool | BaseException]:
            calls = (self.store.release(job_id, token, self.processing) for job_id, (_, token) in jobs)
            return await asyncio.gather(*calls, return_exceptions=True)

        try:
            released = await asyncio.wait_for(release_all(), RELEASE_BUDGET_S)
            handed = sum(1 for r in released if r is True)
            print(f"worker stopped: {handed} of {len(jobs)} running jobs handed back", flush=True)
        except TimeoutError:
            print(f"worker stopped: {len(jobs)} running jobs left to their leases", flush=True)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.redis.aclose(), 0.3)


def run(config: Config, index: int, concurrency: int) -> int:
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s other-worker[{index}] %(levelname)s %(message)s")
    return asyncio.run(Worker(config, index, concurrency).run())
