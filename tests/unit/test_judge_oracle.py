"""Today's checker as it was before it streamed: the whole history read into memory, judged invariant by invariant.

Kept only as the oracle of `test_judge_sameness`: the streaming checker must give the verdict, the anomalies
(their order, messages and evidence) and the facts this one gives, on every history. Nothing else imports it.
Latency percentiles here are exact (sorted values); the streaming checker's come from histograms.
"""

from __future__ import annotations

import itertools
import json
import os
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path

import pytest

from harness.core.errors import HarnessError
from harness.judge.history import ASYNC_OPS, FINISHED, PROXY_TIMEOUT_CODES, TERMINAL, UNKNOWN_JOB, Record, fault_windows
from harness.judge.invariants import Anomaly
from harness.judge.params import STALL_SLACK_S, CheckParams
from harness.judge.stats import LatencySummary, Stats
from harness.judge.transitions import ACTIVE, SAME_ATTEMPT, rank, terminal_of, violation
from harness.judge.verdict import CheckResult

pytestmark = pytest.mark.unit

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
    windows: list[Record] = field(default_factory=list)
    last_connection: dict[str, Record] = field(default_factory=dict)
    end_wall: float = 0.0

    @classmethod
    def build(cls, records: Iterable[Record]) -> Index:
        ix = cls()
        records = list(records)
        ix.windows = fault_windows(records)
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


Invariant = Callable[[Index, CheckParams], list[Anomaly]]
Pairing = dict[str, dict[str, Record]]


def check_lost(ix: Index, params: CheckParams) -> list[Anomaly]:
    """Invariant 1 (and the "never loses" half of 6): every acknowledged job meets its deadline (see `job_fate`)."""
    found = (job_fate(ix, job_id, ack, params)[1] for job_id, ack in ix.acks.items())
    return [a for a in found if a is not None]


def job_fate(ix: Index, job_id: str, ack: Record, params: CheckParams) -> tuple[str, Anomaly | None]:
    """The fate of one acknowledged job, and the anomaly it proves if any.

    The deadline runs from the acknowledgment (the first `ok` initiate's completion). A job is `lost` when
    it was refused as unknown (error `unknown_job`, per the target's profile) after its acknowledgment, or
    seen unfinished by an observation invoked after its deadline and never seen finished; `late` when seen
    unfinished after the deadline but finished later.
    A job never seen finished and never looked at after its deadline is not judged: `pending` if the history
    ends before the deadline, `unobserved` otherwise (nobody looked: give clients a longer deadline).
    """
    deadline_s = params.deadline_s
    due = ack.wall + deadline_s
    seen = [o.rec for o in ix.observations.get(job_id, [])] + ix.job_events.get(job_id, [])
    finished = min((r for r in seen if terminal_of(r)), key=lambda r: r.wall, default=None)
    late = next((o.rec for o in ix.observations.get(job_id, []) if o.start > due and not terminal_of(o.rec)), None)
    gone = ix.unknown.get(job_id)
    if gone is not None and gone.invoke_wall > ack.wall:
        msg = f"acknowledged at {ack.source}, then unknown (answered {gone.http_status})"
        return "lost", Anomaly("lost_job", job_id, msg, (ack, gone))
    if late is not None:
        what = f"finished only at {finished.source}" if finished else "never seen finished"
        msg = f"still {late.status} at {late.source}, after its {deadline_s:g} s deadline; {what}"
        kind = "deadline_missed" if finished else "lost_job"
        return ("late" if finished else "lost"), Anomaly(kind, job_id, msg, (ack, late))
    if (stuck := stalled(ix, job_id, ack, params)) is not None:
        return "late", stuck
    if finished is not None:
        return terminal_of(finished) or "finished", None
    return ("pending" if ix.end_wall < due else "unobserved"), None


