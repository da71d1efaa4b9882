"""The contract's state machine as the judge reads it: legal moves, their order, and what breaks them.

`SAME_ATTEMPT` and `NEXT_ATTEMPT` are the specification; `rank` is a total order that agrees with it
(tested), so a sweep can keep one maximum per job; `violation` says why one observation cannot follow another.
"""

from __future__ import annotations

from harness.judge.history import FINISHED, TERMINAL, Record

# The contract's legal moves, split by what they do to `attempts` (the count of starts).
SAME_ATTEMPT: dict[str, frozenset[str]] = {
    "queued": frozenset({"cancelled", "failed", "expired"}),
    "running": frozenset({"running", "processing_artifacts", "queued", "completed", "failed", "cancelled"}),
    "processing_artifacts": frozenset({"completed", "failed", "queued", "cancelled"}),
    "completed": frozenset({"expired"}),
    "failed": frozenset({"expired"}),
    "cancelled": frozenset({"expired"}),
    "expired": frozenset(),
}
NEXT_ATTEMPT: dict[str, frozenset[str]] = {"queued": frozenset({"running"}), "running": frozenset({"running"})}
ACTIVE = frozenset({"running", "processing_artifacts"})
_PHASE = {"running": 1, "processing_artifacts": 2}


def reachable(src: tuple[str, int], dst: tuple[str, int]) -> bool:
    """Whether `dst` can follow `src` through the table, unobserved states allowed (the specification)."""
    seen, todo = {src}, [src]
    while todo:
        status, attempts = todo.pop()
        moves = [(s, attempts) for s in SAME_ATTEMPT.get(status, ())]
        moves += [(s, attempts + 1) for s in NEXT_ATTEMPT.get(status, ()) if attempts < dst[1]]
        for state in moves:
            if state == dst:
                return True
            if state not in seen:
                seen.add(state)
                todo.append(state)
    return src == dst


def rank(status: str, attempts: int) -> tuple[float, int]:
    """A total order that agrees with `reachable` (tested), so a sweep can keep one maximum per job."""
    if status in FINISHED:
        return (float("inf"), 5 if status == "expired" else 4)
    return (float(attempts), _PHASE.get(status, 0 if attempts == 0 else 3))


def violation(x: Record, y: Record) -> str | None:
    """Why `y` cannot have been observed after `x` (same job), or None; unknown statuses are not judged."""
    return violation_of(x.status, x.attempts, x.progress, y.status, y.attempts, y.progress)


def violation_of(
    xs: str | None, xa: int | None, xp: float | None, ys: str | None, ya: int | None, yp: float | None
) -> str | None:
    """`violation` on the observed values: status, attempts, progress of x, then of y."""
    if xs not in SAME_ATTEMPT or ys not in SAME_ATTEMPT or xs is None or ys is None:
        return None
    both = xa is not None and ya is not None
    if xs in FINISHED:
        if ys not in (xs, "expired"):
            return "status_regression"
    elif ys not in FINISHED and both and rank(ys, ya or 0) < rank(xs, xa or 0):
        return "status_regression"
    if both and (ya or 0) < (xa or 0):
        return "status_regression"
    same_attempt = both and xa == ya and xs in ACTIVE and ys in ACTIVE
    if same_attempt and xp is not None and yp is not None and yp < xp:
        return "progress_regression"
    return None


def terminal_of(rec: Record) -> str | None:
    """The finished state a record proves (a status body, or a terminal SSE event), if any."""
    if rec.status in FINISHED:
        return rec.status
    return rec.event if rec.event in TERMINAL else None
