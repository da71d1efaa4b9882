"""The six invariants of DESIGN.md as functions over an indexed history; `harness.judge.checker` runs them.

Concurrency is judged as Jepsen does: an observation holds at some instant between its invocation and
its completion, so two observations are ordered only when one completed before the other was invoked.
SSE events are ordered within their follower (the server's event order) but not against polls, because a
resumed stream replays old events; only a stream's `snapshot` is compared in real time.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from harness.judge.history import FINISHED, TERMINAL, UNKNOWN_JOB, Record

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
# Answers that show the job's state now; an initiate's is left out (a repeat may echo "queued").
FOLLOWED_OPS = frozenset({"status", "cancel", "download", "legacy_start"})


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


@dataclass(frozen=True)
class Anomaly:
    """One broken invariant, with the history lines that prove it and the faults in force around them."""

    kind: str
    job_id: str | None
    message: str
    evidence: tuple[Record, ...]
    during: tuple[str, ...] = ()


@dataclass(frozen=True)
class Obs:
    """A status observation held at some instant in [start, end] (wall seconds)."""

    start: float
    end: float
    rec: Record


@dataclass
class Index:
    """Everything the invariants look up, built in one pass over a merged history."""

    acks: dict[str, Record] = field(default_factory=dict)
    observations: dict[str, list[Obs]] = field(default_factory=lambda: defaultdict(list))
    events: dict[str, list[Record]] = field(default_factory=lambda: defaultdict(list))
    job_events: dict[str, list[Record]] = field(default_factory=lambda: defaultdict(list))
    invokes: dict[str, Record] = field(default_factory=dict)
    completions: list[Record] = field(default_factory=list)
    cancelled_by_client: set[str] = field(default_factory=set)
    unknown: dict[str, Record] = field(default_factory=dict)
    last_connection: dict[str, Record] = field(default_factory=dict)
    end_wall: float = 0.0

    @classmethod
    def build(cls, records: Iterable[Record]) -> Index:
        ix = cls()
        for rec in records:
            ix.end_wall = max(ix.end_wall, rec.wall)
            if rec.type == "invoke":
                ix.invokes[rec.op_id] = rec
                if rec.op == "cancel" and rec.job_id:
                    ix.cancelled_by_client.add(rec.job_id)
            elif rec.type == "event" and rec.job_id:
                ix.events[rec.follower or rec.op_id].append(rec)
                ix.job_events[rec.job_id].append(rec)
                if rec.event == "snapshot":
                    conn = ix.invokes.get(rec.op_id)
                    ix.observations[rec.job_id].append(Obs(conn.wall if conn else rec.wall, rec.wall, rec))
            elif rec.type in ("ok", "fail", "info"):
                ix.completions.append(rec)
                ix._complete(rec)
        return ix

    def _complete(self, rec: Record) -> None:
        if rec.type == "ok" and rec.op == "initiate" and rec.job_id:
            self.acks.setdefault(rec.job_id, rec)
        if rec.type != "info" and rec.op in FOLLOWED_OPS and rec.job_id and rec.status:
            self.observations[rec.job_id].append(Obs(rec.invoke_wall, rec.wall, rec))
        if rec.error == UNKNOWN_JOB and rec.job_id:
            self.unknown.setdefault(rec.job_id, rec)
        if rec.op == "stream":
            self.last_connection[rec.follower or rec.op_id] = rec


def check_order(ix: Index) -> list[Anomaly]:
    """Invariant 2, in real time across clients (a sweep) and event by event along each SSE follower."""
    found: list[Anomaly] = []
    for job_id, obs in ix.observations.items():
        found += _first_per_kind(job_id, _sweep(obs))
    for events in ix.events.values():
        pairs = [(kind, (x, y)) for x, y in itertools.pairwise(events) if (kind := violation(x, y))]
        found += _first_per_kind(events[0].job_id, pairs)
    return found


def _sweep(obs: list[Obs]) -> list[tuple[str, tuple[Record, Record]]]:
    """Compare each observation with the worst ones that completed before it was invoked."""
    by_end = sorted(obs, key=lambda o: o.end)
    best: dict[str, Record] = {}
    found: list[tuple[str, tuple[Record, Record]]] = []
    done = 0
    for y in sorted(obs, key=lambda o: o.start):
        while done < len(by_end) and by_end[done].end < y.start:
            _absorb(best, by_end[done].rec)
            done += 1
        for x in best.values():
            if kind := violation(x, y.rec):
                found.append((kind, (x, y.rec)))
    return found


def _absorb(best: dict[str, Record], rec: Record) -> None:
    """Keep per job the furthest-on state, the furthest finished one and the highest progress per attempt."""
    status, attempts = rec.status or "", rec.attempts
    if status in FINISHED:
        held = best.get("finished")
        if held is None or rank(status, 0) > rank(held.status or "", 0):
            best["finished"] = rec
    elif attempts is not None and status in SAME_ATTEMPT:
        top = best.get("top")
        if top is None or rank(status, attempts) > rank(top.status or "", top.attempts or 0):
            best["top"] = rec
        key = f"progress@{attempts}"
        held = best.get(key)
        if status in ACTIVE and rec.progress is not None and (held is None or rec.progress > (held.progress or 0)):
            best[key] = rec


def _first_per_kind(job_id: str | None, found: Sequence[tuple[str, tuple[Record, ...]]]) -> list[Anomaly]:
    """One anomaly per job and kind (the first proof), counting the others, so a report stays readable."""
    counts: dict[str, int] = defaultdict(int)
    first: dict[str, tuple[Record, ...]] = {}
    for kind, recs in found:
        counts[kind] += 1
        first.setdefault(kind, recs)
    anomalies = []
    for kind, recs in first.items():
        steps = " then ".join(f"{r.status}(attempts={r.attempts}, progress={r.progress}) at {r.source}" for r in recs)
        anomalies.append(Anomaly(kind, job_id, f"{steps} ({counts[kind]} such pair(s) for this job)", recs))
    return anomalies


def terminal_of(rec: Record) -> str | None:
    """The finished state a record proves (a status body, or a terminal SSE event), if any."""
    if rec.status in FINISHED:
        return rec.status
    return rec.event if rec.event in TERMINAL else None


def check_lost(ix: Index, deadline_s: float) -> tuple[list[Anomaly], dict[str, str]]:
    """Invariant 1 (and the "never loses" half of 6): the fate of every acknowledged job.

    The deadline runs from the acknowledgment (the first `ok` initiate's completion). A job is `lost` when
    it was refused as unknown (error `unknown_job`, per the target's profile) after its acknowledgment, or
    seen unfinished by an observation invoked after its deadline and never seen finished; `late` when seen
    unfinished after the deadline but finished later.
    A job never seen finished and never looked at after its deadline is not judged: `pending` if the history
    ends before the deadline, `unobserved` otherwise (nobody looked: give clients a longer deadline).
    """
    found: list[Anomaly] = []
    fates: dict[str, str] = {}
    by_job = ix.job_events
    for job_id, ack in ix.acks.items():
        due = ack.wall + deadline_s
        seen = [o.rec for o in ix.observations.get(job_id, [])] + by_job.get(job_id, [])
        finished = min((r for r in seen if terminal_of(r)), key=lambda r: r.wall, default=None)
        late = next((o.rec for o in ix.observations.get(job_id, []) if o.start > due and not terminal_of(o.rec)), None)
        gone = ix.unknown.get(job_id)
        if gone is not None and gone.invoke_wall > ack.wall:
            fates[job_id] = "lost"
            msg = f"acknowledged at {ack.source}, then unknown (answered {gone.http_status})"
            found.append(Anomaly("lost_job", job_id, msg, (ack, gone)))
        elif late is not None:
            fates[job_id] = "late" if finished else "lost"
            what = f"finished only at {finished.source}" if finished else "never seen finished"
            msg = f"still {late.status} at {late.source}, after its {deadline_s:g} s deadline; {what}"
            found.append(Anomaly("deadline_missed" if finished else "lost_job", job_id, msg, (ack, late)))
        elif finished is not None:
            fates[job_id] = terminal_of(finished) or "finished"
        else:
            fates[job_id] = "pending" if ix.end_wall < due else "unobserved"
    return found, fates


def check_cancels(ix: Index) -> list[Anomaly]:
    """Invariant 6: a job that no client asked to cancel never ends `cancelled` (disconnects are not cancels)."""
    found: dict[str, Anomaly] = {}
    seen = [o.rec for obs in ix.observations.values() for o in obs] + [r for e in ix.events.values() for r in e]
    for rec in seen:
        if terminal_of(rec) == "cancelled" and rec.job_id and rec.job_id not in ix.cancelled_by_client:
            msg = f"cancelled though no client sent a cancel ({rec.source})"
            found.setdefault(rec.job_id, Anomaly("unexpected_cancel", rec.job_id, msg, (rec,)))
    return list(found.values())


def check_streams(ix: Index, idle_timer_s: float | None) -> list[Anomaly]:
    """Invariant 5: ids strictly increase within a follower (across resumes), one terminal event per follower,
    and no gap between received bytes reaches the chain's smallest idle timer."""
    found: list[Anomaly] = []
    for follower, events in ix.events.items():
        found += _id_order(ix, events)
        terminals = [r for r in events if r.event in TERMINAL]
        last = ix.last_connection.get(follower)
        ended = last is not None and (last.type == "ok" or last.error == "eof_before_terminal")
        if len(terminals) > 1 or (not terminals and ended):
            msg = f"follower {follower} got {len(terminals)} terminal events"
            found.append(Anomaly("sse_terminal_count", events[0].job_id, msg, tuple(terminals) or (events[-1],)))
    for rec in ix.completions:
        if rec.op == "stream" and idle_timer_s is not None and (rec.max_gap_s or 0) >= idle_timer_s:
            msg = f"{rec.max_gap_s:.3f} s without a byte >= idle timer {idle_timer_s:g} s ({rec.source})"
            found.append(Anomaly("sse_gap", rec.job_id, msg, (rec,)))
    return found


def _id_order(ix: Index, events: list[Record]) -> list[Anomaly]:
    """Ids must increase along a follower, across resumes; a connection opened without Last-Event-ID starts afresh."""
    prev: Record | None = None
    for rec in events:
        if prev is None or rec.op_id != prev.op_id:
            conn = ix.invokes.get(rec.op_id)
            resumed = conn is not None and conn.last_event_id is not None
            prev = (prev or conn) if resumed else None
        last = None if prev is None else (prev.event_id if prev.type == "event" else prev.last_event_id)
        if last is not None and rec.event_id is not None and rec.event_id <= last:
            msg = f"event id {rec.event_id} after id {last} ({prev.source if prev else ''} then {rec.source})"
            return [Anomaly("sse_id_order", rec.job_id, msg, (prev, rec) if prev else (rec,))]
        prev = rec
    return []
