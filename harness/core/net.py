"""Loopback addresses and readiness probes: the one place that says where the harness listens and what
"healthy" means (a 200 on a health path, a PONG from Redis), and the one bounded wait for it."""

from __future__ import annotations

import random
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from urllib.parse import urlsplit

from harness.core.errors import HarnessError, StackStartError

LOOPBACK = "127.0.0.1"  # every port the harness opens or probes on this machine is on loopback


LOWEST_PORT = 10000
_random = random.SystemRandom()


def ephemeral_start(path: str = "/proc/sys/net/ipv4/ip_local_port_range") -> int:
    """The first port the kernel hands out to outgoing connections (32768 when unknown)."""
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port(host: str = LOOPBACK) -> int:
    """A free TCP port on loopback, for a server the harness starts a little later. Drawn at random below the
    kernel's ephemeral range: a port freed by an ephemeral bind can be taken by any outgoing connection before the
    server binds it (seen under parallel test workers: nginx's `bind() ... Address already in use`); below the
    range only another explicit bind can take it. Falls back to an ephemeral port when none is free there."""
    top = ephemeral_start()
    for _ in range(64 if top > LOWEST_PORT + 1000 else 0):
        port = _random.randrange(LOWEST_PORT, top)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_open(host: str, port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def redis_ping(port: int, host: str = LOOPBACK) -> Callable[[], bool]:
    def ready() -> bool:
        try:
            with socket.create_connection((host, port), timeout=0.3) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    return ready


def redis_clients(url: str) -> int | None:
    """Redis's `connected_clients` (INFO clients) at a redis:// URL, or None when it does not answer."""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or LOOPBACK, parts.port or 6379), timeout=1.0) as sock:
            sock.sendall(b"INFO clients\r\n")
            data = b""
            while b"connected_clients:" not in data or not data.endswith(b"\r\n"):
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
    except OSError:
        return None
    for line in data.decode(errors="replace").splitlines():
        if line.startswith("connected_clients:"):
            return int(line.partition(":")[2])
    return None


def http_ok(url: str, code: int = 200) -> Callable[[], bool]:
    """A probe: does GET `url` answer `code` within half a second?"""

    def ready() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=0.5) as resp:
                return bool(resp.status == code)
        except urllib.error.HTTPError as exc:
            return exc.code == code
        except (urllib.error.URLError, OSError, ValueError):
            return False

    return ready


def wait_healthy(
    url: str,
    timeout: float,
    what: str,
    *,
    error: type[HarnessError] = StackStartError,
    code: int = 200,
    interval: float = 0.05,
) -> None:
    """Poll GET `url` until it answers `code`; after `timeout` seconds raise `error` saying what is not healthy."""
    probe = http_ok(url, code)
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise error(f"{what} does not answer {code} on {url} after {timeout:g} s")
        time.sleep(interval)
