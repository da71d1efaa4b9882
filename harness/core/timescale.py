"""The one time knob: HARNESS_TIME_SCALE multiplies every duration (jobs, heartbeats, proxy timeouts)."""

from __future__ import annotations

import math
import os

from harness.core.errors import ConfigError

ENV_VAR = "HARNESS_TIME_SCALE"


def parse_time_scale(raw: str | float | None) -> float:
    """Parse and validate a time scale; None or "" means real time (1.0)."""
    if raw is None or raw == "":
        return 1.0
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"time scale {raw!r} is not a number; use e.g. {ENV_VAR}=0.05 or 1") from None
    if not math.isfinite(value) or not 0.001 <= value <= 10:
        raise ConfigError(f"time scale {raw!r} is out of range; use a value between 0.001 and 10 (1 = real time)")
    return value


def time_scale_from_env() -> float:
    return parse_time_scale(os.environ.get(ENV_VAR))


def scaled(seconds: float, scale: float | None = None) -> float:
    """A duration in real seconds of the modelled world -> seconds on this machine's clock."""
    return seconds * (time_scale_from_env() if scale is None else scale)
