"""Run a real toxiproxy-server on a free loopback port for as long as a stack (or a test) needs it.

The server is a `ManagedProcess` (log file, readiness check, always reaped); it is ready when `/version`
answers. A port taken between asking the OS and binding it is retried on a new port.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Self

from harness.core.closing import Running
from harness.core.errors import StackStartError, ToxiproxyError
from harness.core.net import LOOPBACK, free_port, http_ok
from harness.core.processes import ManagedProcess, tail
from harness.faults.toxiproxy import ToxiproxyClient
from harness.faults.toxiproxy_install import VERSION, install_dir, installed

__all__ = ["BIN_ENV", "ToxiproxyServer", "find_toxiproxy_binary", "free_port"]

BIN_ENV = "HARNESS_TOXIPROXY_BIN"


def find_toxiproxy_binary(environ: Mapping[str, str] | None = None) -> Path:
    """$HARNESS_TOXIPROXY_BIN, then the pinned build in the harness's cache (`harness install toxiproxy`), then
    PATH; the error says where it looked and how to install it."""
    env = os.environ if environ is None else environ
    given = env.get(BIN_ENV)
    if given:
        if os.path.isfile(given) and os.access(given, os.X_OK):
            return Path(given)
        raise ToxiproxyError(f"${BIN_ENV}={given!r} is not an executable file; point it at a toxiproxy-server")
    built = installed(VERSION, env)
    if built is not None:
        return built.server
    on_path = shutil.which("toxiproxy-server", path=env.get("PATH"))
    if on_path:
        return Path(on_path)
    raise ToxiproxyError(
        f"toxiproxy-server not found (looked in: ${BIN_ENV}, {install_dir(VERSION, env)}, PATH); "
        "run `harness install toxiproxy` to build it (needs Go), or set $HARNESS_TOXIPROXY_BIN"
    )


class ToxiproxyServer(Running):
    """`with ToxiproxyServer(log_path) as server:` -> a ready server at `server.url`; `server.client()` talks to it."""

    def __init__(
        self,
        log_path: Path,
        *,
        binary: Path | None = None,
        host: str = LOOPBACK,
        startup_timeout: float = 10.0,
        port: int | None = None,
    ) -> None:
        """`port` fixes the API port (HARNESS_TOXIPROXY_PORT); by default the OS picks a free one."""
        self.log_path = log_path
        self.fixed_port = port
        self.binary = binary
        self.host = host
        self.startup_timeout = startup_timeout
        self.port: int | None = None
        self._proc: ManagedProcess | None = None

    def __repr__(self) -> str:
        return f"ToxiproxyServer(url={self.url if self.port else None!r}, pid={self.pid})"

    @property
    def url(self) -> str:
        if self.port is None:
            raise ToxiproxyError("ToxiproxyServer.url: the server is not started; call start() or use `with`")
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.alive else None

    def client(self, *, timeout: float = 5.0) -> ToxiproxyClient:
        return ToxiproxyClient(self.url, timeout=timeout)

    def start(self, attempts: int = 3) -> Self:
        """Start and wait for `/version`; a port taken between probe and bind is retried on a new port."""
        binary = self.binary or find_toxiproxy_binary()
        for attempt in range(1, attempts + 1):
            port = self.fixed_port or free_port(self.host)
            argv = [str(binary), "-host", self.host, "-port", str(port)]
            proc = ManagedProcess(
                "toxiproxy-server", argv, self.log_path, ready=http_ok(f"http://{self.host}:{port}/version")
            )
            try:
                proc.start(self.startup_timeout)
            except StackStartError as exc:
                proc.stop()
                if not self.fixed_port and attempt < attempts and "address already in use" in tail(self.log_path, 3):
                    continue
                error = ToxiproxyError(f"toxiproxy-server on port {port}: {exc}")
                error.add_note(f"last lines of {self.log_path}:\n{tail(self.log_path)}")
                raise error from exc
            self._proc, self.port = proc, port
            return self
        raise AssertionError("unreachable: the last attempt returns or raises")

    def stop(self, grace: float = 5.0) -> None:
        """Terminate, then kill after `grace` seconds; safe to call twice or before start()."""
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.stop(grace)
