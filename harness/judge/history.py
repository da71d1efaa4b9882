"""Recorded operations: what each client saw and when, as JSONL that the checker and the reports read.

Every client operation is two lines, Jepsen style: an `invoke` when the request is about to be sent,
and one completion: `ok` (the service answered as the contract says), `fail` (it definitely did not
happen: refused, 4xx, never sent) or `info` (indeterminate: a timeout or a cut after sending, a 5xx
from a proxy). Both lines share `op_id`. SSE events seen on an open stream are `event` lines tied to
their connection's `op_id`; fault windows are `fault` lines. Status names are the canonical ones of
the v1 contract; clients translate other implementations' names before recording.

A `History` appends one whole line per `os.write` on an O_APPEND descriptor, so several threads (and
even processes) can share a file without interleaving; one file per process is still the norm, and
`read_history` merges files by wall time. Wall time orders records across processes and hosts;
monotonic time (`mono`, `latency_s`) measures durations.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal, Protocol, TypedDict, Unpack

from harness.core.closing import Closing
from harness.core.errors import HarnessError
from harness.judge.lines import numbered_blocks, open_history

RecordType = Literal["invoke", "ok", "fail", "info", "event", "fault"]
Outcome = Literal["ok", "fail", "info"]
OpKind = Literal["initiate", "status", "stream", "stream_event", "download", "artifact", "cancel", "legacy_start"]

TERMINAL = frozenset({"completed", "failed", "cancelled"})
FINISHED = TERMINAL | {"expired"}
PROXY_TIMEOUT_CODES = frozenset({502, 504, 524})
UNKNOWN_JOB = "unknown_job"  # the `error` of an answer that says the job does not exist (per the target's profile)
ASYNC_OPS = frozenset({"initiate", "status", "stream", "download", "artifact", "cancel"})


class Observed(TypedDict, total=False):
    """What an operation saw; every key is optional and absent keys are not written."""

    job_id: str
    client_request_id: str
    follower: str
    status: str
    progress: float
    attempts: int
    http_status: int
    error: str
    event: str
    event_id: int
    last_event_id: int
    first_event_s: float
    max_gap_s: float
    checksum_ok: bool
    size: int
    expect_s: float
    retry_after: bool


@dataclass(frozen=True, slots=True)
class Record:
    """One history line as read back; `source` ("file:line") is added by the reader to cite evidence."""

    type: str
    wall: float
    mono: float
    op: str = ""
    op_id: str = ""
    process: str = ""
    job_id: str | None = None
    client_request_id: str | None = None
    follower: str | None = None
    status: str | None = None
    progress: float | None = None
    attempts: int | None = None
    http_status: int | None = None
    latency_s: float | None = None
    error: str | None = None
    event: str | None = None
    event_id: int | None = None
    last_event_id: int | None = None
    first_event_s: float | None = None
    max_gap_s: float | None = None
    checksum_ok: bool | None = None
    size: int | None = None
    expect_s: float | None = None
    retry_after: bool | None = None
    fault: str | None = None
    kind: str | None = None
    target: str | None = None
    start_wall: float | None = None
    start_mono: float | None = None
    end_wall: float | None = None
    end_mono: float | None = None
    source: str = ""

    @property
    def invoke_wall(self) -> float:
        """When the operation started (wall time); a completion carries its latency, so no pairing is needed."""
        return self.wall - (self.latency_s or 0.0)

    def summary(self) -> str:
        """One readable line for reports: where, what, what was seen."""
        seen = [f"{k}={v}" for k in _SUMMARY_KEYS if (v := getattr(self, k)) is not None]
        return f"{self.source} {self.process} {self.type} {self.op or self.fault} {' '.join(seen)}".rstrip()


_SUMMARY_KEYS = ("job_id", "status", "progress", "attempts", "http_status", "event", "event_id", "error", "latency_s")
_FIELDS = frozenset(f.name for f in fields(Record)) - {"source"}


@dataclass(frozen=True, slots=True)
class Invocation:
    """A handle on an invoked operation, passed back to `complete` and `event`."""

    op: str
    op_id: str
    process: str
    mono: float
    job_id: str | None = None
    client_request_id: str | None = None
    follower: str | None = None


class Recorder(Protocol):
    """What clients need from a history; `NullHistory` satisfies it when nothing is recorded."""

    def invoke(self, op: OpKind, process: str, **seen: Unpack[Observed]) -> Invocation: ...

    def complete(self, inv: Invocation, outcome: Outcome, **seen: Unpack[Observed]) -> float: ...

    def event(self, inv: Invocation, **seen: Unpack[Observed]) -> None: ...


class NullHistory:
    """Records nothing but still hands out invocations and measures latency, so callers need no branches."""

    _ids = itertools.count()

    def invoke(self, op: OpKind, process: str, **seen: Unpack[Observed]) -> Invocation:
        return _invocation(op, process, f"{process}:{next(self._ids)}", seen)

    def complete(self, inv: Invocation, outcome: Outcome, **seen: Unpack[Observed]) -> float:
        return time.monotonic() - inv.mono

    def event(self, inv: Invocation, **seen: Unpack[Observed]) -> None:
        return None


def _invocation(op: str, process: str, op_id: str, seen: Observed) -> Invocation:
    return Invocation(
        op, op_id, process, time.monotonic(), seen.get("job_id"), seen.get("client_request_id"), seen.get("follower")
    )


class History(Closing):
    """An append-only JSONL writer; a context manager, and `record_fault` is a stack's `fault_listener`."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._ids = itertools.count()
        self._tag = f"{id(self):x}"  # with the pid at each call, op ids stay unique across forks
        self._lock = threading.Lock()
        self._encode = encoder()

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def invoke(self, op: OpKind, process: str, **seen: Unpack[Observed]) -> Invocation:
        inv = _invocation(op, process, f"{os.getpid()}-{self._tag}-{next(self._ids)}", seen)
        self._write({"type": "invoke", "op": op, "op_id": inv.op_id, "process": process, **seen}, inv.mono)
        return inv

    def complete(self, inv: Invocation, outcome: Outcome, **seen: Unpack[Observed]) -> float:
        """Write the completion (with the invocation's ids unless overridden) and return the latency."""
        mono = time.monotonic()
        latency = mono - inv.mono
        line = {"type": outcome, **_base(inv), "latency_s": round(latency, 6), **seen}
        self._write(line, mono)
        return latency

    def event(self, inv: Invocation, **seen: Unpack[Observed]) -> None:
        """An observation inside an open operation (an SSE event on a connection): op `stream_event`, same op_id."""
        self._write({"type": "event", **_base(inv), "op": "stream_event", **seen}, time.monotonic())

    def record_fault(self, window: object) -> None:
        """Write a fault window (a FaultWindow-like object or a dict); open windows are written again when closed."""
        keys = ("fault", "kind", "target", "start_wall", "start_mono", "end_wall", "end_mono")
        got = {k: window.get(k) if isinstance(window, Mapping) else getattr(window, k, None) for k in keys}
        line: dict[str, Any] = {
            k: v if k.endswith(("wall", "mono")) else str(v) for k, v in got.items() if v is not None
        }
        line.setdefault("fault", repr(window))
        self._write({"type": "fault", **line}, time.monotonic())

    def record_sample(self, what: str, value: int, job_id: str | None = None) -> None:
        """A sampled figure of the target (e.g. "redis_clients": the checker compares the first and the last of
        each kind, `resource_leak`), or with `job_id` a job the service holds ("service_job": `ghost_job` when no
        client was ever told of it)."""
        line: dict[str, Any] = {"type": "sample", "op": what, "size": int(value)}
        if job_id is not None:
            line["job_id"] = job_id
        self._write(line, time.monotonic())

    def _write(self, line: dict[str, Any], mono: float) -> None:
        line["wall"] = time.time()
        line["mono"] = mono
        data = self._encode(line) + b"\n"
        with self._lock:
            if self._fd is None:
                raise HarnessError(f"history {self.path} is closed; record inside its `with` block")
            os.write(self._fd, data)


