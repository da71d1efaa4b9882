"""The named fronts with a real nginx in front of a tiny scripted upstream: timeouts, buffering, secure_link.

The upstream (an asyncio server on a free loopback port) does what the query string says: `delay` its first
byte, or stream SSE heartbeats (`heartbeat` seconds apart, `count` of them, then `stall` seconds of silence).
Every expected duration comes from the timeout-chain model of the rendered config, so a test fails when the
model, the template or nginx disagree.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import itertools
import math
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from harness.fronts.nginx import load_proxy_config, nginx_argv, render
from harness.fronts.timers import TimeoutChain, chain_timers

pytestmark = pytest.mark.stack

SCALE = 0.02
SECRET = "front-test-secret"
JOB = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
START_TIMEOUT_S = 10.0


# --- a scripted upstream -------------------------------------------------------------------------------------


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    query = {k: v[0] for k, v in parse_qs(urlsplit(head.split(b" ", 2)[1].decode()).query).items()}
    if "heartbeat" not in query:
        await asyncio.sleep(float(query.get("delay", "0")))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        await writer.drain()
        return
    accel = b"X-Accel-Buffering: no\r\n" if query.get("accel", "no") == "no" else b""
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n" + accel + b"\r\n")
    for _ in range(int(query["count"])):
        writer.write(b": hb\n\n")
        await writer.drain()
        await asyncio.sleep(float(query["heartbeat"]))
    await asyncio.sleep(float(query.get("stall", "0")))


class ScriptedUpstream:
    """An HTTP/1.1 server on its own event loop thread; cancels whatever it is still doing on close."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="scripted-upstream", daemon=True)
        self.tasks: set[asyncio.Task[None]] = set()
        self.thread.start()
        self.server = asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(START_TIMEOUT_S)
        self.address = f"127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def _start(self) -> asyncio.Server:
        return await asyncio.start_server(self._handle, "127.0.0.1", 0)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        try:
            await _answer(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            self.tasks.discard(task)
            writer.close()

    async def _stop(self) -> None:
        self.server.close()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self.loop).result(START_TIMEOUT_S)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(START_TIMEOUT_S)
        self.loop.close()


# --- nginx as a foreground child -----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Front:
    name: str
    port: int
    prefix: Path
    process: subprocess.Popen[bytes]
    chain: TimeoutChain

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def error_log(self) -> str:
        path = self.prefix / "error.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else "(no error.log)"


@dataclass
class Fronts:
    """Starts named configs behind one another; stops every nginx it started (terminate, wait, kill)."""

    root: Path
    artifact_dir: Path
    started: list[Front] = field(default_factory=list)

    def start(self, name: str, upstream: str) -> Front:
        config = load_proxy_config(name)
        for _ in range(3):  # another process may take the free port between the probe and nginx's bind
            prefix = self.root / f"{name}-{len(self.started)}-{time.monotonic_ns()}"
            prefix.mkdir(parents=True)
            port = _free_port()
            conf = prefix / "nginx.conf"
            conf.write_text(
                render(config, listen_port=port, upstream=upstream, artifact_dir=self.artifact_dir,
                       signing_secret=SECRET, time_scale=SCALE, prefix_dir=prefix)
            )  # fmt: skip
            process = subprocess.Popen(  # its own process group, so a kill reaches the workers too
                nginx_argv(conf, prefix), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
            )
            front = Front(name, port, prefix, process, chain_timers(config, SCALE))
            self.started.append(front)
            if self._ready(front):
                return front
            if "Address already in use" not in front.error_log():
                break
        raise AssertionError(f"nginx {name} did not start:\n{front.error_log()}")

    def _ready(self, front: Front) -> bool:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline and front.process.poll() is None:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", front.port), timeout=0.2):
                return True
            time.sleep(0.01)  # readiness polling under a deadline, not a synchronisation
        return False

    def chain(self, name: str, upstream: str) -> Front:
        """An edge config in front of its origin (itself started in front of `upstream`)."""
        config = load_proxy_config(name)
        assert config.origin is not None
        origin = self.start(config.origin, upstream)
        return self.start(name, f"127.0.0.1:{origin.port}")

    def stop_all(self) -> None:
        """SIGTERM (nginx's fast shutdown stops the workers), then SIGKILL the whole group if it lingers: a
        master killed alone would leave its workers serving the port."""
        for front in reversed(self.started):
            if front.process.poll() is None:
                front.process.terminate()
                try:
                    front.process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(front.process.pid, signal.SIGKILL)
                    front.process.wait(timeout=5)
            if front.process.stderr is not None:
                front.process.stderr.close()

    def still_listening(self) -> list[str]:
        listening = []
        for front in self.started:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", front.port), timeout=0.2):
                listening.append(f"{front.name} on {front.port}")
        return listening