def stalled(ix: Index, job_id: str, ack: Record, params: CheckParams) -> Anomaly | None:
    """The longest stretch of one running attempt with no visible change, in each run of consecutive running
    observations of one (status, attempts, progress), against the job's expected work plus the stall recovery."""
    if ack.expect_s is None or params.stall_s is None:
        return None
    stretches: list[tuple[Obs, Obs]] = []
    first: Obs | None = None
    for o in ix.observations.get(job_id, []):
        r = o.rec
        key = (r.status, r.attempts, r.progress)
        if terminal_of(r) or r.status not in ACTIVE or r.attempts is None:
            first = None
        elif first is None or (first.rec.status, first.rec.attempts, first.rec.progress) != key:
            first = o
        elif o.start - first.end > params.stall_s + STALL_SLACK_S:
            if stretches and stretches[-1][0] is first:
                stretches[-1] = (first, o)
            else:
                stretches.append((first, o))
    pairs = [(a.end, b.start, a.rec, b.rec) for a, b in stretches]
    for events in ix.events.values():  # an open stream's silence after an event of a running attempt
        for x, y in itertools.pairwise(events):
            running = x.status in ACTIVE and x.attempts is not None and x.op_id == y.op_id
            if running and (y.job_id or "") == job_id and y.wall - x.wall > params.stall_s + STALL_SLACK_S:
                pairs.append((x.wall, y.wall, x, y))
    worst: tuple[float, Record, Record, float, float] | None = None
    for since, until, a, b in sorted(pairs, key=lambda p: p[3].wall):
        met = [
            w for w in ix.windows if (w.start_wall or w.wall) <= until and (w.end_wall is None or w.end_wall >= since)
        ]
        if any(not (w.target or "").startswith("worker") for w in met):
            continue
        held = sum(
            max(0.0, min(until, w.end_wall if w.end_wall is not None else until) - max(since, w.start_wall or w.wall))
            for w in met
        )
        allowed = ack.expect_s * params.time_scale + params.stall_s + STALL_SLACK_S + held
        excess = until - since - allowed
        if excess > 0 and (worst is None or excess > worst[0]):
            worst = (excess, a, b, allowed, until - since)
    if worst is None:
        return None
    _, a, b, allowed, span = worst
    msg = (
        f"{a.status} (attempt {a.attempts}, progress {a.progress}) with no change from {a.source} "
        f"to {b.source}: {span:.1f} s, beyond the {allowed:.1f} s its "
        f"{ack.expect_s:g} s of work, the stall recovery and the faults it met allow"
    )
    return Anomaly("deadline_missed", job_id, msg, (a, b))


def check_order(ix: Index, params: CheckParams) -> list[Anomaly]:
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


def check_identity(ix: Index, params: CheckParams) -> list[Anomaly]:
    """Invariant 3: one clientRequestId <-> one jobId, and every downloaded artifact matches its checksum."""
    found: list[Anomaly] = []
    for rec in ix.completions:
        if rec.checksum_ok is False:
            msg = f"artifact bytes do not hash to the status checksum ({rec.source})"
            found.append(Anomaly("checksum_mismatch", rec.job_id, msg, (rec,)))
    jobs, requests = pairings(ix)
    for crid, by_job in jobs.items():
        if len(by_job) > 1:
            msg = f"clientRequestId {crid!r} got {len(by_job)} jobs: {', '.join(by_job)}"
            found.append(Anomaly("duplicate_job", next(iter(by_job)), msg, tuple(by_job.values())))
    for job_id, by_request in requests.items():
        if len(by_request) > 1:
            msg = f"job answered for {len(by_request)} clientRequestIds: {', '.join(by_request)}"
            found.append(Anomaly("shared_job", job_id, msg, tuple(by_request.values())))
    return found


