"""The six invariants of DESIGN.md, each an `Invariant` over the index: it returns the anomalies it proves.

`INVARIANTS` runs them in report order. The index has already seen every record once; an invariant reads the
summary it kept and returns `Finding`s: anomalies whose evidence is still a set of refs, worded once the lines
are read back (`verdict`). Detection returns findings only; the facts the statistics need (job fates, the
request/job pairings) come from the helpers shared here, never from a verdict.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from harness.judge.history import Record
from harness.judge.index import Index, Job, Stall
from harness.judge.params import STALL_SLACK_S, CheckParams
from harness.judge.sweep import Found, ordered


@dataclass(frozen=True)
class Anomaly:
    """One broken invariant, with the history lines that prove it and the faults in force around them."""

    kind: str
    job_id: str | None
    message: str
    evidence: tuple[Record, ...]
    during: tuple[str, ...] = ()


Lines = Mapping[int, Record]


class Finding(NamedTuple):
    """An anomaly whose evidence lines (refs) are not read yet; `say` words it from them (and from `cites`)."""

    kind: str
    job_id: str | None
    evidence: tuple[int, ...]
    say: Callable[[Lines], str]
    cites: tuple[int, ...] = ()

    def anomaly(self, lines: Lines) -> Anomaly:
        return Anomaly(self.kind, self.job_id, self.say(lines), tuple(lines[ref] for ref in self.evidence))


Invariant = Callable[[Index, CheckParams], list[Finding]]


def check_lost(ix: Index, params: CheckParams) -> list[Finding]:
    """Invariant 1 (and the "never loses" half of 6): every acknowledged job meets its deadline (see `job_fate`)."""
    found = (job_fate(ix, job_id, params)[1] for job_id in ix.acks)
    return [f for f in found if f is not None]


def job_fate(ix: Index, job_id: str, params: CheckParams) -> tuple[str, Finding | None]:
    """The fate of one acknowledged job, and the anomaly it proves if any.

    The deadline runs from the acknowledgment (the first `ok` initiate's completion). A job is `lost` when
    it was refused as unknown (error `unknown_job`, per the target's profile) after its acknowledgment, or
    seen unfinished by an observation invoked after its deadline and never seen finished; `late` when seen
    unfinished after the deadline but finished later, or when one running attempt showed no change for longer
    than its expected work and the stall recovery allow (`stalled`).
    A job never seen finished and never looked at after its deadline is not judged: `pending` if the history
    ends before the deadline, `unobserved` otherwise (nobody looked: give clients a longer deadline).
    """
    deadline_s = params.deadline_s
    job = ix.jobs[job_id]
    assert job.ack is not None
    ack_wall, ack = job.ack
    finished = _finished(job)
    if job.gone is not None and job.gone[0] > ack_wall:
        gone = job.gone[1]

        def unknown(r: Lines) -> str:
            return f"acknowledged at {r[ack].source}, then unknown (answered {r[gone].http_status})"

        return "lost", Finding("lost_job", job_id, (ack, gone), unknown)
    if job.late is not None:
        late, cited = job.late, () if finished is None else (finished[1],)

        def still(r: Lines) -> str:
            what = f"finished only at {r[cited[0]].source}" if cited else "never seen finished"
            return f"still {r[late].status} at {r[late].source}, after its {deadline_s:g} s deadline; {what}"

        kind = "deadline_missed" if finished else "lost_job"
        return ("late" if finished else "lost"), Finding(kind, job_id, (ack, late), still, cited)
    if (stuck := stalled(ix, job_id, params)) is not None:
        return "late", stuck
    if finished is not None:
        return finished[2], None
    return ("pending" if ix.end_wall < ack_wall + deadline_s else "unobserved"), None


def stalled(ix: Index, job_id: str, params: CheckParams) -> Finding | None:
    """The stall rule: a running attempt seen with no change for longer than the job's expected work (on the
    clock) plus the stall recovery, the fault windows it overlapped (a dead worker is not replaced before its
    window ends) and STALL_SLACK_S, is `deadline_missed`. A stretch that overlapped a fault on anything but a
    worker (Redis down, the network cut) is not judged: the service could not move. Judged only when the job's
    expected work is known (its initiate's `expect_s`)."""
    job = ix.jobs[job_id]
    if job.stalls is None or job.expect is None or params.stall_s is None:
        return None
    work_s = job.expect * params.time_scale
    worst: tuple[float, Stall, float] | None = None
    for stall in job.stalls:
        overlaps = [
            (target, min(stall.until, closed if closed is not None else stall.until) - max(stall.since, opened))
            for target, opened, closed in _windows_met(ix, stall.since, stall.until)
        ]
        if any(not target.startswith("worker") for target, _ in overlaps):
            continue
        allowed = work_s + params.stall_s + STALL_SLACK_S + sum(max(0.0, s) for _, s in overlaps)
        excess = stall.until - stall.since - allowed
        if excess > 0 and (worst is None or excess > worst[0]):
            worst = (excess, stall, allowed)
    if worst is None:
        return None
    _, stall, allowed = worst
    first, last = stall.first, stall.last

    def stuck(r: Lines) -> str:
        seen = r[first]
        return (
            f"{seen.status} (attempt {seen.attempts}, progress {seen.progress}) with no change from {seen.source} "
            f"to {r[last].source}: {stall.until - stall.since:.1f} s, beyond the {allowed:.1f} s its "
            f"{job.expect:g} s of work, the stall recovery and the faults it met allow"
        )

    return Finding("deadline_missed", job_id, (first, last), stuck)


def _finished(job: Job) -> tuple[float, int, str] | None:
    """The earliest record proving the job finished: an observation, else (later) a terminal SSE event."""
    seen, event = job.ended, job.ended_event
    if event is not None and (seen is None or event[0] < seen[0]):
        return event
    return seen


def check_order(ix: Index, params: CheckParams) -> list[Finding]:
    """Invariant 2, in real time across clients (the sweep, `sweep`) and event by event along each SSE follower."""
    found: list[Finding] = []
    for job_id in ix.observed:
        track = ix.jobs[job_id].track
        found += _first_per_kind(job_id, track.found if track is not None else None)
    for follower in ix.followers.values():
        found += _first_per_kind(follower.job_id, follower.found)
    return found


def _first_per_kind(job_id: str | None, found: Found | None) -> list[Finding]:
    """One anomaly per job and kind (the first proof), counting the others, so a report stays readable."""
    out = []
    for kind, count, x, y in ordered(found):
        refs = (x[3], y[3])

        def steps(r: Lines, refs: tuple[int, int] = refs, count: int = count) -> str:
            said = (f"{r[n].status}(attempts={r[n].attempts}, progress={r[n].progress}) at {r[n].source}" for n in refs)
            return f"{' then '.join(said)} ({count} such pair(s) for this job)"

        out.append(Finding(kind, job_id, refs, steps))
    return out


def _about(say: Callable[[Record], str], ref: int) -> Callable[[Lines], str]:
    """A finding worded from its one evidence line."""
    return lambda lines: say(lines[ref])


def _said(message: str) -> Callable[[Lines], str]:
    """A finding worded before its lines are read."""
    return lambda lines: message


def check_identity(ix: Index, params: CheckParams) -> list[Finding]:
    """Invariant 3: one clientRequestId <-> one jobId, and every downloaded artifact matches its checksum."""
    found = [
        Finding("checksum_mismatch", job_id, (ref,), _about(_mismatch, ref)) for job_id, ref in ix.checksum_findings
    ]
    for crid, by_job in ix.requested.items():
        if isinstance(by_job, dict):
            msg = f"clientRequestId {crid!r} got {len(by_job)} jobs: {', '.join(by_job)}"
            found.append(Finding("duplicate_job", next(iter(by_job)), tuple(by_job.values()), _said(msg)))
    for job_id in ix.answered:
        by_request = ix.jobs[job_id].answers or {}
        if len(by_request) > 1:
            msg = f"job answered for {len(by_request)} clientRequestIds: {', '.join(by_request)}"
            found.append(Finding("shared_job", job_id, tuple(by_request.values()), _said(msg)))
    return found


def check_artifacts(ix: Index, params: CheckParams) -> list[Finding]:
    """A completed job's artifact can be fetched: a download asked after the job was seen completed that is
    refused (not ready, not found) or leads to a URL that answers no artifact is `artifact_unreachable`. One that
    got no HTTP answer at all (refused, cut) while a fault was in force is the fault's doing, not judged."""
    found = []
    for invoked, answered, job_id, ref, unanswered in ix.download_failures:
        finished = _finished(ix.jobs[job_id]) if job_id in ix.jobs else None
        if unanswered and _during_fault(ix, invoked, answered):
            continue
        if finished is not None and finished[2] == "completed" and finished[0] <= invoked:
            found.append(Finding("artifact_unreachable", job_id, (ref, finished[1]), _unreachable(ref, finished[1])))
    return found


def _unreachable(ref: int, seen: int) -> Callable[[Lines], str]:
    def say(lines: Lines) -> str:
        rec = lines[ref]
        answer = rec.http_status or rec.error
        return f"{rec.op} answered {answer} ({rec.source}) after the job was seen completed ({lines[seen].source})"

    return say


def check_ghosts(ix: Index, params: CheckParams) -> list[Finding]:
    """Every job the service created was told to a client. An initiate with no definite answer (a timeout, a cut
    connection, a 503 that may follow a write its dependency timed out on) may have made a job its client never
    learns of; beyond those, a job an observer found in the service's store that no answer ever named (made by
    an initiate answered 500...) is a `ghost_job`."""
    unknown = [(job_id, ref) for job_id, ref in ix.created if job_id not in ix.jobs]
    excess = len(unknown) - ix.cut_initiates
    say = f"the service holds {len(unknown)} job(s) no client was ever told of, {ix.cut_initiates} explained by "
    say += "initiates with no definite answer"
    return [Finding("ghost_job", job_id, (ref,), _said(f"{say}: {job_id} is one")) for job_id, ref in unknown[:excess]]


LEAK_MIN = 5  # the least growth beyond the load's peak that counts as a leak, not the noise of reconnections


def check_resources(ix: Index, params: CheckParams) -> list[Finding]:
    """What a run holds once its load has drained comes back near what it held before. A connection pool may
    keep what its busiest moment needed (at most one connection per client request in flight at once), so a
    sampled figure (Redis clients...) is a `resource_leak` when it grew by more than that peak plus its first
    value (at least LEAK_MIN): more than reconnecting everything and the load's busiest moment could need."""
    found = []
    peak = ix.peak_in_flight
    for what, ((first, first_ref), (last, last_ref)) in ix.samples.items():
        if last - first > max(LEAK_MIN, first) + peak:
            say = _said(f"{what} {first} -> {last} once the load had drained (at most {peak} requests in flight)")
            found.append(Finding("resource_leak", None, (first_ref, last_ref), say))
    return found


def _mismatch(rec: Record) -> str:
    return f"artifact bytes do not hash to the status checksum ({rec.source})"


def duplicated(ix: Index) -> int:
    """How many clientRequestIds were answered with more than one job."""
    return sum(1 for by_job in ix.requested.values() if isinstance(by_job, dict))


DEPENDENCIES = frozenset({"redis"})  # a fault on one of these should meet a fast failure (503), never a hang


def check_requests(ix: Index, params: CheckParams) -> list[Finding]:
    """Invariant 4: no proxy timeout in the async flow (on the legacy endpoint only if strict), none over budget,
    no 5xx of the service's own other than a 503, and no request left unanswered past its budget while a
    dependency (Redis) was down: the service must fail fast instead of hanging."""
    slow = functools.partial(_over_budget, budget_s=params.budget_s or 0.0)
    found = [
        Finding(kind, job_id, (ref,), _about(slow if kind == "over_budget" else _cut, ref))
        for kind, job_id, ref in ix.request_findings
    ]
    hung = functools.partial(_hung, budget_s=params.budget_s or 0.0)
    for invoked, answered, job_id, ref in ix.unanswered:
        if _during_fault(ix, invoked, answered, DEPENDENCIES):
            found.append(Finding("hung_request", job_id, (ref,), _about(hung, ref)))
    return found


def _during_fault(ix: Index, start: float, end: float, targets: frozenset[str] | None = None) -> bool:
    """Whether a fault window (on one of `targets`, or any) overlapped [start, end]; an open window runs on."""
    return any(targets is None or target in targets for target, _, _ in _windows_met(ix, start, end))


def _windows_met(ix: Index, start: float, end: float) -> Iterator[tuple[str, float, float | None]]:
    """The fault windows (target, opened, closed) that overlapped [start, end]; an open window runs on."""
    for target, opened, closed in ix.spans.values():
        if opened <= end and (closed is None or closed >= start):
            yield target, opened, closed


def _hung(rec: Record, budget_s: float) -> str:
    return (
        f"{rec.op} got {rec.http_status or 'no answer'} after {rec.latency_s or 0:.3f} s (budget {budget_s:g} s) "
        f"while a dependency was down: a hang, not a fast 503 ({rec.source})"
    )


def _cut(rec: Record) -> str:
    return f"{rec.op} answered {rec.http_status} after {rec.latency_s or 0:.3f} s ({rec.source})"


def _over_budget(rec: Record, budget_s: float) -> str:
    took, what = (rec.first_event_s, "first event") if rec.op == "stream" else (rec.latency_s, "answer")
    return f"{rec.op} {what} took {took or 0:.3f} s > budget {budget_s:g} s ({rec.source})"


def check_streams(ix: Index, params: CheckParams) -> list[Finding]:
    """Invariant 5: ids strictly increase within a follower (across resumes), one terminal event per follower,
    and no gap between received bytes reaches the chain's smallest idle timer."""
    found: list[Finding] = []
    for name, follower in ix.followers.items():
        if follower.id_break is not None:
            before, ref, last, job_id = follower.id_break
            found.append(Finding("sse_id_order", job_id, (before, ref), _id_break(before, ref, last)))
        terminals = follower.terminals
        if len(terminals) > 1 or (not terminals and ix.ended.get(name, False)):
            msg = f"follower {name} got {len(terminals)} terminal events"
            found.append(
                Finding("sse_terminal_count", follower.job_id, tuple(terminals) or (follower.last,), _said(msg))
            )
    gap = functools.partial(_gap, idle_timer_s=params.idle_timer_s or 0.0)
    found += [Finding("sse_gap", job_id, (ref,), _about(gap, ref)) for job_id, ref in ix.gap_findings]
    for invoked, closed_at, job_id, ref in ix.early_closes:
        if not _during_fault(ix, invoked, closed_at):
            found.append(Finding("sse_early_close", job_id, (ref,), _about(_early, ref)))
    bound = params.idle_timer_s or 0.0
    for gave_up, job_id, ref in ix.given_up:
        finished = _finished(ix.jobs[job_id]) if job_id in ix.jobs else None
        if finished is not None and finished[0] < gave_up - bound:
            say = _missing(ref, finished[1], finished[2])
            found.append(Finding("sse_missing_terminal", job_id, (ref, finished[1]), say))
    for name, closes in ix.server_closes.items():
        calm = [
            (ref, job_id) for invoked, closed_at, job_id, ref in closes if not _during_fault(ix, invoked, closed_at)
        ]
        if len(calm) > RECONNECT_STORM:
            say = _said(f"follower {name}: the server closed {len(calm)} of its streams before the terminal event "
                        "with no fault in force; its client reconnected each time (a reconnection storm)")  # fmt: skip
            found.append(Finding("sse_reconnect_storm", calm[0][1], (calm[0][0], calm[-1][0]), say))
    return found


RECONNECT_STORM = 5  # server-closed streams one follower may see with no fault in force before it is a storm


def _early(rec: Record) -> str:
    return f"the server closed the stream after at most one event, none terminal, with no fault in force ({rec.source})"


def _missing(ref: int, seen: int, state: str) -> Callable[[Lines], str]:
    def say(lines: Lines) -> str:
        done, stream = lines[seen], lines[ref]
        return (
            f"the stream was still open {stream.wall - done.wall:.2f} s after the job was seen {state} "
            f"({done.source}) and never delivered it ({stream.source})"
        )

    return say


def _id_break(before: int, ref: int, last: object) -> Callable[[Lines], str]:
    def say(lines: Lines) -> str:
        return f"event id {lines[ref].event_id} after id {last} ({lines[before].source} then {lines[ref].source})"

    return say


def _gap(rec: Record, idle_timer_s: float) -> str:
    return f"{rec.max_gap_s:.3f} s without a byte >= idle timer {idle_timer_s:g} s ({rec.source})"


def check_cancels(ix: Index, params: CheckParams) -> list[Finding]:
    """Invariant 6: a job that no client asked to cancel never ends `cancelled` (disconnects are not cancels)."""
    found: dict[str, int] = {}
    for job_id in ix.observed:
        job = ix.jobs[job_id]
        if job.cancel_seen is not None and not job.cancelled_by_client:
            found.setdefault(job_id, job.cancel_seen)
    for follower in ix.followers.values():
        for job_id, ref in follower.cancels:
            if job_id and not ix.jobs[job_id].cancelled_by_client:
                found.setdefault(job_id, ref)
    return [Finding("unexpected_cancel", job_id, (ref,), _about(_cancelled, ref)) for job_id, ref in found.items()]


def _cancelled(rec: Record) -> str:
    return f"cancelled though no client sent a cancel ({rec.source})"


# Report order: the anomalies of a verdict come invariant by invariant, in this order.
INVARIANTS: tuple[Invariant, ...] = (
    check_lost,
    check_order,
    check_identity,
    check_requests,
    check_streams,
    check_cancels,
    check_artifacts,
    check_resources,
    check_ghosts,
)
