"""Configuration from the environment, the modelled durations (through OTHER_TIME_SCALE), and the artifact.

Every duration below is in modelled seconds; `Timing` turns them into real seconds for one time scale.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from .defects import defect

SECONDS_PER_FILE = 10.0  # a job lasts 10 s per file id...
MAX_JOB_S = 120.0  # ...capped at 120 s
TICK_S = 0.5  # a running job writes its progress (and renews its lease) this often
MIN_TICK_REAL_S = 0.02
LEASE_S = 3.0  # a running job whose lease is not renewed for this long is taken over
SLOW_LEASE_S = 120.0  # the lease with the slow_stall_recovery defect
MIN_LEASE_REAL_S = 0.5  # a floor in real seconds, so small time scales survive a busy event loop
HEARTBEAT_S = 5.0  # SSE keep-alive comments on an idle stream
POLL_AFTER_S = 0.5  # the poll_after_ms hint of a job still running
COMPLETE_LAG_S = 2.0  # the complete_before_artifact defect: artifact written this long after `done`
MAX_TRIES = 20  # a job re-queued after this many attempts fails instead
JOB_TTL_S = 86400  # real seconds every job key lives
RACY_ROUND_TRIP_S = 0.1  # real seconds: the racy_idempotency defect's unguarded store round trip


class ConfigError(SystemExit):
    pass


@dataclass(frozen=True)
class Timing:
    """Modelled durations at one time scale, in real seconds."""

    scale: float = 1.0
    heartbeat_modelled_s: float = HEARTBEAT_S

    def real(self, modelled_s: float) -> float:
        return modelled_s * self.scale

    @property
    def tick_s(self) -> float:
        return max(MIN_TICK_REAL_S, self.real(TICK_S))

    @property
    def lease_s(self) -> float:
        if defect("slow_stall_recovery"):
            return self.real(SLOW_LEASE_S)
        return max(MIN_LEASE_REAL_S, self.real(LEASE_S))

    @property
    def reap_every_s(self) -> float:
        return max(0.05, self.lease_s / 4)

    @property
    def heartbeat_s(self) -> float:
        return self.real(self.heartbeat_modelled_s)

    @property
    def stream_poll_s(self) -> float:
        """How often an open SSE stream reads its job's event log."""
        return min(0.25, self.tick_s)

    @property
    def take_poll_s(self) -> float:
        """How often an idle worker looks at the queue."""
        return min(0.1, self.tick_s)

    @property
    def poll_after_ms(self) -> int:
        return max(20, round(self.real(POLL_AFTER_S) * 1000))

    def duration_s(self, file_count: int) -> float:
        return self.real(min(MAX_JOB_S, SECONDS_PER_FILE * file_count))


@dataclass(frozen=True)
class Config:
    redis_url: str
    artifact_dir: Path
    timing: Timing


def from_env() -> Config:
    """REDIS_URL and ARTIFACT_DIR are required; OTHER_TIME_SCALE (default 1) scales every modelled duration;
    OTHER_HEARTBEAT_S (default 5, modelled) sets the SSE heartbeat interval."""
    redis_url = os.environ.get("REDIS_URL", "").strip()
    artifact_dir = os.environ.get("ARTIFACT_DIR", "").strip()
    if not redis_url:
        raise ConfigError("REDIS_URL is not set; give redis://host:port/db of the job store")
    if not artifact_dir:
        raise ConfigError("ARTIFACT_DIR is not set; give the directory artifacts are written to and read from")
    scale = _positive("OTHER_TIME_SCALE", 1.0)
    heartbeat = _positive("OTHER_HEARTBEAT_S", HEARTBEAT_S)
    path = Path(artifact_dir)
    path.mkdir(parents=True, exist_ok=True)
    return Config(redis_url, path, Timing(scale, heartbeat))


def _positive(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number; give e.g. 0.05") from None
    if not value > 0:
        raise ConfigError(f"{name}={raw!r} must be greater than 0")
    return value


def artifact(file_ids: list[int]) -> bytes:
    """The artifact of a job: deterministic from its file ids, so a client can compute what it must receive."""
    return b"".join(hashlib.sha512(f"other:{fid}".encode()).digest() * 8 for fid in file_ids)


def artifact_path(artifact_dir: Path, job_id: str) -> Path:
    return artifact_dir / f"{job_id}.bin"
