"""`make demo`: the project's main job in about two minutes of scaled time.

Behind three fronts (a fresh stack each) — recommended (safe), nginx-defaults (cuts the legacy synchronous
start at 60 s) and buffered-sse (holds the SSE stream) — it runs the same seeded mixed workload while a fault
schedule plays (latency + jitter on the API, a Redis SIGKILL, a worker kill, an edge reset), then measures
where each front breaks (legacy job length, SSE heartbeat interval) beside what its timers predict, and writes
one report: reports/<run-id>/report.html (reports/latest points at it), summary.md and results.json. It ends
by saying where the report is and which config to ship.
"""

from __future__ import annotations

import os
import sys

from harness.cli.report import publish
from harness.compare import BOUNDARY_FLOWS
from harness.compare.boundary import SearchSpec, search_all
from harness.compare.drive import RunPlan
from harness.compare.run import Progress, compare
from harness.core.errors import HarnessError
from harness.core.timescale import ENV_VAR, parse_time_scale
from harness.report import output
from harness.report.text import boundaries_text, matrix_text

CONFIGS = ("recommended", "nginx-defaults", "buffered-sse")
DEFAULT_SCALE = 0.05


def main() -> int:
    scale = parse_time_scale(os.environ.get(ENV_VAR) or DEFAULT_SCALE)
    plan = RunPlan(seed=7, jobs=24, time_scale=scale, faults="demo")
    directory = output.run_dir("demo")
    say = Progress()
    say(f"demo: {', '.join(CONFIGS)} at time scale {scale:g} (a '120 s' job takes {120 * scale:g} s); run {directory}")
    try:
        record = compare(CONFIGS, plan, directory, say, kind="demo", title="Async download behind three proxy configs")
        spec = SearchSpec(time_scale=scale, tolerance=0.04, max_probes=8)
        record.boundaries = search_all(list(CONFIGS), list(BOUNDARY_FLOWS), spec, say, parallel=len(CONFIGS))
        results = record.finish()
    except HarnessError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        for note in getattr(exc, "__notes__", ()):
            print(note, file=sys.stderr)
        return 2
    print(matrix_text(results))
    print(boundaries_text(results))
    publish(results, directory)
    say(f"demo done; open {directory / 'report.html'}")
    mismatched = [c["name"] for c in results["configs"] if any(f["matches"] is False for f in c["flows"].values())]
    return 1 if mismatched else 0


if __name__ == "__main__":
    sys.exit(main())