def pairings(ix: Index) -> tuple[Pairing, Pairing]:
    """The answered starts both ways: jobs per clientRequestId, clientRequestIds per job (first answer each)."""
    jobs: Pairing = defaultdict(dict)
    requests: Pairing = defaultdict(dict)
    for rec in ix.completions:
        if rec.type == "ok" and rec.op in ("initiate", "legacy_start") and rec.job_id and rec.client_request_id:
            jobs[rec.client_request_id].setdefault(rec.job_id, rec)
            requests[rec.job_id].setdefault(rec.client_request_id, rec)
    return jobs, requests


def check_requests(ix: Index, params: CheckParams) -> list[Anomaly]:
    """Invariant 4: no proxy timeout in the async flow (on the legacy endpoint only if strict), none over budget."""
    found: list[Anomaly] = []
    budget_s = params.budget_s
    for rec in ix.completions:
        flow = flow_of(rec)
        if rec.http_status in PROXY_TIMEOUT_CODES and (flow == "async" or params.legacy_strict):
            msg = f"{rec.op} answered {rec.http_status} after {rec.latency_s or 0:.3f} s ({rec.source})"
            kind = "proxy_timeout" if flow == "async" else "legacy_proxy_timeout"
            found.append(Anomaly(kind, rec.job_id, msg, (rec,)))
        elif rec.http_status and rec.http_status >= 500 and rec.http_status != 503 and rec.op in ASYNC_OPS:
            msg = f"{rec.op} answered {rec.http_status} after {rec.latency_s or 0:.3f} s ({rec.source})"
            found.append(Anomaly("server_error", rec.job_id, msg, (rec,)))
        if budget_s is None or flow == "legacy" or rec.type == "info":
            continue
        took = _took(ix, rec)
        if took is not None and took > budget_s:
            what = "first event" if rec.op == "stream" else "answer"
            msg = f"{rec.op} {what} took {took:.3f} s > budget {budget_s:g} s ({rec.source})"
            found.append(Anomaly("over_budget", rec.job_id, msg, (rec,)))
    down = [w for w in ix.windows if w.target == "redis"]
    for rec in ix.completions:
        took = rec.latency_s or 0.0
        if budget_s is None or rec.type != "info" or rec.op not in ASYNC_OPS - {"stream"} or took < budget_s:
            continue
        if any(rec.invoke_wall <= (w.end_wall or rec.wall) and rec.wall >= (w.start_wall or w.wall) for w in down):
            msg = (f"{rec.op} got {rec.http_status or 'no answer'} after {took:.3f} s (budget {budget_s:g} s) "
                   f"while a dependency was down: a hang, not a fast 503 ({rec.source})")  # fmt: skip
            found.append(Anomaly("hung_request", rec.job_id, msg, (rec,)))
    return found


def flow_of(rec: Record) -> str:
    """The flow a request belongs to: "async" (the pattern under test) or "legacy" (the synchronous endpoint)."""
    return "async" if rec.op in ASYNC_OPS else "legacy"


def _took(ix: Index, rec: Record) -> float | None:
    """A request's answer time; for a stream, its snapshot's (a resumed stream has none: its gaps are judged)."""
    if rec.op != "stream":
        return rec.latency_s
    opened = ix.invokes.get(rec.op_id)
    return None if opened is None or opened.last_event_id is not None else rec.first_event_s


def _windows_met(ix: Index, start: float, end: float) -> bool:
    return any(start <= (w.end_wall or end) and end >= (w.start_wall or w.wall) for w in ix.windows)


def check_artifacts(ix: Index, params: CheckParams) -> list[Anomaly]:
    """A download asked after its job was seen completed that fails is `artifact_unreachable` (unless it got no
    HTTP answer while a fault was in force)."""
    found = []
    for rec in ix.completions:
        if rec.op not in ("download", "artifact") or rec.type != "fail" or not rec.job_id or rec.checksum_ok is False:
            continue
        if rec.http_status is None and _windows_met(ix, rec.invoke_wall, rec.wall):
            continue
        seen = [o.rec for o in ix.observations.get(rec.job_id, [])] + ix.job_events.get(rec.job_id, [])
        done = min((r for r in seen if terminal_of(r)), key=lambda r: r.wall, default=None)
        if done is not None and terminal_of(done) == "completed" and done.wall <= rec.invoke_wall:
            msg = f"{rec.op} answered {rec.http_status or rec.error} ({rec.source}) after the job was seen completed"
            found.append(Anomaly("artifact_unreachable", rec.job_id, f"{msg} ({done.source})", (rec, done)))
    return found


