"""What a process holds, read from /proc: its resident memory and its open file descriptors (Linux).

The chaos cases sample the processes the harness started (a local process, or a container's init by its host
pid) before the load and after it drained; the checker compares the two (`resource_leak`).
"""

from __future__ import annotations

import os
from pathlib import Path

PROC = Path("/proc")


def process_figures(pid: int, proc: Path = PROC) -> dict[str, int]:
    """{"rss_kb": resident set size, "fds": open file descriptors} of `pid`; {} when it is gone or unreadable."""
    try:
        status = (proc / str(pid) / "status").read_text()
        fds = len(os.listdir(proc / str(pid) / "fd"))
    except OSError:
        return {}
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return {"rss_kb": int(line.split()[1]), "fds": fds}
    return {}  # a zombie has no VmRSS
