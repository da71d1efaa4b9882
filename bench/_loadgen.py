"""An open-loop HTTP/1.1 load generator: requests leave on a fixed schedule, latency counts from that schedule.

Request i is due at start + i / rate. The pacer sends every due request on a free keep-alive connection; when
none is free the request waits in a backlog, and that wait is part of its latency because every latency is
measured from the request's intended send time. A stalled server therefore shows up in the percentiles
instead of silently slowing the generator down (no coordinated omission).

Why one process: the machine has two cores and the servers need them. One uvloop event loop driving
asyncio.Protocol connections, with httptools (C) parsing responses and requests pre-encoded as bytes, costs
a few tens of microseconds of CPU per request; a Linux timerfd paces it with nanosecond precision and no
spinning. Its own headroom is measured on every run: the CPU share of this process over the window and
the send lag (actual write time - intended time) of paced requests.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ctypes
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httptools
from hdrh.histogram import HdrHistogram

HIGHEST_US = 60_000_000
EARLY_S = 50e-6  # a tick may land a hair before a due time; send up to 50 µs early rather than one tick late
MIN_TICK_S = 100e-6  # above 10k req/s a tick sends several requests
clock = time.perf_counter  # CLOCK_MONOTONIC, the clock the timerfd runs on


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


def _timespec(seconds: float) -> _Timespec:
    ns = max(1, round(seconds * 1e9))
    return _Timespec(ns // 1_000_000_000, ns % 1_000_000_000)


@contextlib.contextmanager
def _ticker(period_s: float, first_at: float, callback: Callable[[], None]) -> Iterator[None]:
    """Call `callback` every `period_s` from `first_at` (a `clock()` time).

    A Linux timerfd wakes the event loop with nanosecond precision; uvloop's own timers round to whole
    milliseconds, which makes sub-millisecond waits either late or a busy spin.
    """
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    fd = libc.timerfd_create(time.CLOCK_MONOTONIC, os.O_NONBLOCK | os.O_CLOEXEC)
    if fd < 0:
        raise OSError(ctypes.get_errno(), "timerfd_create failed: the load generator needs Linux")
    spec = _Itimerspec(_timespec(period_s), _timespec(first_at - clock()))
    loop = asyncio.get_running_loop()

    def ready() -> None:
        with contextlib.suppress(BlockingIOError):
            os.read(fd, 8)
            callback()

    try:
        if libc.timerfd_settime(fd, 0, ctypes.byref(spec), None) != 0:
            raise OSError(ctypes.get_errno(), "timerfd_settime failed")
        loop.add_reader(fd, ready)
        yield
    finally:
        loop.remove_reader(fd)
        os.close(fd)


def histogram() -> HdrHistogram:
    """Microseconds, 1 µs .. 60 s, three significant digits."""
    return HdrHistogram(1, HIGHEST_US, 3)


def record(hist: HdrHistogram, seconds: float) -> None:
    hist.record_value(min(HIGHEST_US, max(1, round(seconds * 1e6))))


@dataclass(frozen=True)
class Plan:
    """One open-loop run: `rate` req/s for `warmup_s` (not recorded) then `duration_s` (recorded)."""

    port: int
    rate: float
    duration_s: float
    warmup_s: float = 1.0
    connections: int = 64
    timeout_s: float = 5.0
    keep_bodies: bool = False

    @property
    def total(self) -> int:
        return round(self.rate * (self.warmup_s + self.duration_s))

    @property
    def recorded_from(self) -> int:
        return round(self.rate * self.warmup_s)


@dataclass
class Result:
    """What one run observed over its recorded window; latencies in µs from the intended send time.

    `from_write` times the same responses from the moment the request was written instead: the difference
    is the generator's lag plus the wait for a free connection.
    """

    plan: Plan
    latency: HdrHistogram = field(default_factory=histogram)
    send_lag: HdrHistogram = field(default_factory=histogram)
    from_write: HdrHistogram = field(default_factory=histogram)
    sent: int = 0
    ok: int = 0
    errors: collections.Counter[str] = field(default_factory=collections.Counter)
    backlogged: int = 0
    cpu_s: float = 0.0
    wall_s: float = 0.0
    bodies: list[bytes] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        def ms(hist: HdrHistogram, pct: float) -> float:
            return round(hist.get_value_at_percentile(pct) / 1000, 3)

        return {
            "rate": self.plan.rate,
            "duration_s": self.plan.duration_s,
            "sent": self.sent,
            "ok": self.ok,
            "errors": sum(self.errors.values()),
            "error_kinds": dict(self.errors),
            "achieved_rate": round(self.ok / self.wall_s, 1) if self.wall_s else 0.0,
            "p50_ms": ms(self.latency, 50),
            "p99_ms": ms(self.latency, 99),
            "p999_ms": ms(self.latency, 99.9),
            "max_ms": round(self.latency.get_max_value() / 1000, 3),
            "generator": {
                "cpu_share": round(self.cpu_s / self.wall_s, 3) if self.wall_s else 0.0,
                "send_lag_p99_ms": ms(self.send_lag, 99),
                "send_lag_max_ms": round(self.send_lag.get_max_value() / 1000, 3),
                "backlogged": self.backlogged,
                "p50_from_write_ms": ms(self.from_write, 50),
                "p99_from_write_ms": ms(self.from_write, 99),
            },
        }


class _Connection(asyncio.Protocol):
    """One keep-alive connection carrying one request at a time; httptools parses the responses."""

    def __init__(self, run: _Run) -> None:
        self.run = run
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.index = -1
        self.intended = 0.0
        self.written = 0.0
        self.body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.run.failed(self, "bad_response")

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.run.completed(self, self.parser.get_status_code(), b"".join(self.body))

    def connection_lost(self, exc: Exception | None) -> None:
        self.run.lost(self)

    def send(self, index: int, intended: float, payload: bytes) -> None:
        self.index, self.intended, self.body = index, intended, []
        assert self.transport is not None
        self.transport.write(payload)
        self.written = clock()


class _Run:
    """The state of one run: the connection pool, the backlog, and the result being filled."""

    def __init__(self, plan: Plan, request: Callable[[int], bytes]) -> None:
        self.plan = plan
        self.request = request
        self.result = Result(plan)
        self.idle: collections.deque[_Connection] = collections.deque()
        self.busy: set[_Connection] = set()
        self.backlog: collections.deque[tuple[int, float]] = collections.deque()
        self.finished = 0
        self.next = 0
        self.all_done = asyncio.Event()

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        made = await asyncio.gather(
            *(
                loop.create_connection(lambda: _Connection(self), "127.0.0.1", self.plan.port)
                for _ in range(self.plan.connections)
            )
        )
        self.idle.extend(conn for _, conn in made)

    def dispatch(self, index: int, intended: float) -> None:
        if not self.idle:
            self.backlog.append((index, intended))
            if index >= self.plan.recorded_from:
                self.result.backlogged += 1
            return
        conn = self.idle.popleft()
        self.busy.add(conn)
        if index >= self.plan.recorded_from:
            self.result.sent += 1
            record(self.result.send_lag, max(0.0, clock() - intended))
        conn.send(index, intended, self.request(index))

    def completed(self, conn: _Connection, status: int, body: bytes) -> None:
        now = clock()
        if conn.index >= self.plan.recorded_from:
            if 200 <= status < 300:
                self.result.ok += 1
                record(self.result.latency, now - conn.intended)
                record(self.result.from_write, now - conn.written)
            else:
                self.result.errors[f"http_{status}"] += 1
        if self.plan.keep_bodies and 200 <= status < 300:
            self.result.bodies.append(body)
        self._release(conn)

    def failed(self, conn: _Connection, kind: str) -> None:
        if conn in self.busy and conn.index >= self.plan.recorded_from:
            self.result.errors[kind] += 1
        self._finish(conn)
        if conn.transport is not None:
            conn.transport.abort()

    def lost(self, conn: _Connection) -> None:
        was_busy = conn in self.busy
        if was_busy and conn.index >= self.plan.recorded_from:
            self.result.errors["connection_lost"] += 1
        if was_busy:
            self._finish(conn)
        if conn in self.idle:
            self.idle.remove(conn)

    def _finish(self, conn: _Connection) -> None:
        if conn in self.busy:
            self.busy.discard(conn)
            self.finished += 1
            if self.finished >= self.plan.total:
                self.all_done.set()

    def _release(self, conn: _Connection) -> None:
        self._finish(conn)
        conn.index = -1
        if self.backlog:
            index, intended = self.backlog.popleft()
            self.busy.add(conn)
            if index >= self.plan.recorded_from:
                self.result.sent += 1
            conn.send(index, intended, self.request(index))
        else:
            self.idle.append(conn)

    async def pace(self) -> None:
        """Send each request when it is due (woken by the ticker), then wait, bounded, for the stragglers."""
        interval, total, first = 1.0 / self.plan.rate, self.plan.total, self.plan.recorded_from
        start = clock() + 0.05
        sent_all = asyncio.get_running_loop().create_future()
        cpu0 = wall0 = 0.0

        def tick() -> None:
            nonlocal cpu0, wall0
            now, i = clock() + EARLY_S, self.next
            while i < total and start + i * interval <= now:
                if i == first:
                    cpu0, wall0 = time.process_time(), clock()
                self.dispatch(i, start + i * interval)
                i += 1
            self.next = i
            if i >= total and not sent_all.done():
                sent_all.set_result(None)

        with _ticker(max(interval, MIN_TICK_S), start, tick):
            try:
                await asyncio.wait_for(sent_all, self.plan.warmup_s + self.plan.duration_s + 5)
            except TimeoutError:
                self.result.errors["not_sent"] += total - max(self.next, first)
        try:
            await asyncio.wait_for(self.all_done.wait(), self.plan.timeout_s)
        except TimeoutError:
            unfinished = sum(1 for c in self.busy if c.index >= first)
            unfinished += sum(1 for index, _ in self.backlog if index >= first)
            self.result.errors["timeout"] += unfinished
        if wall0:
            self.result.wall_s, self.result.cpu_s = clock() - wall0, time.process_time() - cpu0

    def close(self) -> None:
        for conn in [*self.idle, *self.busy]:
            if conn.transport is not None:
                conn.transport.abort()


async def run(plan: Plan, request: Callable[[int], bytes]) -> Result:
    """Open the pool, run the schedule, wait (bounded) for the stragglers, close everything."""
    state = _Run(plan, request)
    try:
        await state.open()
        await state.pace()
    finally:
        state.close()
    return state.result


def get(path: str, port: int) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()


def post_json(path: str, port: int, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body
