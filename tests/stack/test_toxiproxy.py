"""A real toxiproxy-server on a free port in front of a loopback TCP echo server: toxics measured on the wire."""

from __future__ import annotations

import os
import socket
import socketserver
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from harness.core.errors import ToxiproxyError
from harness.faults import FaultFactory
from harness.faults.toxiproxy import Proxy, ToxiproxyClient
from harness.faults.toxiproxy_server import ToxiproxyServer, find_toxiproxy_binary, free_port

pytestmark = pytest.mark.stack
PAYLOAD = b"ping\n"


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        try:
            while data := self.request.recv(65536):
                self.request.sendall(data)
        except OSError:
            pass  # the proxy reset or dropped the connection: that is what some tests do on purpose


@pytest.fixture(scope="module")
def echo() -> Iterator[str]:
    """A threaded echo server on a free loopback port; yields its address as Toxiproxy's upstream."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ToxiproxyServer]:
    with ToxiproxyServer(tmp_path_factory.mktemp("toxiproxy") / "toxiproxy.log") as running:
        yield running


@pytest.fixture
def client(server: ToxiproxyServer) -> Iterator[ToxiproxyClient]:
    """A client on a clean server: every proxy a test made is deleted afterwards, even when it failed."""
    with server.client() as toxiproxy:
        try:
            yield toxiproxy
        finally:
            for name in toxiproxy.proxies():
                toxiproxy.delete_proxy(name)


def connect(port: int, timeout: float = 5.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


def round_trip(sock: socket.socket, payload: bytes = PAYLOAD) -> float:
    """Seconds from sending `payload` to having all of it echoed back, on an open connection."""
    start = time.monotonic()
    sock.sendall(payload)
    received = b""
    while len(received) < len(payload):
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {received!r}"
        received += chunk
    assert received == payload
    return time.monotonic() - start


def round_trips(port: int, count: int = 3) -> list[float]:
    with connect(port) as sock:
        return [round_trip(sock) for _ in range(count)]


@pytest.mark.parametrize("stream", ["downstream", "upstream"])
def test_latency_delays_the_echo_by_the_configured_time(client: ToxiproxyClient, echo: str, stream: str) -> None:
    proxy = client.create_proxy("echo", echo)
    baseline = statistics.median(round_trips(proxy.port))
    client.add_toxic("echo", "latency", {"latency": 300, "jitter": 50}, stream=stream)  # type: ignore[arg-type]
    delayed = round_trips(proxy.port)
    assert baseline < 0.1, f"loopback echo without toxics took {baseline:.3f} s"
    assert all(0.25 - 0.005 <= rtt <= 0.35 + 0.25 for rtt in delayed), f"300±50 ms configured, measured {delayed}"
    client.remove_toxic("echo", f"latency_{stream}")
    assert statistics.median(round_trips(proxy.port)) < 0.1


def test_update_changes_a_live_toxic(client: ToxiproxyClient, echo: str) -> None:
    proxy = client.create_proxy("echo", echo)
    client.add_toxic("echo", "latency", {"latency": 20}, name="slow")
    assert max(round_trips(proxy.port)) < 0.2
    updated = client.update_toxic("echo", "slow", {"latency": 400}, toxicity=1.0)
    assert updated.attributes == {"latency": 400, "jitter": 0}
    assert client.get_toxic("echo", "slow") == updated
    assert min(round_trips(proxy.port)) >= 0.395


def test_reset_peer_breaks_the_connection(client: ToxiproxyClient, echo: str) -> None:
    proxy = client.create_proxy("echo", echo)
    client.add_toxic("echo", "reset_peer", {"timeout": 0})
    with connect(proxy.port) as sock, pytest.raises(ConnectionResetError):
        round_trip(sock)  # the toxic resets (RST, not FIN) when the echo's first bytes come back


def test_timeout_toxic_stalls_then_closes(client: ToxiproxyClient, echo: str) -> None:
    proxy = client.create_proxy("echo", echo)
    client.add_toxic("echo", "timeout", {"timeout": 0}, name="hang")
    with connect(proxy.port, timeout=0.5) as sock, pytest.raises(TimeoutError):
        round_trip(sock)  # data is swallowed: nothing comes back, the connection stays open
    client.update_toxic("echo", "hang", {"timeout": 300})
    with connect(proxy.port) as sock:
        start = time.monotonic()
        sock.sendall(PAYLOAD)
        assert sock.recv(100) == b"", "the timeout toxic should close the connection without data"
        elapsed = time.monotonic() - start
    assert 0.29 <= elapsed < 2.0, f"closed after {elapsed:.3f} s, configured 300 ms"


def test_proxy_down_fault_refuses_connections_until_removed(client: ToxiproxyClient, echo: str) -> None:
    proxy = client.create_proxy("echo", echo)
    faults = FaultFactory(SimpleNamespace(toxiproxy=client, processes=None, time_scale=1.0))
    with connect(proxy.port) as open_before:
        round_trip(open_before)
        with faults.proxy_down("echo") as down:
            assert client.get_proxy("echo").enabled is False
            with pytest.raises(ConnectionRefusedError):
                connect(proxy.port)
            assert open_before.recv(100) == b"", "disabling a proxy drops its open connections"
        assert not down.active and down.windows[0].end_mono is not None
    assert client.get_proxy("echo").listen == proxy.listen
    assert round_trips(proxy.port, count=1)[0] < 0.1


def test_limit_data_fault_cuts_the_stream_and_is_removed(client: ToxiproxyClient, echo: str) -> None:
    proxy = client.create_proxy("echo", echo)
    faults = FaultFactory(SimpleNamespace(toxiproxy=client, processes=None, time_scale=1.0))
    with faults.limit_data("echo", bytes=10) as limit, connect(proxy.port) as sock:
        assert [t.type for t in client.toxics("echo")] == ["limit_data"]
        sock.sendall(b"x" * 100)
        received = b""
        while chunk := sock.recv(100):
            received += chunk
        assert received == b"x" * 10
    assert client.toxics("echo") == [] and not limit.active


def test_populate_creates_replaces_and_reset_restores(client: ToxiproxyClient, echo: str) -> None:
    made = client.populate([Proxy("edge", echo), Proxy("api", echo, enabled=False)])
    assert sorted(made) == ["api", "edge"] and made["api"].enabled is False
    assert round_trips(made["edge"].port, count=1)[0] < 0.1
    client.add_toxic("edge", "bandwidth", {"rate": 1})
    client.reset()
    after = client.proxies()
    assert after["api"].enabled and after["edge"].toxics == ()
    assert round_trips(after["api"].port, count=1)[0] < 0.1
    other = f"127.0.0.1:{free_port()}"
    again = client.populate([Proxy("edge", echo, made["edge"].listen), Proxy("api", other, made["api"].listen)])
    assert again["api"].upstream == other and client.get_proxy("api").upstream == other
    assert client.get_proxy("edge").listen == made["edge"].listen


def test_errors_name_the_call_the_object_and_the_answer(client: ToxiproxyClient, echo: str) -> None:
    with pytest.raises(ToxiproxyError, match=r"get_proxy\('nope'\) failed.*HTTP 404 'proxy not found' \(hint: "):
        client.get_proxy("nope")
    client.create_proxy("echo", echo)
    client.add_toxic("echo", "slicer", {"average_size": 8}, name="twice")
    with pytest.raises(ToxiproxyError, match=r"add_toxic\('echo', 'slicer'.*name='twice'.*409 'toxic already exists'"):
        client.add_toxic("echo", "slicer", {"average_size": 8}, name="twice")
    with pytest.raises(ToxiproxyError, match=r"remove_toxic\('echo', 'ghost'\) failed.*404"):
        client.remove_toxic("echo", "ghost")
    client.remove_toxic("echo", "ghost", missing_ok=True)
    client.delete_proxy("ghost", missing_ok=True)
    unreachable = ToxiproxyClient(f"http://127.0.0.1:{free_port()}", timeout=1.0)
    refused = r"version\(\): Toxiproxy at http://127\.0\.0\.1:\d+ did not answer.*ToxiproxyServer"
    with unreachable, pytest.raises(ToxiproxyError, match=refused):
        unreachable.version(timeout=0.5)


def test_server_lifecycle_log_and_binary_lookup(tmp_path: Path) -> None:
    binary = find_toxiproxy_binary()
    assert find_toxiproxy_binary({"HARNESS_TOXIPROXY_BIN": str(binary), "PATH": ""}) == binary
    nowhere = {"PATH": str(tmp_path), "HARNESS_CACHE_DIR": str(tmp_path / "cache")}
    with pytest.raises(
        ToxiproxyError, match=r"HARNESS_TOXIPROXY_BIN.*cache/toxiproxy/v.*PATH.*harness install toxiproxy"
    ):
        find_toxiproxy_binary(nowhere)
    with pytest.raises(ToxiproxyError, match=r"HARNESS_TOXIPROXY_BIN='/nonexistent' is not an executable"):
        find_toxiproxy_binary({"HARNESS_TOXIPROXY_BIN": "/nonexistent"})
    with ToxiproxyServer(tmp_path / "tp.log", binary=binary) as running, running.client() as toxiproxy:
        pid, address = running.pid, f"127.0.0.1:{running.port}"
        assert pid is not None and toxiproxy.version()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert f'"address":"{address}"' in (tmp_path / "tp.log").read_text()
