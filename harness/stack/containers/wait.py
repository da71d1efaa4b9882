"""Readiness of a stack's containers, as testcontainers wait strategies probing 127.0.0.1 ports only.

Unlike the stock strategies, each one fails at once when its container exits (so a failed start is
reported in a second, not after the timeout), and reads the published port afresh on every probe: a
restarted container may be given another one. A log marker counts only after the latest start.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from datetime import datetime
from typing import Any

from testcontainers.core.waiting_utils import WaitStrategy, WaitStrategyTarget

from harness.core.net import LOOPBACK, http_ok, redis_ping

POLL_SECONDS = 0.05


class ContainerExited(Exception):
    """The container stopped before it was ready."""

    def __init__(self, exit_code: int) -> None:
        super().__init__(f"exited with code {exit_code}")
        self.exit_code = exit_code


def published_port(container: Any, port: int) -> int | None:
    """The loopback host port the engine published for `port`/tcp (from the last reload), or None."""
    ports = (container.attrs.get("NetworkSettings") or {}).get("Ports") or {}
    for binding in ports.get(f"{port}/tcp") or ():
        if binding.get("HostPort"):
            return int(binding["HostPort"])
    return None


def started_at(container: Any) -> float:
    """State.StartedAt as a Unix time (the engine writes nanoseconds; Python reads microseconds)."""
    raw = str(container.attrs["State"]["StartedAt"]).rstrip("Z")
    whole, _, fraction = raw.partition(".")
    stamp = datetime.fromisoformat(f"{whole}.{(fraction + '000000')[:6]}+00:00")
    return stamp.timestamp()


class WaitAbandoned(Exception):
    """The wait was called off (another component of the stack failed to start)."""


class StackWait(WaitStrategy, ABC):
    """Polls `probe` every 50 ms until it holds; raises ContainerExited, TimeoutError or WaitAbandoned."""

    def __init__(self) -> None:
        super().__init__()
        self._poll_interval = POLL_SECONDS
        self.abandoned = threading.Event()

    @abstractmethod
    def probe(self, container: Any) -> bool:
        """One readiness check of a running container (attributes freshly reloaded)."""

    def wait_until_ready(self, container: WaitStrategyTarget) -> None:
        wrapped = container.get_wrapped_container()
        deadline = time.monotonic() + self._startup_timeout
        while True:
            wrapped.reload()
            state = wrapped.attrs["State"]
            if state["Status"] in ("exited", "dead"):
                raise ContainerExited(int(state.get("ExitCode", -1)))
            if state["Status"] == "running" and self.probe(wrapped):
                return
            if self.abandoned.is_set():
                raise WaitAbandoned()
            if time.monotonic() > deadline:
                raise TimeoutError(f"not ready after {self._startup_timeout:.1f} s ({self!r})")
            time.sleep(self._poll_interval)


class HttpOk(StackWait):
    """GET http://127.0.0.1:<published port><path> answers `code` (200 unless said)."""

    def __init__(self, port: int, path: str, code: int = 200) -> None:
        super().__init__()
        self.port, self.path, self.code = port, path, code

    def __repr__(self) -> str:
        return f"HttpOk({self.port}, {self.path!r})"

    def probe(self, container: Any) -> bool:
        host_port = published_port(container, self.port)
        if host_port is None:
            return False
        return http_ok(f"http://{LOOPBACK}:{host_port}{self.path}", self.code)()


class RedisPing(StackWait):
    """PING through the published port answers +PONG."""

    def __init__(self, port: int) -> None:
        super().__init__()
        self.port = port

    def __repr__(self) -> str:
        return f"RedisPing({self.port})"

    def probe(self, container: Any) -> bool:
        host_port = published_port(container, self.port)
        if host_port is None:
            return False
        return redis_ping(host_port)()


class FreshLogLine(StackWait):
    """The container logged `marker` since its latest start (its log keeps the lines of earlier runs)."""

    def __init__(self, marker: str) -> None:
        super().__init__()
        self.marker = marker.encode()

    def __repr__(self) -> str:
        return f"FreshLogLine({self.marker.decode()!r})"

    def probe(self, container: Any) -> bool:
        return self.marker in container.logs(stdout=True, stderr=True, since=started_at(container))
