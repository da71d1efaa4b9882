"""The job state machine: statuses, the one table of legal moves, Redis keys, and the atomic store.

Every write goes through one Lua script that checks the move against the table, so an illegal move
is refused inside Redis and never written; the same script appends the event the SSE stream replays.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from redis.asyncio import Redis

from reference_service.redis_conn import redis_retry


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    PROCESSING_ARTIFACTS = "processing_artifacts"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.EXPIRED})
S = JobStatus
# status -> the statuses it may move to. running -> running is a progress tick or a new attempt;
# running/processing_artifacts -> queued is a retryable failure waiting for its backoff.
TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    S.QUEUED: frozenset({S.RUNNING, S.CANCELLED, S.FAILED, S.EXPIRED}),
    S.RUNNING: frozenset({S.RUNNING, S.PROCESSING_ARTIFACTS, S.QUEUED, S.FAILED, S.CANCELLED}),
    S.PROCESSING_ARTIFACTS: frozenset({S.COMPLETED, S.FAILED, S.QUEUED, S.CANCELLED, S.RUNNING}),
    S.COMPLETED: frozenset({S.EXPIRED}),
    S.FAILED: frozenset({S.EXPIRED}),
    S.CANCELLED: frozenset({S.EXPIRED}),
    S.EXPIRED: frozenset(),
}


def allowed_sources(target: JobStatus) -> list[str]:
    return [src.value for src, dests in TRANSITIONS.items() if target in dests]


def uuid7() -> str:
    """A time-ordered UUID (RFC 9562 v7): 48-bit unix ms, version, random bits."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms << 80) | (0x7 << 76) | ((rand >> 68) & 0xFFF) << 64 | (0b10 << 62) | (rand & ((1 << 62) - 1))
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@dataclass(frozen=True)
class Keys:
    """Every Redis key name the service uses, built in one place."""

    prefix: str = "dl"

    def job(self, job_id: str) -> str:
        return f"{self.prefix}:job:{job_id}"

    def events(self, job_id: str) -> str:
        return f"{self.prefix}:job:{job_id}:events"

    def writes(self, job_id: str) -> str:
        """write id -> the event seq it produced: how a re-sent transition is recognised."""
        return f"{self.prefix}:job:{job_id}:writes"

    def idempotency(self, client_request_id: str) -> str:
        return f"{self.prefix}:idem:{client_request_id}"

    @property
    def channel(self) -> str:
        return f"{self.prefix}:events"


# KEYS: job hash, event stream, idempotency key ("" when none).
# ARGV: jobId, record ttl ms, channel, idempotency ttl ms, field/value pairs.
# The job id is new for each request, so an existing hash means this very call ran already: the Redis client
# re-sent it after a timeout (both copies run once Redis answers again). Report it created, write nothing.
_CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return {1, ARGV[1]} end
if KEYS[3] ~= '' then
  local existing = redis.call('GET', KEYS[3])
  if existing then return {0, existing} end
  redis.call('SET', KEYS[3], ARGV[1], 'PX', ARGV[4])
end
redis.call('HSET', KEYS[1], unpack(ARGV, 5))
redis.call('HSET', KEYS[1], 'seq', 1)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('XADD', KEYS[2], '1-0', 'event', 'progress', 'data',
  cjson.encode({jobId=ARGV[1], status='queued', progress=0, completedFiles=0,
                totalFiles=tonumber(redis.call('HGET', KEYS[1], 'totalFiles')), attempts=0}))
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[1])
return {1, ARGV[1]}
"""

# KEYS: job hash, event stream, applied writes. ARGV: target, allowed sources (comma list), event name, channel,
# mode, expected attempts ("" = any), write id, field/value pairs. A writer that names its attempt is refused
# once another attempt has started (a zombie worker cannot overwrite its successor). mode "start":
# attempts += 1; mode "tick": progress may not decrease. Returns {1|0|-1, status before, seq, attempts}.
# A Redis client re-sends a call whose reply it lost (a timeout, a reset): the command may have run already, and
# then every copy runs. Each logical write carries one id for all its copies; a copy whose id was applied
# answers what the first copy did and writes nothing, so no move (a start's attempts += 1 above all) runs twice.
_TRANSITION = """
local done = redis.call('HGET', KEYS[3], ARGV[7])
if done then return {1, 'replayed', tonumber(done), tonumber(redis.call('HGET', KEYS[1], 'attempts') or 0)} end
local cur = redis.call('HGET', KEYS[1], 'status')
if not cur then return {-1, '', 0, 0} end
local ok = false
for src in string.gmatch(ARGV[2], '[^,]+') do if src == cur then ok = true end end
if not ok then return {0, cur, 0, 0} end
if ARGV[6] ~= '' and redis.call('HGET', KEYS[1], 'attempts') ~= ARGV[6] then return {0, cur, 0, 0} end
if ARGV[5] == 'tick' then
  for i = 8, #ARGV, 2 do
    if ARGV[i] == 'progress' and tonumber(ARGV[i + 1]) < tonumber(redis.call('HGET', KEYS[1], 'progress')) then
      return {0, cur, 0, 0}
    end
  end
