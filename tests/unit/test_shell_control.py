"""ShellControl runs the user's commands for a component; one that starts a process in the background returns
at once instead of waiting on that process's output."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from harness.core.errors import FaultError
from harness.targets import ShellControl

pytestmark = pytest.mark.unit


def test_a_start_command_that_backgrounds_a_process_returns(tmp_path: Path) -> None:
    pidfile = tmp_path / "worker.pid"
    # The docstring's own shape: a start command that leaves a long-lived worker running in the background.
    control = ShellControl(start_cmd=f"sleep 60 & echo $! > {pidfile}", timeout_s=10)
    control.start()  # with its output on a pipe, this waited for the sleep to end (then: "still running after")
    pid = int(pidfile.read_text())
    try:
        os.kill(pid, 0)  # the worker it started is running, beyond the command
    finally:
        os.kill(pid, signal.SIGKILL)


def test_a_failing_command_says_what_it_printed() -> None:
    with pytest.raises(FaultError, match=r"start command 'echo no-such-worker >&2; exit 3' exited 3: no-such-worker"):
        ShellControl(start_cmd="echo no-such-worker >&2; exit 3").start()
