"""ShellControl runs the user's commands for a component; one that starts a process in the background returns
at once instead of waiting on that process's output; every start is verified by the ready command."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from harness.core.errors import ConfigError, FaultError
from harness.targets import ShellControl

pytestmark = pytest.mark.unit


def test_a_start_command_that_backgrounds_a_process_returns(tmp_path: Path) -> None:
    pidfile = tmp_path / "worker.pid"
    # The docstring's own shape: a start command that leaves a long-lived worker running in the background.
    control = ShellControl(
        start_cmd=f"sleep 60 & echo $! > {pidfile}", ready_cmd=f"kill -0 $(cat {pidfile})", timeout_s=10
    )
    control.start()  # with its output on a pipe, this waited for the sleep to end (then: "still running after")
    pid = int(pidfile.read_text())
    try:
        os.kill(pid, 0)  # the worker it started is running, beyond the command
    finally:
        os.kill(pid, signal.SIGKILL)


def test_a_failing_command_says_what_it_printed() -> None:
    with pytest.raises(FaultError, match=r"start command 'echo no-such-worker >&2; exit 3' exited 3: no-such-worker"):
        ShellControl(start_cmd="echo no-such-worker >&2; exit 3", ready_cmd="true").start()


def test_a_start_that_brings_nothing_back_fails_naming_what_it_saw(tmp_path: Path) -> None:
    """The start command succeeds but starts nothing (a typo in a path, a service manager that says ok): the
    ready command never succeeds, and the fault says so instead of passing for healed."""
    control = ShellControl(
        start_cmd="true", ready_cmd=f"test -e {tmp_path / 'worker.pid'} || echo no pid file; false", ready_timeout_s=1
    )
    with pytest.raises(FaultError, match=r"did not come back within 1 s: ready command .* exited 1: no pid file"):
        control.start()
    restart = ShellControl(restart_cmd="true", ready_cmd="echo still down; false", ready_timeout_s=0.5)
    with pytest.raises(FaultError, match=r"\(restart done\) did not come back within 0.5 s: .*still down"):
        restart.restart(graceful=True)


def test_a_start_command_without_a_ready_command_is_refused_up_front() -> None:
    with pytest.raises(ConfigError, match=r"ShellControl\(start_cmd='./start-worker &'\) needs ready_cmd=\.\.\."):
        ShellControl(kill_cmd="pkill -9 -f my-worker", start_cmd="./start-worker &")
