"""Invariant 2 in real time across clients, judged one observation at a time with little memory per job.

The rule (see `index`): an observation y is compared with the worst ones, per job, among the observations that
completed before y was invoked ("best": the furthest-on state, the furthest finished one, the highest progress
per attempt). Every violating pair is counted; the first pair per kind, in invocation order, is the evidence.

Observations arrive in completion order. When y was invoked after every earlier observation of its job had
completed (one client polling one job does exactly that) `best` is simply what has been absorbed so far. When y
overlaps earlier ones, the changes they made to `best` are undone from a short log (`HORIZON_S` of wall time);
when the log does not reach back to y's invocation, or observations arrive out of completion order, the job is
*tangled*: `exact` judges it again over its observations, which the checker reads in a second pass. Either way
the pairs, their counts and the first pair per kind are those of the sweep over all observations in memory.
"""

from __future__ import annotations

from typing import Any

from harness.judge.history import FINISHED
from harness.judge.transitions import ACTIVE, SAME_ATTEMPT, rank, violation_of

HORIZON_S = 120.0  # how far back (wall time) the undo log reaches; longer-held requests tangle their job
Seen = tuple[Any, Any, Any, int]  # an observation's status, attempts, progress, and its ref
Found = dict[str, list[Any]]  # kind -> [pairs counted, place of the first pair, x, y]
_MISSING: Seen = (None, None, None, -1)


class Track:
    """One job's real-time order state: `best` so far, its undo log, the pairs found."""

    __slots__ = ("best", "first_end", "found", "last_end", "listed", "log", "passed", "tangled", "trimmed")

    def __init__(self) -> None:
        self.best: dict[str, Seen] = {}
        self.log: list[tuple[float, str, Seen]] = []  # (completed at, key, value before) per change of best
        self.first_end: float | None = None
        self.last_end = float("-inf")
        self.trimmed = float("-inf")  # the latest change dropped from the log
        self.found: Found | None = None
        self.passed: Seen | None = None  # the last observation, if it followed every earlier one and broke nothing
        self.tangled = False
        self.listed = False  # whether the index lists it among the tracks whose log it trims

    def observe(self, seq: int, start: float, end: float, seen: Seen) -> None:
        """Judge one observation (held in [start, end]; `seq` orders observations) and absorb it."""
        if self.tangled:
            return
        if end < self.last_end:
            self.tangle()
            return
        if start > self.last_end:  # every earlier observation completed before this one was invoked
            if self._follows(seen, end):
                self.last_end = end
                self._forget(end)
                return
            if may_break(self.best, seen[0], seen[1], seen[2]):
                self._compare(self.best, (start, seq), seen)
                self.passed = None
            else:
                self.passed = seen
        elif self.first_end is not None and start <= self.first_end:
            self.passed = None  # none had completed when it was invoked
        elif start > self.trimmed:
            self._compare(self._undone(start), (start, seq), seen)
            self.passed = None
        else:
            self.tangle()
            return
        if self.first_end is None:
            self.first_end = end
        absorb(self.best, seen, self.log, end)
        self.last_end = end
        self._forget(end)

    def _forget(self, now: float) -> None:
        if self.log and self.log[0][0] < now - HORIZON_S:
            self.trim(now - HORIZON_S)

    def _follows(self, seen: Seen, end: float) -> bool:
        """The common case, settled without comparing: the same status and attempt as the last observation, which
        broke nothing, with no less progress. It breaks nothing either, and can only raise its attempt's progress."""
        last = self.passed
        if last is None or seen[0] != last[0] or seen[1] != last[1]:
            return False
        progress, before = seen[2], last[2]
        if progress is None or before is None:
            if progress is not before:
                return False
        elif progress < before:
            return False
        elif progress > before and seen[0] in ACTIVE and seen[1] is not None:
            key = f"progress@{seen[1]}"
            held = self.best.get(key)
            if held is None or progress > (held[2] or 0):
                _set(self.best, key, seen, self.log, end)
        self.passed = seen
        return True

    def tangle(self) -> None:
        self.tangled, self.best, self.log, self.found = True, {}, [], None

    def trim(self, before: float) -> None:
        """Forget changes of best made before `before` (wall time): y invoked before then tangles the job."""
        keep = 0
        while keep < len(self.log) and self.log[keep][0] < before:
            self.trimmed = self.log[keep][0]
            keep += 1
        del self.log[:keep]

    def _undone(self, start: float) -> dict[str, Seen]:
        """best as it was when only observations completed before `start` were absorbed."""
        at = dict(self.best)
        for end, key, before in reversed(self.log):
            if end < start:
                break
            if before is _MISSING:
                del at[key]
            else:
                at[key] = before
        return at

    def _compare(self, best: dict[str, Seen], place: tuple[float, int], seen: Seen) -> None:
        for pos, x in enumerate(best.values()):
            kind = violation_of(x[0], x[1], x[2], seen[0], seen[1], seen[2])
            if kind:
                self.found = count_pair(self.found, kind, (*place, pos), x, seen)