def check_streams(ix: Index, params: CheckParams) -> list[Anomaly]:
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
    idle_timer_s = params.idle_timer_s
    for rec in ix.completions:
        if rec.op == "stream" and idle_timer_s is not None and (rec.max_gap_s or 0) >= idle_timer_s:
            msg = f"{rec.max_gap_s:.3f} s without a byte >= idle timer {idle_timer_s:g} s ({rec.source})"
            found.append(Anomaly("sse_gap", rec.job_id, msg, (rec,)))
    per_connection = Counter(r.op_id for events in ix.events.values() for r in events)
    windows = [((w.start_wall or w.wall), w.end_wall) for w in ix.windows]
    streams = [rec for rec in ix.completions if rec.op == "stream"]
    for rec in streams:
        if rec.error != "eof_before_terminal" or per_connection[rec.op_id] > 1:
            continue
        if not any(
            rec.invoke_wall <= (end if end is not None else rec.wall) and rec.wall >= start for start, end in windows
        ):
            msg = "the server closed the stream after at most one event, none terminal, with no fault in force"
            msg += f" ({rec.source})"
            found.append(Anomaly("sse_early_close", rec.job_id, msg, (rec,)))
    for rec in streams:
        if rec.error not in ("deadline", "timeout") or rec.http_status != 200 or rec.job_id is None:
            continue
        seen = [o.rec for o in ix.observations.get(rec.job_id, [])] + ix.job_events.get(rec.job_id, [])
        done = min((r for r in seen if terminal_of(r)), key=lambda r: r.wall, default=None)
        if done is not None and done.wall < rec.wall - (idle_timer_s or 0.0):
            msg = (f"the stream was still open {rec.wall - done.wall:.2f} s after the job was seen {terminal_of(done)} "
                   f"({done.source}) and never delivered it ({rec.source})")  # fmt: skip
            found.append(Anomaly("sse_missing_terminal", rec.job_id, msg, (rec, done)))
    closes: dict[str, list[Record]] = {}
    for rec in streams:
        if rec.error == "eof_before_terminal":
            closes.setdefault(rec.follower or rec.op_id, []).append(rec)
    for name, recs in closes.items():
        calm = [r for r in recs if not any(r.invoke_wall <= (e if e is not None else r.wall) and r.wall >= s
                                           for s, e in windows)]  # fmt: skip
        if len(calm) > 5:
            msg = (f"follower {name}: the server closed {len(calm)} of its streams before the terminal event with no "
                   "fault in force; its client reconnected each time (a reconnection storm)")  # fmt: skip
            found.append(Anomaly("sse_reconnect_storm", calm[0].job_id, msg, (calm[0], calm[-1])))
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


def check_cancels(ix: Index, params: CheckParams) -> list[Anomaly]:
    """Invariant 6: a job that no client asked to cancel never ends `cancelled` (disconnects are not cancels)."""
    found: dict[str, Anomaly] = {}
    seen = [o.rec for obs in ix.observations.values() for o in obs] + [r for e in ix.events.values() for r in e]
    for rec in seen:
        if terminal_of(rec) == "cancelled" and rec.job_id and rec.job_id not in ix.cancelled_by_client:
            msg = f"cancelled though no client sent a cancel ({rec.source})"
            found.setdefault(rec.job_id, Anomaly("unexpected_cancel", rec.job_id, msg, (rec,)))
    return list(found.values())


# Report order: the anomalies of a verdict come invariant by invariant, in this order.
INVARIANTS: tuple[Invariant, ...] = (
    check_lost,
    check_order,
    check_identity,
    check_requests,
    check_streams,
    check_cancels,
    check_artifacts,
)