@pytest.fixture
def scripted_upstream() -> Iterator[ScriptedUpstream]:
    upstream = ScriptedUpstream()
    try:
        yield upstream
    finally:
        upstream.close()


@pytest.fixture
def fronts(tmp_path: Path) -> Iterator[Fronts]:
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    started = Fronts(tmp_path / "nginx", artifacts)
    try:
        yield started
    finally:
        started.stop_all()
        assert all(f.process.poll() is not None for f in started.started)
        assert not started.still_listening(), "an nginx worker outlived its master"


# --- a client that timestamps every byte ---------------------------------------------------------------------


@dataclass
class Timed:
    status: int
    body: bytes
    elapsed_s: float
    largest_gap_s: float
    first_byte_s: float
    silence_before_close_s: float


def timed_get(front: Front, path: str, budget_s: float = 15.0) -> Timed:
    """GET over a raw socket; the largest gap counts from the request, so held headers count too."""
    with socket.create_connection(("127.0.0.1", front.port), timeout=budget_s) as sock:
        started = time.monotonic()
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: front.test\r\nConnection: close\r\n\r\n".encode())
        arrivals, data = [started], bytearray()
        while chunk := sock.recv(65536):
            arrivals.append(time.monotonic())
            data.extend(chunk)
        closed = time.monotonic()
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    return Timed(int(head.split()[1]), body, closed - started, max(gaps), gaps[0], closed - arrivals[-1])


def hop_read_s(front: Front, flow: str) -> float:
    """The read timer the front itself applies to a flow (real seconds), from the model."""
    return next(h.read_s for h in front.chain.flow(flow).hops if h.hop == front.name and h.read_s is not None)


# --- timeouts ------------------------------------------------------------------------------------------------

TIMEOUT_CASES = [
    ("nginx-defaults", "poll", f"/v1/download/status/{JOB}", 504),
    ("short", "poll", f"/v1/download/status/{JOB}", 504),
    ("recommended", "legacy", "/v1/download/start", 504),
    ("alb-edge", "poll", f"/v1/download/status/{JOB}", 504),
    ("cloudflare-edge", "poll", f"/v1/download/status/{JOB}", 524),
]


@pytest.mark.parametrize(("name", "flow", "path", "status"), TIMEOUT_CASES)
def test_first_byte_later_than_the_read_timer_is_a_gateway_timeout(
    fronts: Fronts, scripted_upstream: ScriptedUpstream, name: str, flow: str, path: str, status: int
) -> None:
    front = fronts.start(name, scripted_upstream.address)
    timer = front.chain.on_clock(hop_read_s(front, flow))
    with httpx.Client(base_url=front.url, timeout=15) as client:
        method = "POST" if flow == "legacy" else "GET"
        fast = client.request(method, path, params={"delay": timer / 4})
        started = time.monotonic()
        slow = client.request(method, path, params={"delay": timer * 3})
        elapsed = time.monotonic() - started
    assert fast.status_code == 200 and fast.text == "ok"
    assert slow.status_code == status, slow.text
    assert timer * 0.9 <= elapsed < timer * 2, (elapsed, timer)
    if status == 524:
        assert slow.text == "error code: 524\n"


def test_cloudflare_edge_answers_524_when_the_origin_lets_a_slow_first_byte_through(
    fronts: Fronts, scripted_upstream: ScriptedUpstream
) -> None:
    edge = fronts.chain("cloudflare-edge", scripted_upstream.address)
    edge_timer = edge.chain.on_clock(hop_read_s(edge, "sse"))
    assert edge.chain.flow("sse").limited_by == "cloudflare-edge: location /"  # the origin's stream timer is longer
    with httpx.Client(base_url=edge.url, timeout=15) as client:
        stream = client.get(f"/v1/download/stream/{JOB}", params={"delay": edge_timer * 1.5})
        legacy = client.post("/v1/download/start", params={"delay": edge_timer * 1.5})
    assert stream.status_code == 524
    assert legacy.status_code == 524  # the permissive origin never cuts first: the edge's own limit shows
    assert edge.chain.flow("legacy").limited_by == "cloudflare-edge: location /"


def test_cloudflare_edge_cuts_a_stream_idle_for_longer_than_its_timer(
    fronts: Fronts, scripted_upstream: ScriptedUpstream
) -> None:
    edge = fronts.start("cloudflare-edge", scripted_upstream.address)
    timer = edge.chain.on_clock(edge.chain.flow("sse").idle_timeout_s)
    got = timed_get(edge, f"/v1/download/stream/{JOB}?heartbeat=0.01&count=2&stall={timer * 3}")
    assert got.status == 200 and got.body.count(b": hb") == 2
    assert not got.body.endswith(b"0\r\n\r\n"), "the stream ended cleanly instead of being cut"
    assert timer * 0.9 <= got.silence_before_close_s < timer * 2, (got.silence_before_close_s, timer)


