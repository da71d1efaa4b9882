"""Following an SSE stream the way a proxy sees it: bytes and the silences between them, then events.

Gaps are measured per received chunk, before parsing, so heartbeat comments count as bytes: what keeps a
proxy's idle timer from firing is any byte, not an event. The follower resumes a cut stream with
`Last-Event-ID` and records each connection as one `stream` operation, each event as an `event` line.
"""

from __future__ import annotations

import codecs
import functools
import itertools
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields

import httpx
from httpx_sse import ServerSentEvent

from harness.contract import V1, StreamOptions, classify_exception, classify_status
from harness.judge.history import TERMINAL, Invocation, Observed, Outcome, Recorder

_LINE = re.compile("\r\n|\r|\n")
V1_STREAM_REFUSAL = functools.partial(V1.refusal, "stream")  # a refused stream read the v1 way
_followers = itertools.count()


class SseParser:
    """An incremental text/event-stream parser (WHATWG rules); an event's `id` is its own, not inherited."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._tail = ""
        self._event, self._data, self._id = "", list[str](), ""
        self.comments = 0
        self.retry_ms: int | None = None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        text = self._tail + self._decoder.decode(chunk)
        hold_cr = text.endswith("\r")  # may be the first half of "\r\n"
        lines = _LINE.split(text[:-1] if hold_cr else text)
        self._tail = lines.pop() + ("\r" if hold_cr else "")
        return [event for line in lines if (event := self._line(line)) is not None]

    def _line(self, line: str) -> ServerSentEvent | None:
        if not line:  # a blank line ends the block; a block without data is not an event
            event = None
            if self._data:
                event = ServerSentEvent(event=self._event or "message", data="\n".join(self._data), id=self._id)
            self._event, self._data, self._id = "", [], ""
            return event
        if line.startswith(":"):
            self.comments += 1
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id" and "\0" not in value:
            self._id = value
        elif name == "retry" and value.isdigit():
            self.retry_ms = int(value)
        return None


@dataclass
class ByteGaps:
    """The largest silence on one connection, from sending the request to the last byte (or the cut)."""

    last: float
    max_gap: float = 0.0

    def tick(self, now: float) -> None:
        self.max_gap = max(self.max_gap, now - self.last)
        self.last = now


@dataclass(frozen=True)
class StreamResult:
    """What one follower saw over all its connections."""

    outcome: Outcome
    job_id: str
    follower: str
    events: tuple[ServerSentEvent, ...]
    terminal: str | None
    terminal_events: int
    connections: int
    heartbeats: int
    max_gap_s: float
    first_event_s: float | None
    last_event_id: int | None
    status: str | None
    http_status: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


@dataclass
class _State:
    """Mutable progress of one follower across its connections; named as in `StreamResult`."""

    job_id: str
    follower: str
    last_event_id: int | None
    events: list[ServerSentEvent] = field(default_factory=list)
    terminal: str | None = None
    terminal_events: int = 0
    connections: int = 0
    heartbeats: int = 0
    max_gap_s: float = 0.0
    first_event_s: float | None = None
    status: str | None = None
    retry_s: float | None = None
    outcome: Outcome = "info"
    http_status: int | None = None
    error: str | None = None

    def result(self) -> StreamResult:
        values = {f.name: getattr(self, f.name) for f in fields(StreamResult)}
        return StreamResult(**{**values, "events": tuple(self.events)})


@dataclass
class _Connection:
    """One HTTP connection of a follower: when it started, its byte gaps, its parser, its first event."""

    inv: Invocation
    start: float
    gaps: ByteGaps
    parser: SseParser = field(default_factory=SseParser)
    first_event_at: float | None = None
    http_status: int | None = None

    def observed(self) -> Observed:
        done: Observed = {"max_gap_s": round(self.gaps.max_gap, 6)}
        if self.http_status is not None:
            done["http_status"] = self.http_status
        if self.first_event_at is not None:
            done["first_event_s"] = round(self.first_event_at - self.start, 6)
        return done


class SseFollower:
    """Follows one job's stream to its terminal event, resuming cut connections; `observe` maps an event to
    the canonical fields recorded (see `harness.contract.ContractProfile.observe_event`)."""

    def __init__(
        self,
        http: httpx.Client,
        recorder: Recorder,
        process: str,
        observe: Callable[[ServerSentEvent], Observed],
        options: StreamOptions | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        *,
        resume: bool = True,
        refusal: Callable[[int], str | None] = V1_STREAM_REFUSAL,
    ) -> None:
        self._http, self._recorder, self._process, self._observe = http, recorder, process, observe
        self._options, self._sleep, self._clock = options or StreamOptions(), sleep, clock
        self._resume = resume  # False: the target cannot resume, so a reconnection starts a fresh stream
        self._refusal = refusal  # what a refused stream means (`ContractProfile.refusal`: an unknown job...)

    def follow(
        self,
        url: str,
        job_id: str,
        deadline: float,
        last_event_id: int | None = None,
        reconnect: bool = True,
        stop_after_events: int | None = None,
    ) -> StreamResult:
        """Follow until a terminal event, a definite refusal, `deadline` seconds, or `stop_after_events`
        events (a deliberate client disconnect, recorded as `info` "client_disconnect")."""
        state = _State(job_id, f"{self._process}/sse-{next(_followers)}", last_event_id)
        end = self._clock() + deadline
        while True:
            stop = self._connection(url, state, end, stop_after_events)
            out_of_time = self._clock() >= end or state.connections > self._options.max_reconnects
            if stop or not reconnect or out_of_time:
                return state.result()
            delay = self._options.reconnect_s if state.retry_s is None else state.retry_s
            self._sleep(max(0.0, min(delay, end - self._clock())))

    def _connection(self, url: str, state: _State, end: float, stop_after: int | None) -> bool:
        """One connection, recorded as one `stream` operation; returns whether following must stop."""
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-store"}
        seen: Observed = {"job_id": state.job_id, "follower": state.follower}
        if state.last_event_id is not None and self._resume:
            headers["Last-Event-ID"] = str(state.last_event_id)
            seen["last_event_id"] = state.last_event_id
        inv = self._recorder.invoke("stream", self._process, **seen)
        start = self._clock()
        conn = _Connection(inv, start, ByteGaps(start))
        state.connections += 1
        timeout = httpx.Timeout(max(0.001, min(self._options.idle_s, end - start)), connect=self._options.connect_s)
        try:
            with self._http.stream("GET", url, headers=headers, timeout=timeout) as resp:
                conn.gaps.tick(self._clock())
                conn.http_status = resp.status_code
                outcome, error, stop = self._consume(resp, conn, state, end, stop_after)
        except httpx.HTTPError as exc:
            conn.gaps.tick(self._clock())  # the silence that ended in the cut counts
            outcome, error = classify_exception(exc)
            error, stop = ("deadline" if self._clock() >= end else error), False
        state.heartbeats += conn.parser.comments
        state.max_gap_s = max(state.max_gap_s, conn.gaps.max_gap)
        state.retry_s = None if conn.parser.retry_ms is None else conn.parser.retry_ms / 1000
        if conn.first_event_at is not None and state.first_event_s is None:
            state.first_event_s = conn.first_event_at - start
        done = conn.observed()
        if error:
            done["error"] = error
        self._recorder.complete(inv, outcome, **done)
        state.outcome, state.http_status, state.error = outcome, conn.http_status, error
        return stop

    def _consume(
        self, resp: httpx.Response, conn: _Connection, state: _State, end: float, stop_after: int | None
    ) -> tuple[Outcome, str | None, bool]:
        """Read one response; (outcome, error, stop following). Events already received with a terminal one
        are still recorded, so a duplicate terminal event in the same write is seen."""
        if resp.status_code == 204:  # the server says nothing more will come (EventSource semantics): stop
            resp.read()
            return "info", "no_content", True
        if resp.status_code != 200:
            resp.read()
            outcome, error = classify_status(resp.status_code, (200,))
            if outcome == "fail":
                error = self._refusal(resp.status_code) or error
            return outcome, error, outcome == "fail"
        if "text/event-stream" not in resp.headers.get("content-type", ""):
            return "fail", "not_event_stream", True
        for chunk in resp.iter_bytes():
            now = self._clock()
            conn.gaps.tick(now)
            events = conn.parser.feed(chunk)
            if events and conn.first_event_at is None:
                conn.first_event_at = now
            if any([self._event(conn.inv, state, event) for event in events]):  # a list: record them all
                return "ok", None, True
            if stop_after is not None and len(state.events) >= stop_after:
                return "info", "client_disconnect", True
            if now >= end:
                return "info", "deadline", True
        return "fail", "eof_before_terminal", False

    def _event(self, inv: Invocation, state: _State, event: ServerSentEvent) -> bool:
        """Record one event; True when it is a terminal one."""
        seen = self._observe(event)
        self._recorder.event(inv, **seen)
        state.events.append(event)
        state.last_event_id = seen.get("event_id", state.last_event_id)
        state.status = seen.get("status", state.status)
        if seen.get("event") in TERMINAL:
            state.terminal, state.terminal_events = seen.get("event"), state.terminal_events + 1
            return True
        return False
