"""The index over a merged history: what the invariants and the statistics look up, built in one streaming pass.

Concurrency is judged as Jepsen does: an observation holds at some instant between its invocation and
its completion, so two observations are ordered only when one completed before the other was invoked.
SSE events are ordered within their follower (the server's event order) but not against polls, because a
resumed stream replays old events; only a stream's `snapshot` is compared in real time.

Memory: the index keeps a summary per job, per SSE follower and per clientRequestId, the streams still open,
and the lines that prove an anomaly, each as a ref (`reader`) read back at the end; never the history. The
checks on one record alone (a request cut by a proxy or over budget, a bad checksum, an SSE gap) are noted as
the record goes by, for their invariant to report.
A job's stall: the longest stretch its polls saw one running attempt with no visible change (same status, attempts
and progress): from the first such observation's completion to the last one's invocation, so it surely lasted that
long; or the silence of an open SSE connection after an event of a running attempt, until its next event. A
stretch longer than the job's expected work plus the declared stall recovery is kept (rarely more than one per
job) and judged at the end against the fault windows (`invariants.job_fate`).
A record is seen once, in merged order (its `wall` time). An SSE event's connection is the latest stream invoke
seen with its `op_id`, until that stream's completion (History writes a connection's invoke, then its events,
then its completion, under one op_id unique to it).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any, NamedTuple

from harness.judge import sweep
from harness.judge.facts import OUTCOMES
from harness.judge.history import ASYNC_OPS, FINISHED, PROXY_TIMEOUT_CODES, TERMINAL, UNKNOWN_JOB, Record
from harness.judge.params import STALL_SLACK_S, CheckParams
from harness.judge.reader import Entry, MemorySource, RecordLike
from harness.judge.sweep import Found, Seen, Track, count_pair
from harness.judge.transitions import ACTIVE, violation_of

# Answers that show the job's state now; an initiate's is left out (a repeat may echo "queued").
FOLLOWED_OPS = frozenset({"status", "cancel", "download", "legacy_start"})
STARTS = frozenset({"initiate", "legacy_start"})


class Job:
    """What one job's records showed: its acknowledgment, how it was seen to end, its real-time order."""

    __slots__ = (
        *("ack", "answers", "cancel_seen", "cancelled_by_client", "early", "ended", "ended_event"),
        *("expect", "gone", "late", "observed", "run", "stalls", "track"),
    )

    def __init__(self) -> None:
        self.ack: tuple[float, int] | None = None  # (wall, ref) of the first `ok` initiate
        self.gone: tuple[float, int] | None = None  # (invoked at, ref) of the first unknown_job answer
        self.late: int | None = None  # the first observation invoked after the deadline, still unfinished
        self.early: list[tuple[float, int]] | None = None  # unfinished observations that may be late, before the ack
        self.ended: tuple[float, int, str] | None = None  # the earliest finished observation: (wall, ref, state)
        self.ended_event: tuple[float, int, str] | None = None  # the earliest terminal SSE event
        self.cancel_seen: int | None = None  # the first observation of a cancelled end
        self.cancelled_by_client = False
        self.observed = False
        self.track: Track | None = None
        self.answers: dict[str, int] | None = None  # clientRequestId -> first answered start
        self.expect: float | None = None  # the expected work of the acknowledged initiate (modelled seconds)
        self.run: tuple[Any, float, int] | None = None  # (status, attempts, progress), first end, ref: the stretch
        self.stalls: list[Stall] | None = None  # stretches longer than the stall recovery alone allows


class Stall(NamedTuple):
    """A stretch of one running attempt with no visible change: surely held from `since` to `until` (wall s)."""

    since: float
    until: float
    first: int
    last: int
    stream: bool = False  # seen as an open stream's silence (not as polls showing no change)


class Follower:
    """One SSE follower (its events, across resumes): order along it, its ids, its terminal events."""

    __slots__ = ("cancels", "found", "id_break", "id_last", "job_id", "last", "live", "prev", "terminals")

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id  # its first event's job
        self.prev: tuple[Any, Any, Any, int] | None = None  # the previous event's status, attempts, progress, ref
        self.found: Found | None = None
        self.id_last: tuple[str, Any, int] | None = None  # (op_id, last id, ref) of the record ids follow on
        self.id_break: tuple[int, int, Any, str | None] | None = None  # (ref before, ref, id before, job) of the break
        self.terminals: list[int] = []
        self.last = 0
        self.cancels: list[tuple[str, int]] = []  # (job, ref) of events showing a cancelled end
        self.live: tuple[str, float, int] | None = None  # (op_id, wall, ref) of its last event, if of a running attempt


