"""The six invariants of DESIGN.md, each an `Invariant` over the index: it returns the anomalies it proves.

`INVARIANTS` runs them in report order. Detection returns anomalies only; the facts the statistics need
(job fates, request flows, request/job pairings) come from the helpers shared here, never from a verdict.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from harness.judge.history import ASYNC_OPS, FINISHED, PROXY_TIMEOUT_CODES, TERMINAL, Record
from harness.judge.index import Index, Obs
from harness.judge.params import CheckParams
from harness.judge.transitions import ACTIVE, SAME_ATTEMPT, rank, terminal_of, violation


@dataclass(frozen=True)
class Anomaly:
    """One broken invariant, with the history lines that prove it and the faults in force around them."""

    kind: str
    job_id: str | None
    message: str
    evidence: tuple[Record, ...]
    during: tuple[str, ...] = ()


Invariant = Callable[[Index, CheckParams], list[Anomaly]]
Pairing = dict[str, dict[str, Record]]


def check_lost(ix: Index, params: CheckParams) -> list[Anomaly]:
    """Invariant 1 (and the "never loses" half of 6): every acknowledged job meets its deadline (see `job_fate`)."""
    found = (job_fate(ix, job_id, ack, params.deadline_s)[1] for job_id, ack in ix.acks.items())
    return [a for a in found if a is not None]


def job_fate(ix: Index, job_id: str, ack: Record, deadline_s: float) -> tuple[str, Anomaly | None]:
    """The fate of one acknowledged job, and the anomaly it proves if any.

    The deadline runs from the acknowledgment (the first `ok` initiate's completion). A job is `lost` when
    it was refused as unknown (error `unknown_job`, per the target's profile) after its acknowledgment, or
    seen unfinished by an observation invoked after its deadline and never seen finished; `late` when seen
    unfinished after the deadline but finished later.
    A job never seen finished and never looked at after its deadline is not judged: `pending` if the history
    ends before the deadline, `unobserved` otherwise (nobody looked: give clients a longer deadline).
    """
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
    if finished is not None:
        return terminal_of(finished) or "finished", None
    return ("pending" if ix.end_wall < due else "unobserved"), None


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
        if budget_s is None or flow == "legacy" or rec.type == "info":
            continue
        took = _took(ix, rec)
        if took is not None and took > budget_s:
            what = "first event" if rec.op == "stream" else "answer"
            msg = f"{rec.op} {what} took {took:.3f} s > budget {budget_s:g} s ({rec.source})"
            found.append(Anomaly("over_budget", rec.job_id, msg, (rec,)))
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
)
