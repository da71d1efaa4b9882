"""The verdict over a merged history: run every invariant, name the faults around each anomaly, add the facts.

`check_files` judges history files as a stream (memory: the index's summaries, not the history); `check`
judges records already in memory (as `read_history` returns them); both give the same verdict.
A job the streaming order check could not settle (`sweep`: observations overlapping further back than its
log) is judged again over its observations alone, read in a second pass.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from harness.judge.facts import Facts
from harness.judge.history import Record, fault_windows
from harness.judge.index import Index, observations_of
from harness.judge.invariants import INVARIANTS, Anomaly
from harness.judge.params import CheckParams
from harness.judge.reader import Entry, FileSource, MemorySource, OutOfOrder
from harness.judge.stats import Stats, compute_stats
from harness.judge.sweep import exact


@dataclass(frozen=True)
class CheckResult:
    """The verdict: INVALID when an anomaly is proved, INCONCLUSIVE when the history held too little to judge
    (`inconclusive` says why: no job acknowledged, jobs nobody looked at, a fault no request met), else VALID.
    Only VALID is `valid`: a check that judged nothing is never a pass. `stats` carry the facts whatever the
    verdict."""

    valid: bool
    anomalies: tuple[Anomaly, ...]
    stats: Stats
    params: CheckParams = field(default_factory=CheckParams)
    inconclusive: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # what is worth a look but breaks no invariant (a 503 that says not when to retry)

    @property
    def verdict(self) -> str:
        return "INVALID" if self.anomalies else "INCONCLUSIVE" if self.inconclusive else "VALID"


class Source(Protocol):
    """A merged history to judge: its records in blocks, as often as asked, and its lines read back by ref."""

    def blocks(self, facts: Facts | None = None) -> Iterator[list[Entry]]: ...

    def resolve(self, refs: Collection[int]) -> dict[int, Record]: ...


def check(records: Sequence[Record], params: CheckParams) -> CheckResult:
    """Judge a merged history (as `read_history` returns it); anomalies come invariant by invariant."""
    return judge(MemorySource(records), params)


def check_files(paths: Iterable[str | os.PathLike[str]], params: CheckParams) -> CheckResult:
    """Judge history files (JSONL, or zstd-compressed JSONL) without holding them in memory."""
    paths = list(paths)
    try:
        return judge(FileSource(paths), params)
    except OutOfOrder:
        return judge(FileSource(paths, exact=True), params)


def judge(source: Source, params: CheckParams, index: Index | None = None) -> CheckResult:
    """Judge a source in one pass (two if a job's order needs it) into `index` (a fresh one by default)."""
    ix = Index(params) if index is None else index
    facts = Facts()
    collecting = gc.isenabled()
    gc.disable()  # the index holds no cycles; collecting would rescan its summaries over and over (~10 %)
    try:
        for block in source.blocks(facts):
            ix.feed(block)
    finally:
        if collecting:
            gc.enable()
    ix.end_wall = facts.end_wall
    tangled = {job_id for job_id in ix.observed if (track := ix.jobs[job_id].track) is not None and track.tangled}
    if tangled:
        for job_id, observations in observations_of(source.blocks(), tangled).items():
            track = ix.jobs[job_id].track
            assert track is not None
            track.found = exact(observations)
    findings = [finding for invariant in INVARIANTS for finding in invariant(ix, params)]
    faults = list(ix.windows.values())
    n_503, bare, first_bare = ix.unavailable
    noted = {first_bare} if bare else set()
    lines = source.resolve({ref for f in findings for ref in (*f.evidence, *f.cites)} | set(faults) | noted)
    windows = fault_windows(lines[ref] for ref in faults)
    anomalies = tuple(attribute(finding.anomaly(lines), windows) for finding in findings)
    stats = compute_stats(ix, facts, params, faults=len(windows))
    unjudged = tuple(too_little(stats, facts, windows))
    notes: tuple[str, ...] = ()
    if bare:
        first = lines[first_bare]
        notes = (f"{bare} of {n_503} 503 answers of the async flow carried no Retry-After (first: {first.op} at "
                 f"{first.source}): a client cannot tell when to come back",)  # fmt: skip
    return CheckResult(not anomalies and not unjudged, anomalies, stats, params, unjudged, notes)


def too_little(stats: Stats, facts: Facts, windows: list[Record]) -> Iterator[str]:
    """Why the history cannot carry a verdict: what it should have held to be judged, and did not."""
    initiates = stats.latency.get("initiate")
    yield from unjudged_jobs(stats.jobs, (initiates.n, initiates.ok) if initiates else (0, 0))
    for window in windows:
        start, end = window.start_wall or window.wall, window.end_wall or facts.end_wall
        if facts.in_flight(start, end) == 0:
            yield f"fault {window.fault or '?'} met no request: none was in flight during its {end - start:.2f} s"


def unjudged_jobs(jobs: Mapping[str, int], initiates: tuple[int, int]) -> Iterator[str]:
    """What the job counts (`Stats.jobs`) leave unjudged; `initiates` is (sent, answered ok)."""
    if jobs.get("acknowledged", 0) == 0:
        sent = f"{initiates[0]} initiates, {initiates[1]} acknowledged" if initiates[0] else "no initiate at all"
        yield f"no job was acknowledged ({sent}): nothing to judge for loss, order or identity"
        return
    if jobs["pending"] + jobs["unobserved"] == jobs["acknowledged"]:
        yield (
            f"none of the {jobs['acknowledged']} acknowledged jobs was seen to an end or looked at after its "
            "deadline: the history ends too early, or its clients gave up too soon"
        )
    elif jobs["unobserved"]:
        yield (
            f"{jobs['unobserved']} acknowledged job(s) were never seen finished nor looked at after their deadline: "
            "their fate is unjudged (give clients a deadline past the job's)"
        )


def attribute(anomaly: Anomaly, windows: list[Record]) -> Anomaly:
    """Name the faults in force while the evidence was gathered (open windows run to the end)."""
    start = min(r.invoke_wall for r in anomaly.evidence) if anomaly.evidence else 0.0
    end = max((r.wall for r in anomaly.evidence), default=float("inf"))
    during = tuple(
        w.fault or "?"
        for w in windows
        if (w.start_wall or w.wall) <= end and (w.end_wall is None or w.end_wall >= start)
    )
    return Anomaly(anomaly.kind, anomaly.job_id, anomaly.message, anomaly.evidence, during)