UNARY_OPS = ASYNC_OPS - {"stream"}  # one answer each (a stream's silence is judged by its gaps)


class Index:
    """Everything the invariants and the statistics look up; `feed` it the merged history a block at a time."""

    def __init__(self, params: CheckParams) -> None:
        self.params = params
        self.jobs: dict[str, Job] = {}
        self.acks: list[str] = []  # jobs in acknowledgment order
        self.observed: list[str] = []  # jobs in the order of their first observation
        self.answered: list[str] = []  # jobs in the order of their first answered start with a clientRequestId
        self.followers: dict[str, Follower] = {}
        self.ended: dict[str, bool] = {}  # per follower (or connection): whether its last connection ended it
        self.open: dict[str, list[Any]] = {}  # stream op_id -> [wall, last_event_id, ref, invokes not completed]
        self.requested: dict[str, Any] = {}  # clientRequestId -> (job, ref) or {job: ref} of its answered starts
        self.windows: dict[tuple[Any, Any], int] = {}  # (fault, start_mono) -> ref of its latest form
        self.request_findings: list[tuple[str, str | None, int]] = []  # (kind, job, ref) in completion order
        # Async requests with no definite answer within the budget (a client timeout, a late 5xx): (invoke wall,
        # wall, job, ref).
        # A hang is the service's when a dependency's fault was in force (a Redis outage should fail fast).
        self.unanswered: list[tuple[float, float, str | None, int]] = []
        self.spans: dict[tuple[Any, Any], tuple[str, float, float | None]] = {}  # window -> (target, start, end)
        self.conn_events: dict[str, int] = {}  # events per open stream connection (op_id)
        # Stream connections the server closed after at most one event, no terminal one: (invoke, wall, job, ref).
        self.early_closes: list[tuple[float, float, str | None, int]] = []
        # Per follower, its connections the server closed before a terminal event: [(invoke, wall, job, ref)].
        self.server_closes: dict[str, list[tuple[float, float, str | None, int]]] = {}
        # Stream connections the client ended unanswered (its deadline or read timeout): (wall, job, ref).
        self.given_up: list[tuple[float, str | None, int]] = []
        # Downloads refused or broken (a definite failure): (invoke wall, wall, job, ref, no HTTP answer at all).
        self.download_failures: list[tuple[float, float, str, int, bool]] = []
        self.samples: dict[str, tuple[tuple[int, int], tuple[int, int]]] = {}  # what -> first, last (value, ref)
        self.created: list[tuple[str, int]] = []  # jobs the service holds, listed by an observer: (job, ref)
        self.unavailable = [0, 0, -1]  # 503s of the async flow, those without Retry-After, the first one's ref
        self.cut_initiates = 0  # initiates with no definite answer (lost, or a 503): each may have made a job
        self.in_flight = self.peak_in_flight = 0  # client requests open at once (a pool never needs more)
        self.checksum_findings: list[tuple[str | None, int]] = []
        self.gap_findings: list[tuple[str | None, int]] = []
        self.end_wall = 0.0  # the latest wall time of the history (set from the facts when the pass ends)
        self.observations = 0
        self.logged: list[Track] = []  # the tracks whose undo log holds changes
        self._trim_at = float("-inf")

    @classmethod
    def build(cls, records: Sequence[Record], params: CheckParams) -> Index:
        """The index of records already in memory (merged, as read_history returns them)."""
        ix = cls(params)
        for block in MemorySource(records).blocks():
            ix.feed(block)
        return ix

    def job(self, job_id: str) -> Job:
        job = self.jobs.get(job_id)
        if job is None:
            job = self.jobs[job_id] = Job()
        return job

    def feed(self, block: list[Entry]) -> None:
        """Take the next records of the merged history (the hot loop: one branch per record type)."""
        end_wall, open_ops = self.end_wall, self.open
        for wall, ref, rec in block:
            if wall > end_wall:
                end_wall = wall
            kind = rec.type
            if kind == "invoke":
                self.in_flight += 1
                if self.in_flight > self.peak_in_flight:
                    self.peak_in_flight = self.in_flight
                op = rec.op
                if op == "stream":
                    opened(open_ops, wall, ref, rec)
                elif op == "cancel" and rec.job_id:
                    self.job(rec.job_id).cancelled_by_client = True
            elif kind in OUTCOMES:
                self.in_flight -= 1
                self._completion(wall, ref, rec)
            elif kind == "event":
                if rec.job_id:
                    self._event(wall, ref, rec)
            elif kind == "sample" and rec.job_id:
                self.created.append((rec.job_id, ref))
            elif kind == "sample":
                seen = (rec.size or 0, ref)
                self.samples[rec.op] = (self.samples.get(rec.op, (seen, seen))[0], seen)
            elif kind == "fault":
                key = (rec.fault, rec.start_mono)
                if key not in self.windows or rec.end_mono is not None:
                    self.windows[key] = ref
                    self.spans[key] = (rec.target or "", rec.start_wall or wall, rec.end_wall)
        self.end_wall = end_wall
        if end_wall > self._trim_at:
            self._trim(end_wall)

    def _completion(self, wall: float, ref: int, rec: RecordLike) -> None:
        op, outcome, latency, job_id = rec.op, rec.type, rec.latency_s, rec.job_id
        if rec.http_status in PROXY_TIMEOUT_CODES and (op in ASYNC_OPS or self.params.legacy_strict):
            kind = "proxy_timeout" if op in ASYNC_OPS else "legacy_proxy_timeout"
            self.request_findings.append((kind, job_id, ref))
        elif (code := rec.http_status) is not None and code >= 500 and code != 503 and op in ASYNC_OPS:
            self.request_findings.append(("server_error", job_id, ref))  # the service's own 5xx: not a fast 503
        elif code == 503 and op in ASYNC_OPS:
            held = self.unavailable
            held[0] += 1
            if rec.retry_after is False:
                held[1] += 1
                if held[2] < 0:
                    held[2] = ref
        budget_s = self.params.budget_s
        if budget_s is not None and outcome != "info" and op in ASYNC_OPS:
            took = latency if op != "stream" else self._first_event(rec)
            if took is not None and took > budget_s:
                self.request_findings.append(("over_budget", job_id, ref))
        elif budget_s is not None and outcome == "info" and op in UNARY_OPS and (latency or 0.0) >= budget_s:
            self.unanswered.append((wall - (latency or 0.0), wall, job_id, ref))  # a timeout, or a late 503/5xx
        if rec.checksum_ok is False:
            self.checksum_findings.append((job_id, ref))
        if op == "stream":
            self._stream_done(ref, rec)
        elif (
            op == "initiate"
            and outcome == "info"
            and (rec.error in ("timeout", "disconnected") or rec.http_status == 503)
        ):
            self.cut_initiates += 1  # its outcome is unknown: a 503 may come after the write (a dependency timeout)
        elif op in ("download", "artifact") and outcome == "fail" and job_id and rec.checksum_ok is not False:
            self.download_failures.append((rec.invoke_wall, wall, job_id, ref, rec.http_status is None))
        if job_id:
            if outcome != "info" and op in FOLLOWED_OPS and rec.status:
                self._observe(job_id, wall - (latency or 0.0), wall, ref, rec)
            elif outcome == "ok" and op == "initiate" and self.job(job_id).ack is None:
                self._ack(job_id, wall, ref, rec.expect_s)
            if rec.error == UNKNOWN_JOB:
                job = self.job(job_id)
                if job.gone is None:
                    job.gone = (rec.invoke_wall, ref)
            if outcome == "ok" and op in STARTS and rec.client_request_id:
                self._pair(job_id, rec.client_request_id, ref)

    def _first_event(self, rec: RecordLike) -> float | None:
        """A stream's answer time: its first event's, unless it resumed (then its gaps are judged instead)."""
        opened = self.open.get(rec.op_id)
        return None if opened is None or opened[1] is not None else rec.first_event_s

    def _stream_done(self, ref: int, rec: RecordLike) -> None:
        self.ended[rec.follower or rec.op_id] = rec.type == "ok" or rec.error == "eof_before_terminal"
        events = self.conn_events.pop(rec.op_id, 0)
        if rec.error == "eof_before_terminal":
            closes = (rec.invoke_wall, rec.wall, rec.job_id, ref)
            self.server_closes.setdefault(rec.follower or rec.op_id, []).append(closes)
            if events <= 1:
                self.early_closes.append(closes)
        elif rec.error in ("deadline", "timeout") and rec.http_status == 200:
            self.given_up.append((rec.wall, rec.job_id, ref))
        idle_timer_s = self.params.idle_timer_s
        if idle_timer_s is not None and (rec.max_gap_s or 0) >= idle_timer_s:
            self.gap_findings.append((rec.job_id, ref))
        held = self.open.get(rec.op_id)
        if held is not None:
            closed(self.open, rec.op_id, held)

    def _ack(self, job_id: str, wall: float, ref: int, expect_s: float | None) -> None:
        job = self.jobs[job_id]
        job.ack, job.expect = (wall, ref), expect_s
        self.acks.append(job_id)
        due = wall + self.params.deadline_s
        for start, seen in job.early or ():
            if start > due:
                job.late = seen
                break
        job.early = None

    def _pair(self, job_id: str, crid: str, ref: int) -> None:
        """Answered starts both ways: jobs per clientRequestId, clientRequestIds per job (first answer each)."""
        held = self.requested.get(crid)
        if held is None:
            self.requested[crid] = (job_id, ref)
        elif isinstance(held, tuple):
            if held[0] != job_id:
                self.requested[crid] = {held[0]: held[1], job_id: ref}
        else:
            held.setdefault(job_id, ref)
        job = self.job(job_id)
        if job.answers is None:
            job.answers = {crid: ref}
            self.answered.append(job_id)
        else:
            job.answers.setdefault(crid, ref)

    def _observe(self, job_id: str, start: float, end: float, ref: int, rec: RecordLike) -> None:
        """A status observation of `job_id`, held at some instant in [start, end] (wall seconds)."""
        job = self.job(job_id)
        status = rec.status
        state = status if status in FINISHED else rec.event if rec.event in TERMINAL else None
        if not job.observed:
            job.observed = True
            self.observed.append(job_id)
        if state is not None:
            job.run = None
            if job.ended is None or end < job.ended[0]:
                job.ended = (end, ref, state)
            if state == "cancelled" and job.cancel_seen is None:
                job.cancel_seen = ref
        else:
            if status in ACTIVE and rec.attempts is not None and self.params.stall_s is not None:
                self._stretch(job, (status, rec.attempts, rec.progress), start, end, ref)
            else:
                job.run = None
            if job.late is None:
                if job.ack is not None:
                    if start > job.ack[0] + self.params.deadline_s:
                        job.late = ref
                elif start > end + self.params.deadline_s:  # may be late whenever it is acknowledged
                    job.early = [*(job.early or ()), (start, ref)]
        track = job.track
        if track is None:
            track = job.track = Track()
        track.observe(self.observations, start, end, (status, rec.attempts, rec.progress, ref))
        self.observations += 1
        if track.log and not track.listed:
            track.listed = True
            self.logged.append(track)

    def _stretch(self, job: Job, seen: tuple[Any, Any, Any], start: float, end: float, ref: int) -> None:
        """One more observation of a running attempt: it extends the job's stretch when it shows no change."""
        run = job.run
        if run is None or run[0] != seen:
            job.run = (seen, end, ref)
            return
        if start - run[1] <= (self.params.stall_s or 0.0) + STALL_SLACK_S:
            return
        self._stall(job, Stall(run[1], start, run[2], ref))

    @staticmethod
    def _stall(job: Job, stall: Stall) -> None:
        """Keep a stretch that outlasted the stall recovery alone (one entry per stretch: its longest form)."""
        stalls = job.stalls
        if stalls is None:
            job.stalls = [stall]
            return
        for i in range(len(stalls) - 1, -1, -1):
            if stalls[i].first == stall.first and stalls[i].stream == stall.stream:
                stalls[i] = stall  # the same stretch, longer
                return
        stalls.append(stall)

    def _event(self, wall: float, ref: int, rec: RecordLike) -> None:
        self.conn_events[rec.op_id] = self.conn_events.get(rec.op_id, 0) + 1
        job_id = rec.job_id or ""
        key = rec.follower or rec.op_id
        follower = self.followers.get(key)
        if follower is None:
            follower = self.followers[key] = Follower(job_id)
        seen = (rec.status, rec.attempts, rec.progress, ref)
        live = follower.live
        stall_s = self.params.stall_s
        if (
            live is not None
            and live[0] == rec.op_id
            and stall_s is not None
            and wall - live[1] > stall_s + STALL_SLACK_S
        ):
            self._stall(self.job(job_id), Stall(live[1], wall, live[2], ref, stream=True))  # a silent running attempt
        running = rec.status in ACTIVE and rec.attempts is not None
        follower.live = (rec.op_id, wall, ref) if running else None
        prev = follower.prev
        if prev is not None:
            kind = violation_of(prev[0], prev[1], prev[2], seen[0], seen[1], seen[2])
            if kind:
                follower.found = count_pair(follower.found, kind, (), prev, seen)
        follower.prev = seen
        if follower.id_break is None:
            self._id_order(follower, ref, rec)
        event = rec.event
        if event in TERMINAL:
            follower.terminals.append(ref)
        follower.last = ref
        state = rec.status if rec.status in FINISHED else event if event in TERMINAL else None
        if state is not None:
            if state == "cancelled":
                follower.cancels.append((job_id, ref))
            job = self.job(job_id)
            if job.ended_event is None or wall < job.ended_event[0]:
                job.ended_event = (wall, ref, state)
        if event == "snapshot":
            conn = self.open.get(rec.op_id)
            self._observe(job_id, wall if conn is None else conn[0], wall, ref, rec)

    def _id_order(self, follower: Follower, ref: int, rec: RecordLike) -> None:
        """Ids must increase along a follower, across resumes; a connection opened without Last-Event-ID starts
        afresh (and a resumed one follows on its Last-Event-ID when it is the follower's first)."""
        prev = follower.id_last
        if prev is None or rec.op_id != prev[0]:
            conn = self.open.get(rec.op_id)
            resumed = conn is not None and conn[1] is not None
            if not resumed:
                prev = None
            elif prev is None and conn is not None:
                prev = (rec.op_id, conn[1], conn[2])
        event_id = rec.event_id
        if prev is not None and prev[1] is not None and event_id is not None and event_id <= prev[1]:
            follower.id_break = (prev[2], ref, prev[1], rec.job_id)
            return
        follower.id_last = (rec.op_id, event_id, ref)

    def _trim(self, now: float) -> None:
        """Forget the undo logs older than the horizon, so the jobs no longer observed hold none."""
        for track in self.logged:
            track.trim(now - sweep.HORIZON_S)
            track.listed = bool(track.log)
        self.logged = [track for track in self.logged if track.listed]
        self._trim_at = now + sweep.HORIZON_S


