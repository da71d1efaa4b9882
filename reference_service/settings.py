"""Service settings: read once from the environment into one frozen object, then passed down."""

from __future__ import annotations

import math
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field


class SettingsError(ValueError):
    """An environment variable holds a value the service cannot use."""


def _number(env: Mapping[str, str], name: str, default: float, lo: float, hi: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number; unset it or give a value in [{lo}, {hi}]") from None
    if not math.isfinite(value) or not lo <= value <= hi:
        raise SettingsError(f"{name}={raw!r} is out of range; give a value in [{lo}, {hi}]")
    return value


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise SettingsError(f"{name}={raw!r} is not a flag; use 1 or 0")


@dataclass(frozen=True)
class Settings:
    """Every duration is in real seconds of the modelled world; `scaled()` maps it to this machine's clock."""

    redis_url: str = "redis://127.0.0.1:6379/0"
    artifact_dir: str = "./artifacts"
    signing_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24), repr=False)
    time_scale: float = 1.0
    test_controls: bool = False
    ignore_client_request_id: bool = False
    heartbeat_s: float = 15.0
    redis_timeout_s: float = 4.0
    stall_timeout_s: float = 30.0
    job_timeout_s: float = 180.0
    backoff_s: tuple[float, ...] = (1.0, 5.0, 15.0)
    max_attempts: int = 3
    job_ttl_s: float = 24 * 3600.0
    url_ttl_s: float = 15 * 60.0
    poll_hint_s: float = 5.0
    min_duration_s: float = 10.0
    max_duration_s: float = 120.0
    queue_name: str = "downloads"
    key_prefix: str = "dl"

    def scaled(self, seconds: float) -> float:
        return seconds * self.time_scale

    @property
    def redis_socket_timeout(self) -> float:
        """Scaled like every other duration, so a Redis outage turns into a 503 before a scaled proxy gives up
        (two tries must fit inside the shortest proxy read timeout); never below 0.25 s of real time."""
        return max(0.25, self.scaled(self.redis_timeout_s))

    def scaled_ms(self, seconds: float) -> int:
        return max(1, round(seconds * self.time_scale * 1000))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        test_controls = _flag(env, "REFERENCE_TEST_CONTROLS")
        ignore_crid = _flag(env, "REFERENCE_BUG_IGNORE_CLIENT_REQUEST_ID")
        if ignore_crid and not test_controls:
            raise SettingsError("REFERENCE_BUG_IGNORE_CLIENT_REQUEST_ID=1 needs REFERENCE_TEST_CONTROLS=1 (test only)")
        backoff = tuple(
            _number(env, f"REFERENCE_BACKOFF_{i}_S", d, 0, 3600) for i, d in enumerate((1.0, 5.0, 15.0), start=1)
        )
        secret = env.get("SIGNING_SECRET") or secrets.token_urlsafe(24)
        return cls(
            redis_url=env.get("REDIS_URL", cls.redis_url),
            artifact_dir=env.get("ARTIFACT_DIR", cls.artifact_dir),
            signing_secret=secret,
            time_scale=_number(env, "HARNESS_TIME_SCALE", 1.0, 0.001, 10),
            test_controls=test_controls,
            ignore_client_request_id=ignore_crid,
            heartbeat_s=_number(env, "REFERENCE_HEARTBEAT_S", 15.0, 0.01, 3600),
            redis_timeout_s=_number(env, "REFERENCE_REDIS_TIMEOUT_S", 4.0, 0.05, 60),
            stall_timeout_s=_number(env, "REFERENCE_STALL_TIMEOUT_S", 30.0, 0.1, 3600),
            job_timeout_s=_number(env, "REFERENCE_JOB_TIMEOUT_S", 180.0, 1, 86400),
            backoff_s=backoff,
            max_attempts=int(_number(env, "REFERENCE_MAX_ATTEMPTS", 3, 1, 10)),
            job_ttl_s=_number(env, "REFERENCE_JOB_TTL_S", 24 * 3600.0, 1, 30 * 86400),
            url_ttl_s=_number(env, "REFERENCE_URL_TTL_S", 15 * 60.0, 1, 86400),
            poll_hint_s=_number(env, "REFERENCE_POLL_HINT_S", 5.0, 0.01, 600),
        )
