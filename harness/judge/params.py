"""What a history is judged against: the deadline, the chain's idle timer and the per-request budget.

The defaults are the modelled ones; `CheckParams.for_scale` passes them through the time scale, so a
`CheckParams` always holds seconds on this machine's clock.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from harness.core.timescale import scaled

DEADLINE_S = 600.0  # modelled: a 120 s job failing twice, with backoff and stall reclaims, is still done by then
IDLE_TIMER_S = 60.0  # modelled: nginx's default read timeout, an ALB's idle timeout
BUDGET_S = 5.0  # the clients' per-request timeout: an async request never needs more


@dataclass(frozen=True)
class CheckParams:
    """What the invariants are judged against (seconds on this machine's clock)."""

    deadline_s: float = DEADLINE_S
    idle_timer_s: float | None = IDLE_TIMER_S
    budget_s: float | None = BUDGET_S
    legacy_strict: bool = False

    @classmethod
    def for_scale(cls, scale: float, **overrides: Any) -> CheckParams:
        """Defaults through the time scale; the budget never exceeds the idle timer a proxy would enforce."""
        idle = scaled(IDLE_TIMER_S, scale)
        base = cls(scaled(DEADLINE_S, scale), idle, min(BUDGET_S, idle))
        return cls(**{**asdict(base), **{k: v for k, v in overrides.items() if v is not None}})