@functools.cache
def encoder() -> Callable[[dict[str, Any]], bytes]:
    """A history line's bytes: msgspec's encoder when installed (the same compact JSON; a recorded request pair
    measured 14 us instead of 47 with json.dumps, so recording costs a load generator less: see
    bench/locust_overhead.py), else json.dumps. Imported on first use, so importing the judge stays light."""
    try:
        import msgspec
    except ImportError:
        return lambda line: json.dumps(line, separators=(",", ":")).encode()
    encode: Callable[[dict[str, Any]], bytes] = msgspec.json.Encoder().encode
    return encode


def _base(inv: Invocation) -> dict[str, Any]:
    line: dict[str, Any] = {"op": inv.op, "op_id": inv.op_id, "process": inv.process}
    for key in ("job_id", "client_request_id", "follower"):
        if (value := getattr(inv, key)) is not None:
            line[key] = value
    return line


def read_history(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[Record]:
    """Read and merge history files (plain or zstd), ordered by wall time (ties keep file then line order).

    A malformed final line (a writer killed mid-line) is skipped; a malformed line elsewhere is an error.
    Everything is held in memory: `check_files` judges files as a stream instead.
    """
    records: list[Record] = []
    for path in [paths] if isinstance(paths, str | os.PathLike) else paths:
        with open_history(path) as stream:
            for first, lines, last_block in numbered_blocks(stream):
                for offset, text in enumerate(lines):
                    if not text.strip():
                        continue
                    try:
                        records.append(parse_record(text, f"{path}:{first + offset}"))
                    except (ValueError, TypeError) as exc:
                        if last_block and offset == len(lines) - 1:
                            continue
                        raise HarnessError(
                            f"history line {path}:{first + offset} is not a record ({exc}); was it written by History?"
                        ) from None
    records.sort(key=lambda r: r.wall)
    return records


def parse_record(text: str | bytes, source: str) -> Record:
    """One history line as a Record (ValueError or TypeError when it is not one)."""
    raw = json.loads(text)
    if not isinstance(raw, dict):
        raise TypeError(f"a record is a JSON object, not {type(raw).__name__}")
    return Record(**{k: v for k, v in raw.items() if k in _FIELDS}, source=source)


def fault_windows(records: Iterable[Record]) -> list[Record]:
    """The fault windows of a history, one per fault application (its closed form when it was closed)."""
    windows: dict[tuple[str | None, float | None], Record] = {}
    for rec in records:
        if rec.type == "fault":
            key = (rec.fault, rec.start_mono)
            if key not in windows or rec.end_mono is not None:
                windows[key] = rec
    return sorted(windows.values(), key=lambda r: r.start_wall or r.wall)
