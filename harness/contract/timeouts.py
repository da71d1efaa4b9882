"""Client-side bounds on this machine's clock, and the one rule that derives a stream follower's bounds from the
timer it must outlast."""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.core.timescale import scaled

MIN_IDLE_S = 5.0  # a stream's read timeout is never shorter: a loaded machine may stall a healthy stream that long


@dataclass(frozen=True)
class StreamOptions:
    """How a follower behaves; durations are seconds on this machine's clock. `idle_s` (the read timeout)
    stays above every idle timer of the chain, so that a silence is cut by the proxy under test, not by us."""

    idle_s: float = 90.0
    connect_s: float = 5.0
    reconnect_s: float = 0.5
    max_reconnects: int = 20

    @classmethod
    def outlasting(cls, timer_s: float, time_scale: float) -> StreamOptions:
        """The one rule for a follower's bounds: its read timeout outlasts `timer_s` (seconds on this clock: the
        smallest idle timer of the chain, or the silence a check must be able to see) by half again and a second,
        never under MIN_IDLE_S; it reconnects after 5 modelled seconds, at most half a second."""
        return cls(idle_s=max(MIN_IDLE_S, timer_s * 1.5 + 1.0), reconnect_s=min(0.5, scaled(5.0, time_scale)))


@dataclass(frozen=True)
class Timeouts:
    """Client-side bounds, seconds on this machine's clock (pass scaled values when time is scaled)."""

    request_s: float = 5.0
    connect_s: float = 5.0
    legacy_s: float = 600.0
    artifact_s: float = 60.0
    stream: StreamOptions = field(default_factory=StreamOptions)
    default_poll_s: float = 1.0
