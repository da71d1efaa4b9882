"""The process figures the chaos cases sample: resident memory and open descriptors, read from /proc."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.core.procfs import process_figures

pytestmark = pytest.mark.unit


def test_a_live_process_has_memory_and_descriptors_that_follow_what_it_opens(tmp_path: Path) -> None:
    before = process_figures(os.getpid())
    assert before["rss_kb"] > 1000 and before["fds"] >= 3, before
    files = [(tmp_path / f"f{i}").open("w") for i in range(20)]
    try:
        assert process_figures(os.getpid())["fds"] == before["fds"] + 20
    finally:
        for f in files:
            f.close()


def test_a_process_that_is_gone_or_unreadable_has_no_figures(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    assert process_figures(int(done.stdout)) == {}
    (tmp_path / "7" / "fd").mkdir(parents=True)
    (tmp_path / "7" / "status").write_text("Name:\tzombie\nState:\tZ (zombie)\n")
    assert process_figures(7, proc=tmp_path) == {}, "a zombie has no VmRSS"


def test_a_free_port_is_drawn_below_the_ephemeral_range_and_is_bindable() -> None:
    import socket

    from harness.core.net import LOWEST_PORT, ephemeral_start, free_port

    for _ in range(20):
        port = free_port()
        assert LOWEST_PORT <= port < ephemeral_start(), port  # no outgoing connection can take it meanwhile
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))
