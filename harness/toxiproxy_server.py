"""Run a real toxiproxy-server on a free loopback port for as long as a stack (or a test) needs it.

The server is a child process with its log in a file; it is ready when `/version` answers, and it is
always reaped (terminate, then kill) when the context exits, even after a failed start.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import httpx

from harness.errors import ToxiproxyError
from harness.toxiproxy import ToxiproxyClient

BIN_ENV = "HARNESS_TOXIPROXY_BIN"
PROJECT_ROOT = Path(__file__).resolve().parents[1]
_PR_SET_PDEATHSIG = 1


def find_toxiproxy_binary(environ: Mapping[str, str] | None = None, root: Path = PROJECT_ROOT) -> Path:
    """$HARNESS_TOXIPROXY_BIN, then <project>/bin/toxiproxy-server, then PATH; the error says where it looked."""
    env = os.environ if environ is None else environ
    candidates: list[str] = []
    if env.get(BIN_ENV):
        candidates.append(env[BIN_ENV])
    candidates.append(str(root / "bin" / "toxiproxy-server"))
    for candidate in candidates:
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return Path(candidate)
    on_path = shutil.which("toxiproxy-server", path=env.get("PATH"))
    if on_path:
        return Path(on_path)
    looked = [f"${BIN_ENV}={env.get(BIN_ENV)!r}", *candidates[-1:], "PATH"]
    raise ToxiproxyError(f"toxiproxy-server not found (looked in: {', '.join(looked)}); run `make setup` to build it")


def free_port(host: str = "127.0.0.1") -> int:
    """Ask the OS for a free TCP port (the server binds it a moment later; start() retries on a lost race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    """Runs in the child: if the harness is SIGKILLed, the kernel kills the server too (Linux only)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class ToxiproxyServer:
    """`with ToxiproxyServer(log_path) as server:` -> a ready server at `server.url`; `server.client()` talks to it."""

    def __init__(
        self, log_path: Path, *, binary: Path | None = None, host: str = "127.0.0.1", startup_timeout: float = 10.0
    ) -> None:
        self.log_path = log_path
        self.binary = binary
        self.host = host
        self.startup_timeout = startup_timeout
        self.port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def __repr__(self) -> str:
        return f"ToxiproxyServer(url={self.url if self.port else None!r}, pid={self.pid})"

    @property
    def url(self) -> str:
        if self.port is None:
            raise ToxiproxyError("ToxiproxyServer.url: the server is not started; call start() or use `with`")
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def client(self, *, timeout: float = 5.0) -> ToxiproxyClient:
        return ToxiproxyClient(self.url, timeout=timeout)

    def start(self, attempts: int = 3) -> Self:
        """Start and wait for `/version`; a port taken between probe and bind is retried on a new port."""
        binary = self.binary or find_toxiproxy_binary()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        for attempt in range(1, attempts + 1):
            try:
                self._spawn(binary, free_port(self.host))
                self._wait_ready()
                return self
            except BaseException as exc:
                self.stop()
                lost_race = "address already in use" in _tail(self.log_path, lines=3)
                if not isinstance(exc, ToxiproxyError) or attempt == attempts or not lost_race:
                    if isinstance(exc, ToxiproxyError):
                        exc.add_note(f"last lines of {self.log_path}:\n{_tail(self.log_path)}")
                    raise
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _spawn(self, binary: Path, port: int) -> None:
        self.port = port
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the child's lifetime, closed in stop()
        argv = [str(binary), "-host", self.host, "-port", str(port)]
        try:
            self._proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        except OSError as exc:
            raise ToxiproxyError(f"cannot run {binary}: {exc}; run `make setup` to (re)build it") from exc

    def _wait_ready(self) -> None:
        """Poll `/version` with a bounded deadline; fail fast if the process exits."""
        assert self._proc is not None
        deadline = time.monotonic() + self.startup_timeout
        with httpx.Client(timeout=0.5) as http:
            while True:
                if self._proc.poll() is not None:
                    raise ToxiproxyError(f"toxiproxy-server on port {self.port} exited with {self._proc.returncode}")
                with contextlib.suppress(httpx.HTTPError):
                    if http.get(f"{self.url}/version").is_success:
                        return
                if time.monotonic() > deadline:
                    raise ToxiproxyError(
                        f"toxiproxy-server on port {self.port} did not answer /version within {self.startup_timeout} s"
                    )
                time.sleep(0.05)

    def stop(self, grace: float = 5.0) -> None:
        """Terminate, then kill after `grace` seconds; safe to call twice or before start()."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_bytes()[-8192:].decode(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])