def opened(open_ops: dict[str, list[Any]], wall: float, ref: int, rec: RecordLike) -> None:
    """An invoke: its op_id's connection is now this one (the latest invoke seen with it)."""
    held = open_ops.get(rec.op_id)
    if held is None:
        open_ops[rec.op_id] = [wall, rec.last_event_id, ref, 1]
    else:
        held[:] = [wall, rec.last_event_id, ref, held[3] + 1]


def closed(open_ops: dict[str, list[Any]], op_id: str, held: list[Any]) -> None:
    """A completion: its op_id is forgotten once every invoke with it has completed."""
    held[3] -= 1
    if held[3] <= 0:
        del open_ops[op_id]


def observations_of(blocks: Iterable[list[Entry]], jobs: Collection[str]) -> dict[str, list[tuple[float, float, Seen]]]:
    """Every status observation of `jobs` as (start, end, seen), in history order: a second pass for `sweep.exact`."""
    found: dict[str, list[tuple[float, float, Seen]]] = {job_id: [] for job_id in jobs}
    open_ops: dict[str, list[Any]] = {}
    for block in blocks:
        for wall, ref, rec in block:
            kind, job_id = rec.type, rec.job_id
            if kind == "invoke":
                if rec.op == "stream":
                    opened(open_ops, wall, ref, rec)
            elif kind == "event" and job_id in found and rec.event == "snapshot":
                conn = open_ops.get(rec.op_id)
                seen = (rec.status, rec.attempts, rec.progress, ref)
                found[job_id].append((wall if conn is None else conn[0], wall, seen))
            elif kind in OUTCOMES:
                if job_id in found and kind != "info" and rec.op in FOLLOWED_OPS and rec.status:
                    found[job_id].append((rec.invoke_wall, wall, (rec.status, rec.attempts, rec.progress, ref)))
                held = open_ops.get(rec.op_id) if rec.op == "stream" else None
                if held is not None:
                    closed(open_ops, rec.op_id, held)
    return found
