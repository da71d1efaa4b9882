"""The index over a merged history: everything the invariants and the statistics look up, built in one pass.

Concurrency is judged as Jepsen does: an observation holds at some instant between its invocation and
its completion, so two observations are ordered only when one completed before the other was invoked.
SSE events are ordered within their follower (the server's event order) but not against polls, because a
resumed stream replays old events; only a stream's `snapshot` is compared in real time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from harness.judge.history import UNKNOWN_JOB, Record

# Answers that show the job's state now; an initiate's is left out (a repeat may echo "queued").
FOLLOWED_OPS = frozenset({"status", "cancel", "download", "legacy_start"})


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