end
if #ARGV >= 8 then redis.call('HSET', KEYS[1], unpack(ARGV, 8)) end
if ARGV[5] == 'start' then redis.call('HINCRBY', KEYS[1], 'attempts', 1) end
redis.call('HSET', KEYS[1], 'status', ARGV[1])
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
redis.call('HSET', KEYS[3], ARGV[7], seq)
if redis.call('PTTL', KEYS[3]) < 0 then
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl > 0 then redis.call('PEXPIRE', KEYS[3], ttl) end
end
local h = redis.call('HMGET', KEYS[1], 'jobId', 'progress', 'completedFiles', 'totalFiles', 'attempts',
                     'checksum', 'size', 'error')
local payload = {jobId=h[1], status=ARGV[1], progress=tonumber(h[2]), completedFiles=tonumber(h[3]),
                 totalFiles=tonumber(h[4]), attempts=tonumber(h[5])}
if h[6] and h[6] ~= '' then payload['checksum'] = h[6]; payload['size'] = tonumber(h[7]) end
if h[8] and h[8] ~= '' then payload['error'] = cjson.decode(h[8]) end
redis.call('XADD', KEYS[2], seq .. '-0', 'event', ARGV[3], 'data', cjson.encode(payload))
redis.call('PUBLISH', ARGV[4], payload['jobId'])
return {1, cur, seq, tonumber(h[5])}
"""


@dataclass(frozen=True)
class Applied:
    """What a transition wrote: its event seq, the job's attempts after it, and whether this call was a re-send
    of a write Redis had already applied (then it wrote nothing)."""

    seq: int
    attempts: int
    replayed: bool = False


class IllegalTransition(Exception):
    """A move the table refuses (or a stale tick): nothing was written."""

    def __init__(self, job_id: str, current: str, target: JobStatus) -> None:
        super().__init__(f"job {job_id}: {current or 'unknown'} -> {target.value} is not a legal move")
        self.current = current


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def _pairs(fields: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    for k, v in fields.items():
        out += [k, v if isinstance(v, str) else json.dumps(v)]
    return out


class JobStore:
    """Reads and atomic writes of job hashes and their event streams."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys
        self._create = redis.register_script(_CREATE)
        self._transition = redis.register_script(_TRANSITION)

    async def create(
        self,
        job_id: str,
        fields: Mapping[str, Any],
        ttl_ms: int,
        client_request_id: str | None,
        idempotency_ttl_ms: int | None = None,
    ) -> tuple[bool, str]:
        """Create a queued job, or return (False, existing id) when the clientRequestId is already taken."""
        idem = self.keys.idempotency(client_request_id) if client_request_id else ""
        keys = [self.keys.job(job_id), self.keys.events(job_id), idem]
        created, found = await self._create(
            keys=keys, args=[job_id, ttl_ms, self.keys.channel, idempotency_ttl_ms or ttl_ms, *_pairs(fields)]
        )
        return bool(created), _text(found)

    async def get(self, job_id: str) -> dict[str, str]:
        raw = await self.redis.hgetall(self.keys.job(job_id))
        return {_text(k): _text(v) for k, v in raw.items()}

    async def transition(
        self,
        job_id: str,
        target: JobStatus,
        fields: Mapping[str, Any] | None = None,
        *,
        mode: str = "set",
        attempt: int | None = None,
        event: str | None = None,
        retry_s: float = 0.0,
    ) -> Applied:
        """Move a job to `target` if the table allows it, raise IllegalTransition if not. With `retry_s`, a Redis
        outage is retried for that long; every copy sent carries the same write id, so the move applies once."""
        fields = dict(fields or {})
        fields["updatedAt"] = now_ms()
        args: list[Any] = [
            target.value,
            ",".join(allowed_sources(target)),
            event or _event_name(target),
            self.keys.channel,
            mode,
            "" if attempt is None else str(attempt),
            uuid.uuid4().hex,
            *_pairs(fields),
        ]
        keys = [self.keys.job(job_id), self.keys.events(job_id), self.keys.writes(job_id)]
        ok, current, seq, attempts = await redis_retry(lambda: self._transition(keys=keys, args=args), retry_s)
        if ok != 1:
            raise IllegalTransition(job_id, _text(current), target)
        return Applied(int(seq), int(attempts), replayed=_text(current) == "replayed")

    async def events_after(self, job_id: str, after: int, count: int = 500) -> list[tuple[int, str, str]]:
        """Events with seq > after, oldest first: (seq, event name, JSON data)."""
        raw = await self.redis.xrange(self.keys.events(job_id), min=f"({after}-0", max="+", count=count)
        out = []
        for entry_id, data in raw or ():
            fields = {_text(k): _text(v) for k, v in (data or {}).items()}
            out.append((int(_text(entry_id).split("-")[0]), fields["event"], fields["data"]))
        return out


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _event_name(target: JobStatus) -> str:
    return target.value if target.terminal else "progress"
