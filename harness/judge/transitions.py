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
    phase = {"running": 1, "processing_artifacts": 2}.get(status, 0 if attempts == 0 else 3)
    return (float(attempts), phase)


def violation(x: Record, y: Record) -> str | None:
    """Why `y` cannot have been observed after `x` (same job), or None; unknown statuses are not judged."""
    if x.status not in SAME_ATTEMPT or y.status not in SAME_ATTEMPT or x.status is None or y.status is None:
        return None
    both = x.attempts is not None and y.attempts is not None
    if x.status in FINISHED:
        if y.status not in (x.status, "expired"):
            return "status_regression"
    elif y.status not in FINISHED and both and rank(y.status, y.attempts or 0) < rank(x.status, x.attempts or 0):
        return "status_regression"
    if both and (y.attempts or 0) < (x.attempts or 0):
        return "status_regression"
    same_attempt = both and x.attempts == y.attempts and x.status in ACTIVE and y.status in ACTIVE
    if same_attempt and x.progress is not None and y.progress is not None and y.progress < x.progress:
        return "progress_regression"
    return None


def terminal_of(rec: Record) -> str | None:
    """The finished state a record proves (a status body, or a terminal SSE event), if any."""
    if rec.status in FINISHED:
        return rec.status
    return rec.event if rec.event in TERMINAL else None
