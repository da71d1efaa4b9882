"""A component restarted from a short-lived thread outlives that thread.

Children are set to die with their parent (PR_SET_PDEATHSIG), and the kernel ties that to the thread that forked
them: a Redis restarted by a timed fault's removal (a timer thread) was SIGKILLed when the timer thread ended, so
a Redis outage never came back and every later request answered 503."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from harness.core.processes import ManagedProcess

pytestmark = pytest.mark.unit


def test_a_process_started_on_a_thread_that_ends_keeps_running(tmp_path: Path) -> None:
    proc = ManagedProcess("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / "s.log")
    starter = threading.Thread(target=proc.start)
    starter.start()
    starter.join()
    assert proc.proc is not None
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            proc.proc.wait(timeout=1.0)  # forked by the ended thread, it was SIGKILLed at once: returncode -9
        assert proc.alive
    finally:
        proc.stop()
    assert not proc.alive