JOB_FATES = ("completed", "failed", "cancelled", "expired", "late", "lost", "pending", "unobserved")  # see job_fate


def compute_stats(ix: Index, params: CheckParams, *, records: int, faults: int) -> Stats:
    """The facts of an indexed history of `records` lines with `faults` fault windows."""
    info = Counter(r.op for r in ix.completions if r.type == "info")
    return Stats(records, job_counts(ix, params), proxy_timeouts(ix), dict(info), latencies(ix.completions), faults)


def job_counts(ix: Index, params: CheckParams) -> dict[str, int]:
    """Acknowledged jobs by fate (every fate named, zero or not), then acknowledged and duplicated counts."""
    fates = (job_fate(ix, job_id, ack, params)[0] for job_id, ack in ix.acks.items())
    jobs = dict.fromkeys(JOB_FATES, 0) | Counter(fates)
    jobs["acknowledged"] = len(ix.acks)
    jobs["duplicated"] = sum(1 for by_job in pairings(ix)[0].values() if len(by_job) > 1)
    return jobs


def proxy_timeouts(ix: Index) -> dict[str, dict[int, int]]:
    """Proxy timeout answers per flow and code: anomalies in the async flow, expected facts on the legacy one."""
    codes: dict[str, dict[int, int]] = {"async": defaultdict(int), "legacy": defaultdict(int)}
    for rec in ix.completions:
        if rec.http_status in PROXY_TIMEOUT_CODES:
            codes[flow_of(rec)][rec.http_status] += 1
    return {flow: dict(sorted(c.items())) for flow, c in codes.items()}


def latencies(completions: list[Record]) -> dict[str, LatencySummary]:
    """Per operation, in name order: counts by outcome and latency percentiles."""
    by_op: dict[str, list[Record]] = {}
    for rec in completions:
        by_op.setdefault(rec.op, []).append(rec)
    out: dict[str, LatencySummary] = {}
    for op, recs in sorted(by_op.items()):
        values = sorted(r.latency_s or 0.0 for r in recs)
        kinds = Counter(r.type for r in recs)

        def pct(q: float, v: list[float] = values) -> float:
            return v[min(len(v) - 1, int(q * len(v)))]

        out[op] = LatencySummary(
            len(values), kinds["ok"], kinds["fail"], kinds["info"], pct(0.5), pct(0.95), pct(0.99), values[-1]
        )
    return out


def check(records: Sequence[Record], params: CheckParams) -> CheckResult:
    """Judge a merged history (as `read_history` returns it); anomalies come invariant by invariant."""
    ix = Index.build(records)
    windows = fault_windows(records)
    found = [anomaly for invariant in INVARIANTS for anomaly in invariant(ix, params)]
    anomalies = tuple(attribute(a, windows) for a in found)
    stats = compute_stats(ix, params, records=len(records), faults=len(windows))
    return CheckResult(not anomalies, anomalies, stats, params)


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


FIELDS = frozenset(f.name for f in fields(Record)) - {"source"}


def read_history(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[Record]:
    """Read and merge history files, ordered by wall time (ties keep file then line order).

    A malformed final line (a writer killed mid-line) is skipped; a malformed line elsewhere is an error.
    """
    records: list[Record] = []
    for path in [paths] if isinstance(paths, str | os.PathLike) else paths:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
        for number, text in enumerate(lines, start=1):
            if not text.strip():
                continue
            try:
                raw = json.loads(text)
                records.append(Record(**{k: v for k, v in raw.items() if k in FIELDS}, source=f"{path}:{number}"))
            except (ValueError, TypeError) as exc:
                if number == len(lines):
                    continue
                raise HarnessError(
                    f"history line {path}:{number} is not a record ({exc}); was it written by History?"
                ) from None
    records.sort(key=lambda r: r.wall)
    return records