# --- SSE buffering -------------------------------------------------------------------------------------------

HEARTBEAT_S = 0.05


def _stream_path(front: Front, accel: str = "no", longer_than_idle: bool = True) -> tuple[str, float, int]:
    """A stream of heartbeats: 1.25 x the chain's SSE idle timer (on the clock) long, or 10 of them."""
    idle = front.chain.on_clock(front.chain.flow("sse").idle_timeout_s)
    count = math.ceil(idle * 1.25 / HEARTBEAT_S) if longer_than_idle else 10
    return f"/v1/download/stream/{JOB}?heartbeat={HEARTBEAT_S}&count={count}&accel={accel}", idle, count


@pytest.mark.parametrize("name", ["recommended", "nginx-defaults", "short", "alb-edge", "cloudflare-edge"])
def test_heartbeats_pass_promptly(fronts: Fronts, scripted_upstream: ScriptedUpstream, name: str) -> None:
    front = fronts.start(name, scripted_upstream.address)
    path, idle, count = _stream_path(front, longer_than_idle=False)
    got = timed_get(front, path)
    assert got.status == 200 and got.body.count(b": hb") == count
    assert got.first_byte_s < 0.5 and got.largest_gap_s < min(0.5, idle / 2), (got.first_byte_s, got.largest_gap_s)
    assert not front.chain.flow("sse").buffered


def test_buffered_sse_holds_heartbeats_beyond_the_idle_timer(
    fronts: Fronts, scripted_upstream: ScriptedUpstream
) -> None:
    front = fronts.start("buffered-sse", scripted_upstream.address)
    path, idle, count = _stream_path(front)
    assert front.chain.flow("sse").buffered and front.chain.predicted_sse_heartbeat_limit() == 0
    got = timed_get(front, path)
    assert got.status == 200 and got.body.count(b": hb") == count  # nginx read them all; it did not time out
    assert got.largest_gap_s > idle, (got.largest_gap_s, idle)


def test_nginx_defaults_buffers_a_stream_that_does_not_opt_out(
    fronts: Fronts, scripted_upstream: ScriptedUpstream
) -> None:
    front = fronts.start("nginx-defaults", scripted_upstream.address)
    path, idle, count = _stream_path(front, accel="absent")
    got = timed_get(front, path)
    assert got.status == 200 and got.body.count(b": hb") == count
    assert got.largest_gap_s > idle, (got.largest_gap_s, idle)


# --- secure_link ---------------------------------------------------------------------------------------------


def _signed(uri: str, expires: int, secret: str = SECRET) -> str:
    token = base64.urlsafe_b64encode(hashlib.md5(f"{expires}{uri} {secret}".encode()).digest()).decode()
    return f"{uri}?md5={token.rstrip('=')}&expires={expires}"


def _tampered(url: str) -> str:
    head, _, tail = url.partition("md5=")
    return f"{head}md5={'B' if tail[0] == 'A' else 'A'}{tail[1:]}"


LINKS: dict[str, Callable[[str, int], str]] = {
    "valid": lambda uri, now: _signed(uri, now + 3600),
    "tampered": lambda uri, now: _tampered(_signed(uri, now + 3600)),
    "other-file": lambda uri, now: _signed(uri.replace(".bin", "0.bin"), now + 3600).replace("0.bin", ".bin"),
    "wrong-secret": lambda uri, now: _signed(uri, now + 3600, "not-the-secret"),
    "unsigned": lambda uri, now: uri,
    "expired": lambda uri, now: _signed(uri, now - 60),
}
EXPECTED = {"valid": 200, "tampered": 403, "other-file": 403, "wrong-secret": 403, "unsigned": 403, "expired": 410}


@pytest.mark.parametrize("name", ["recommended", "nginx-defaults", "short", "buffered-sse", "cloudflare-edge"])
def test_artifacts_are_served_by_nginx_with_secure_link(
    fronts: Fronts, scripted_upstream: ScriptedUpstream, name: str
) -> None:
    content = hashlib.sha256(name.encode()).digest() * 512
    (fronts.artifact_dir / f"{JOB}.bin").write_bytes(content)
    config = load_proxy_config(name)
    front = (fronts.chain if config.origin else fronts.start)(name, scripted_upstream.address)
    uri, now = f"/artifacts/{JOB}.bin", int(time.time())
    with httpx.Client(base_url=front.url, timeout=15) as client:
        answers = {case: client.get(link(uri, now)) for case, link in LINKS.items()}
    assert {case: r.status_code for case, r in answers.items()} == EXPECTED
    assert answers["valid"].content == content
    assert answers["valid"].headers["content-type"] == "application/octet-stream"
