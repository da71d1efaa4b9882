"""Local processes the harness owns: started with a log file and a readiness check, always reaped.

Children get PR_SET_PDEATHSIG, so even a SIGKILLed harness leaves no orphan behind, and their own
session, so a Ctrl-C in the terminal reaches the harness (which tears down in order) and not them.

The kernel ties that death signal to the *thread* that forked the child, not to the process: a component
restarted from a short-lived thread (a timed fault's removal runs on a timer thread) would be SIGKILLed the
moment that thread ended. Every child is therefore forked by one spawner thread that lives as long as the
harness process.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from harness.core.errors import StackStartError

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


# One idle thread for the life of the process: the parent, for PR_SET_PDEATHSIG, of every child it forks.
_SPAWNER = ThreadPoolExecutor(1, thread_name_prefix="harness-spawner")


def spawn(argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    """`subprocess.Popen(argv, **kwargs)` forked by the spawner thread, the child set to die with the harness."""

    def fork() -> subprocess.Popen[bytes]:
        return subprocess.Popen(list(argv), preexec_fn=_die_with_parent, **kwargs)

    return _SPAWNER.submit(fork).result()


def tail(path: Path, lines: int = 25) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 16384))
            text = fh.read().decode(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


class ManagedProcess:
    """One child process: start (and wait until ready), signal, stop, restart; its output goes to a log file."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        *,
        env: Mapping[str, str] | None = None,
        ready: Callable[[], bool] | None = None,
        cwd: str | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = dict(env) if env is not None else None
        self.ready = ready
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None
        self.start_timeout = 15.0  # how long a start waits for `ready` unless told

    def __repr__(self) -> str:
        return f"ManagedProcess({self.name!r}, pid={self.pid})"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float | None = None) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            log.write(f"--- start {' '.join(self.argv)}\n".encode())
            log.flush()
            try:
                self.proc = spawn(
                    self.argv, stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=self.cwd, start_new_session=True
                )
            except OSError as exc:
                raise StackStartError(
                    f"{self.name}: cannot run {self.argv[0]!r} ({exc}); is it installed? `harness doctor` says how"
                ) from exc
        self.wait_ready(self.start_timeout if timeout is None else timeout)

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.ready is not None and not self.ready():
            if not self.alive:
                raise self._error(f"exited with code {self.proc.returncode if self.proc else '?'} before it was ready")
            if time.monotonic() > deadline:
                raise self._error(f"not ready after {timeout:.1f} s")
            time.sleep(0.05)

    def _error(self, what: str) -> StackStartError:
        exc = StackStartError(f"{self.name} {what} (log: {self.log_path})")
        exc.add_note(f"last lines of {self.name}'s log:\n{tail(self.log_path)}")
        return exc

    def signal(self, sig: int) -> None:
        """Signal the component as a whole: its process group (nginx's workers, not just its master)."""
        if self.alive and self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after `timeout`; a stopped (SIGSTOP) process is continued first."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.signal(signal.SIGCONT)
            with contextlib.suppress(ProcessLookupError):
                self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._reap_group()

    def kill(self) -> None:
        """SIGKILL the whole group, so no child of the component (an nginx worker) outlives it."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(5)

    def _reap_group(self) -> None:
        """After the leader is gone, make sure nothing else of its group is left."""
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def restart(self, *, graceful: bool = True, timeout: float | None = None) -> None:
        if graceful:
            self.stop()
        else:
            self.kill()
        self.start(timeout)
