"""What a history is judged against: the deadline, the chain's idle timer, the per-request budget, the stall bound.

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
# modelled: how soon a running attempt whose worker died is taken over (the reference profile's stall_recovery_s),
# with its floor in real seconds (a lock renewed every second does not renew faster at a small time scale)
STALL_RECOVERY_S, STALL_FLOOR_S = 60.0, 3.0
STALL_SLACK_S = 1.0  # real seconds a busy machine may add to a job's longest stretch with no visible change


@dataclass(frozen=True)
class CheckParams:
    """What the invariants are judged against (seconds on this machine's clock)."""

    deadline_s: float = DEADLINE_S
    idle_timer_s: float | None = IDLE_TIMER_S
    budget_s: float | None = BUDGET_S
    legacy_strict: bool = False
    # The stall rule (see `Index`): a running attempt may show no change for its job's expected work (an initiate's
    # `expect_s`, modelled: times `time_scale`) plus `stall_s` (None: the rule is off) plus STALL_SLACK_S.
    stall_s: float | None = STALL_RECOVERY_S
    time_scale: float = 1.0

    @classmethod
    def for_scale(cls, scale: float, **overrides: Any) -> CheckParams:
        """Defaults through the time scale; the budget never exceeds the idle timer a proxy would enforce."""
        idle = scaled(IDLE_TIMER_S, scale)
        stall_s = stall_bound(STALL_RECOVERY_S, STALL_FLOOR_S, scale)
        base = cls(scaled(DEADLINE_S, scale), idle, min(BUDGET_S, idle), stall_s=stall_s, time_scale=scale)
        return cls(**{**asdict(base), **{k: v for k, v in overrides.items() if v is not None}})


def stall_bound(recovery_s: float, floor_s: float, scale: float) -> float:
    """A declared stall recovery (modelled seconds, with its floor in real seconds) on this machine's clock."""
    return max(scaled(recovery_s, scale), floor_s)
