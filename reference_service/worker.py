"""The worker: runs queued jobs from the bullmq queue and drives each through the state machine.

bullmq gives the queue, delayed retries and recovery of jobs whose worker died (its lock expires and
another worker takes the job). Two things it lacks live here: a per-job timeout and a watchdog for a
worker that is alive but hung (no heartbeat for the stall timeout -> the attempt is abandoned and retried).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import signal
import time
from typing import Any

from bullmq import Worker
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from reference_service.jobs import IllegalTransition, JobStatus, JobStore, Keys, now_ms
from reference_service.redis_conn import RETRIED, connect, redis_retry
from reference_service.settings import Settings
from reference_service.storage import write_artifact

log = logging.getLogger("reference_service.worker")
STEPS = 20


class RetryableJobError(Exception):
    """An attempt failed in a way worth retrying; carries the backoff bullmq should wait."""

    def __init__(self, code: str, message: str, delay_ms: int = 0) -> None:
        super().__init__(message)
        self.code = code
        self.delay_ms = delay_ms


def default_duration_s(job_id: str, settings: Settings) -> float:
    """10-120 s (modelled), deterministic from the job id."""
    span = settings.max_duration_s - settings.min_duration_s
    frac = int(hashlib.sha256(job_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return settings.min_duration_s + frac * span


REDIS_RETRY_S = 8.0  # how long a worker's Redis write is retried through an outage (real time)


class Processor:
    """Runs one attempt of one job; state writes name their attempt so a superseded attempt is refused."""

    def __init__(self, settings: Settings, store: JobStore) -> None:
        self.settings = settings
        self.store = store

    async def __call__(self, job: Any, token: str) -> str:
        job_id = job.data["jobId"]
        h = await redis_retry(lambda: self.store.get(job_id), REDIS_RETRY_S)
        if not h or JobStatus(h["status"]).terminal:
            return "skipped"
        attempts = int(h.get("attempts", "0"))
        if attempts >= self.settings.max_attempts:
            await self._fail(job_id, "attempts_exhausted", f"gave up after {attempts} attempts", None)
            return "failed"
        fields: dict[str, Any] = {"progress": 0, "completedFiles": 0, "error": ""}
        if not h.get("startedAt"):
            fields["startedAt"] = now_ms()
        try:
            started = await self.store.transition(
                job_id, JobStatus.RUNNING, fields, mode="start", retry_s=REDIS_RETRY_S
            )
        except IllegalTransition:
            return "skipped"
        return await self._attempt(job_id, h, started.attempts)

    async def _attempt(self, job_id: str, h: dict[str, str], attempt: int) -> str:
        beat = _Heartbeat()
        work = asyncio.ensure_future(self._work(job_id, h, attempt, beat))
        watchdog = asyncio.ensure_future(self._watch(work, beat))
        try:
            async with asyncio.timeout(self.settings.scaled(self.settings.job_timeout_s)):
                await asyncio.shield(work)
            return "completed"
        except IllegalTransition:
            return await self._superseded(job_id, attempt)
        except TimeoutError:
            work.cancel()
            return await self._retry_or_fail(job_id, attempt, "timeout", "job exceeded its time limit")
        except asyncio.CancelledError:
            if beat.stalled:
                return await self._retry_or_fail(job_id, attempt, "stalled", "no heartbeat within the stall timeout")
            raise
        except RetryableJobError as exc:
            return await self._retry_or_fail(job_id, attempt, exc.code, str(exc))
        finally:
            watchdog.cancel()
            if not work.done():
                work.cancel()

    async def _superseded(self, job_id: str, attempt: int) -> str:
        """A write of this attempt was refused: the job was cancelled or ended, or its attempts moved on. Only the
        holder of the queue's lock runs a job, and that is this call, so if the job is still live no one else will
        finish it: hand it back to the queue for a fresh attempt instead of leaving it stranded. (If the lock was
        lost to another worker, the queue refuses this hand-back and the other worker's attempt goes on.)"""
        h = await redis_retry(lambda: self.store.get(job_id), REDIS_RETRY_S)
        if not h or JobStatus(h["status"]).terminal:
            return "superseded"
        log.warning(
            "job %s: attempt %d was fenced off (attempts=%s, %s); reclaiming it",
            job_id,
            attempt,
            h.get("attempts"),
            h.get("status"),
        )
        raise RetryableJobError("superseded", f"attempt {attempt} was superseded", self.settings.scaled_ms(1))

    async def _watch(self, work: asyncio.Future[None], beat: _Heartbeat) -> None:
        limit = self.settings.scaled(self.settings.stall_timeout_s)
        while not work.done():
            await asyncio.sleep(limit / 4)
            if time.monotonic() - beat.last > limit:
                beat.stalled = True
                work.cancel()
                return

    async def _work(self, job_id: str, h: dict[str, str], attempt: int, beat: _Heartbeat) -> None:
        sim = json.loads(h.get("simulate") or "{}")
        duration = sim["durationMs"] / 1000 if "durationMs" in sim else default_duration_s(job_id, self.settings)
        file_ids = json.loads(h["fileIds"])
        total = len(file_ids)
        tick = self.settings.scaled(duration) / STEPS
        for step in range(1, STEPS + 1):
            if attempt <= int(sim.get("stallAttempts", 0)):
                await asyncio.Event().wait()  # hung: no heartbeat, no progress; the watchdog reclaims it
            await asyncio.sleep(tick)
            if attempt <= int(sim.get("failAttempts", 0)) and step == STEPS // 2:
                raise RetryableJobError("simulated_failure", f"simulated failure of attempt {attempt}")
            beat.touch()
            fields = {
                "progress": round(100 * step / STEPS, 2),
                "completedFiles": total * step // STEPS,
                "heartbeatAt": now_ms(),
            }
            await self.store.transition(
                job_id, JobStatus.RUNNING, fields, mode="tick", attempt=attempt, retry_s=REDIS_RETRY_S
            )
        await self.store.transition(job_id, JobStatus.PROCESSING_ARTIFACTS, attempt=attempt, retry_s=REDIS_RETRY_S)
        size, checksum = await asyncio.to_thread(write_artifact, self.settings.artifact_dir, job_id, file_ids)
        done = {"size": size, "checksum": checksum, "completedAt": now_ms(), "progress": 100, "completedFiles": total}
        await self.store.transition(job_id, JobStatus.COMPLETED, done, attempt=attempt, retry_s=REDIS_RETRY_S)

    async def _retry_or_fail(self, job_id: str, attempt: int, code: str, message: str) -> str:
        if attempt >= self.settings.max_attempts:
            await self._fail(job_id, code, f"{message} (attempt {attempt} of {self.settings.max_attempts})", attempt)
            return "failed"
        error = {"code": code, "message": message, "retryable": True}
        try:
            await self.store.transition(
                job_id, JobStatus.QUEUED, {"error": error}, attempt=attempt, retry_s=REDIS_RETRY_S
            )
        except IllegalTransition:
            return await self._superseded(job_id, attempt)
        delay = self.settings.scaled_ms(self.settings.backoff_s[min(attempt, len(self.settings.backoff_s)) - 1])
        raise RetryableJobError(code, message, delay)

    async def _fail(self, job_id: str, code: str, message: str, attempt: int | None) -> None:
        error = {"code": code, "message": message, "retryable": False}
        with contextlib.suppress(IllegalTransition):
            await self.store.transition(
                job_id,
                JobStatus.FAILED,
                {"error": error, "completedAt": now_ms()},
                attempt=attempt,
                retry_s=REDIS_RETRY_S,
            )


class _Heartbeat:
    def __init__(self) -> None:
        self.last = time.monotonic()
        self.stalled = False

    def touch(self) -> None:
        self.last = time.monotonic()


def _backoff(attempts_made: int, kind: str, err: Exception, job: Any) -> int:
    return err.delay_ms if isinstance(err, RetryableJobError) else 1000


def scale_bullmq_backoff(worker: Worker, settings: Settings) -> None:
    """bullmq's clients (one for commands, one for its blocking wait) retry a lost connection 20 times with an
    exponential backoff of 1 s base and 20 s cap, in real time. Through the time scale like every other wait of
    the service: unscaled, a Redis restart at a small scale outlasts the scaled job locks, and the stall check
    re-runs every running job. At scale 1 this is bullmq's own policy."""
    base, cap = settings.scaled(1.0), max(settings.scaled(20.0), 0.25)
    for handle in (worker.redisConnection, worker.blockingRedisConnection):
        if handle is not None:  # None on a non-Redis bullmq backend
            handle.conn.set_retry(Retry(ExponentialBackoff(cap=cap, base=base), 20, supported_errors=RETRIED))


def worker_options(settings: Settings, concurrency: int) -> dict[str, Any]:
    lock_ms = max(2000, settings.scaled_ms(settings.stall_timeout_s))
    return {
        "connection": settings.redis_url,
        "prefix": "bull",
        "concurrency": concurrency,
        "lockDuration": lock_ms,
        "stalledInterval": max(1000, lock_ms // 2),
        "maxStalledCount": settings.max_attempts + 1,
        "drainDelay": 2,
        "runRetryDelay": max(100, settings.scaled_ms(15)),  # bullmq's 15 s pause after a failed fetch, scaled
        "settings": {"backoffStrategy": _backoff},
    }


async def run_worker(settings: Settings, concurrency: int) -> None:
    """Run until SIGTERM/SIGINT; in-flight jobs keep their bullmq lock and are reclaimed if we die."""
    store = JobStore(
        connect(settings.redis_url, socket_timeout=settings.redis_socket_timeout), Keys(settings.key_prefix)
    )
    worker = Worker(settings.queue_name, Processor(settings, store), worker_options(settings, concurrency))
    scale_bullmq_backoff(worker, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("worker ready: queue=%s concurrency=%d redis=%s", settings.queue_name, concurrency, settings.redis_url)
    print(f"worker ready concurrency={concurrency}", flush=True)
    await stop.wait()
    await worker.close(force=True)
    await store.redis.aclose()
