"""The counted facts of a history: records, the last wall time, outcomes and latency per op, proxy timeouts.

They do not depend on the order of records, so a history file's reader can count them where it reads (in its
own process, `reader`) and the counts of several files are merged: latency histograms are kept per file and
op (`histogram`) and merged per op by the statistics.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from harness.judge.histogram import Histogram
from harness.judge.history import ASYNC_OPS, PROXY_TIMEOUT_CODES

OUTCOMES = frozenset({"ok", "fail", "info"})
FILE_SHIFT = 40  # a record's ref is (history file index << FILE_SHIFT) | line number
ACTIVITY_BUCKETS_PER_S = 20  # requests in flight are counted per 50 ms of wall time
Entry = tuple[float, int, Any]  # (wall, ref, record), as the reader gives them


class Facts:
    """Counts over every record; `tally` them block by block, `merge` another file's."""

    def __init__(self) -> None:
        self.records = 0
        self.end_wall = 0.0
        self.latency: dict[int, dict[str, Histogram]] = {}  # per history file (ref >> FILE_SHIFT), per op
        self.outcomes: dict[str, dict[str, int]] = {}
        self.info: dict[str, list[Any]] = {}  # op -> [indeterminate answers, (wall, ref) of the first]
        self.proxy_codes: dict[str, dict[int, int]] = {"async": {}, "legacy": {}}
        # Requests in flight over time, as a difference array: +1 at the bucket of its invocation, -1 after the
        # bucket of its completion (`in_flight` sums it): whether a fault window had any request inside it.
        self.activity: dict[int, int] = {}

    @classmethod
    def of(cls, records: Iterable[Any]) -> Facts:
        """The facts of records in memory (merged, as read_history returns them)."""
        facts = cls()
        facts.tally([(rec.wall, i, rec) for i, rec in enumerate(records)])
        return facts

    def tally(self, block: list[Entry]) -> None:
        """Count a block of records (in merged order: the first indeterminate answer per op comes first)."""
        self.records += len(block)
        end_wall, latency = self.end_wall, self.latency
        for wall, ref, rec in block:
            if wall > end_wall:
                end_wall = wall
            outcome = rec.type
            if outcome not in OUTCOMES:
                continue
            op = rec.op
            per_file = latency.get(ref >> FILE_SHIFT)
            hist = None if per_file is None else per_file.get(op)
            if hist is None:
                hist = latency.setdefault(ref >> FILE_SHIFT, {})[op] = Histogram()
                self.outcomes.setdefault(op, {"ok": 0, "fail": 0, "info": 0})
            hist.record(rec.latency_s or 0.0)
            first, after = (
                int((wall - (rec.latency_s or 0.0)) * ACTIVITY_BUCKETS_PER_S),
                int(wall * ACTIVITY_BUCKETS_PER_S) + 1,
            )
            self.activity[first] = self.activity.get(first, 0) + 1
            self.activity[after] = self.activity.get(after, 0) - 1
            counts = self.outcomes[op]
            counts[outcome] = counts.get(outcome, 0) + 1
            if outcome == "info":
                held = self.info.get(op)
                if held is None:
                    self.info[op] = [1, wall, ref]
                else:
                    held[0] += 1
            code = rec.http_status
            if code in PROXY_TIMEOUT_CODES:
                codes = self.proxy_codes["async" if op in ASYNC_OPS else "legacy"]
                codes[code] = codes.get(code, 0) + 1
        self.end_wall = end_wall

    def merge(self, other: Facts) -> Facts:
        """Add another file's counts (files judged together: their first indeterminate answers ordered by time)."""
        self.records += other.records
        self.end_wall = max(self.end_wall, other.end_wall)
        for file, per_op in other.latency.items():
            mine = self.latency.setdefault(file, {})
            for op, hist in per_op.items():
                mine[op] = mine[op].merge(hist) if op in mine else hist
        for op, counts in other.outcomes.items():
            held = self.outcomes.setdefault(op, {"ok": 0, "fail": 0, "info": 0})
            for outcome, n in counts.items():
                held[outcome] = held.get(outcome, 0) + n
        for op, (n, wall, ref) in other.info.items():
            first = self.info.get(op)
            self.info[op] = [n, wall, ref] if first is None else [first[0] + n, *min(first[1:], [wall, ref])]
        self.info = dict(sorted(self.info.items(), key=lambda kv: (kv[1][1], kv[1][2])))
        for flow, codes in other.proxy_codes.items():
            for code, n in codes.items():
                self.proxy_codes[flow][code] = self.proxy_codes[flow].get(code, 0) + n
        for bucket, n in other.activity.items():
            self.activity[bucket] = self.activity.get(bucket, 0) + n
        return self

    def in_flight(self, start_wall: float, end_wall: float) -> int:
        """The most requests in flight at once between two wall times (to the 50 ms bucket)."""
        first, last = int(start_wall * ACTIVITY_BUCKETS_PER_S), int(end_wall * ACTIVITY_BUCKETS_PER_S)
        running, most = 0, 0
        for bucket in sorted(self.activity):
            if bucket > last:
                break
            running += self.activity[bucket]
            most = running if bucket < first else max(most, running)  # before: what is in flight at the opening
        return most

    def indeterminate(self) -> dict[str, int]:
        """Indeterminate answers per op, ops in the order of their first one."""
        return {op: held[0] for op, held in self.info.items()}

    def to_wire(self) -> dict[str, Any]:
        """Plain data (for the reader's process to send)."""
        latency = {file: {op: h.to_wire() for op, h in per_op.items()} for file, per_op in self.latency.items()}
        return {
            "records": self.records,
            "end_wall": self.end_wall,
            "latency": latency,
            "outcomes": self.outcomes,
            "info": self.info,
            "proxy_codes": self.proxy_codes,
            "activity": self.activity,
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Facts:
        facts = cls()
        facts.records, facts.end_wall = data["records"], data["end_wall"]
        facts.latency = {
            int(file): {op: Histogram.from_wire(h) for op, h in per_op.items()}
            for file, per_op in data["latency"].items()
        }
        facts.outcomes, facts.info = data["outcomes"], data["info"]
        facts.proxy_codes = {flow: {int(c): n for c, n in codes.items()} for flow, codes in data["proxy_codes"].items()}
        facts.activity = {int(bucket): n for bucket, n in data.get("activity", {}).items()}
        return facts