def may_break(best: dict[str, Seen], status: Any, attempts: Any, progress: Any) -> bool:
    """Whether an observation may violate the order against some state in `best` (False: it surely does not).

    Sound because of what best holds: "top" has the largest rank, so the largest attempts, of the unfinished
    states; "finished" the finished one; "progress@a" the highest progress of attempt a.
    """
    if status not in SAME_ATTEMPT:
        return False
    done = best.get("finished")
    if done is not None:
        if status not in (done[0], "expired"):
            return True
        if attempts is not None and done[1] is not None and attempts < done[1]:
            return True
    top = best.get("top")
    if top is None or attempts is None:
        return False
    if type(attempts) is not int or attempts < top[1]:
        return True
    if status not in FINISHED and rank(status, attempts) < rank(top[0], top[1]):
        return True
    if progress is not None and status in ACTIVE:
        held = best.get(f"progress@{attempts}")
        if held is not None and progress < held[2]:
            return True
        if top[1] == attempts and top[0] in ACTIVE and top[2] is not None and progress < top[2]:
            return True
    return False


def absorb(best: dict[str, Seen], seen: Seen, log: list[tuple[float, str, Seen]] | None = None, end: float = 0) -> None:
    """Keep per job the furthest-on state, the furthest finished one and the highest progress per attempt."""
    status, attempts, progress = seen[0], seen[1], seen[2]
    if status in FINISHED:
        held = best.get("finished")
        if held is None or rank(status, 0) > rank(held[0] or "", 0):
            _set(best, "finished", seen, log, end)
    elif attempts is not None and status in SAME_ATTEMPT:
        top = best.get("top")
        if top is None or rank(status, attempts) > rank(top[0] or "", top[1] or 0):
            _set(best, "top", seen, log, end)
        if status in ACTIVE and progress is not None:
            key = f"progress@{attempts}"
            held = best.get(key)
            if held is None or progress > (held[2] or 0):
                _set(best, key, seen, log, end)


def _set(best: dict[str, Seen], key: str, seen: Seen, log: list[tuple[float, str, Seen]] | None, end: float) -> None:
    if log is not None:
        log.append((end, key, best.get(key, _MISSING)))
    best[key] = seen


def count_pair(found: Found | None, kind: str, place: tuple[Any, ...], x: Seen, y: Seen) -> Found:
    """Count one violating pair; keep the one with the smallest place as the kind's evidence."""
    found = {} if found is None else found
    held = found.get(kind)
    if held is None:
        found[kind] = [1, place, x, y]
    else:
        held[0] += 1
        if place < held[1]:
            held[1:] = [place, x, y]
    return found


def exact(observations: list[tuple[float, float, Seen]]) -> Found | None:
    """The in-memory sweep over all of one job's observations (start, end, seen), in completion order."""
    by_end = sorted(observations, key=lambda o: o[1])
    best: dict[str, Seen] = {}
    found: Found | None = None
    done = 0
    for place, (start, _, seen) in enumerate(sorted(observations, key=lambda o: o[0])):
        while done < len(by_end) and by_end[done][1] < start:
            absorb(best, by_end[done][2])
            done += 1
        for pos, x in enumerate(best.values()):
            kind = violation_of(x[0], x[1], x[2], seen[0], seen[1], seen[2])
            if kind:
                found = count_pair(found, kind, (place, pos), x, seen)
    return found


def ordered(found: Found | None) -> list[tuple[str, int, Seen, Seen]]:
    """(kind, pairs counted, x, y) per kind, kinds in the order their first pair was found."""
    if not found:
        return []
    return [(kind, held[0], held[2], held[3]) for kind, held in sorted(found.items(), key=lambda kv: kv[1][1])]
