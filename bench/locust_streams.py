"""SSE streams held at once through nginx on one API process, with heartbeats and no drop (run on demand).

    .venv/bin/python bench/locust_streams.py [--streams 2000] [--rate 100] [--hold 60] [--nginx-connections N]

A stack at real time (15 s heartbeats) behind the `recommended` front; Locust's HeldStream users each start a
one-hour job and hold its stream for --hold seconds (bench/locust_users.py). Sampled every second: streams
open on the API (its sockets), API and Locust RSS. A stream counts as dropped when its follower needed a second
connection or ended for another reason than its own deadline; the exit code is 1 when any was. The shipped nginx
skeleton has one process with `worker_connections 8192` (two per proxied stream); --nginx-connections rewrites
the running front's config and reloads it (SIGHUP), to see the next limit.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.stack import Stack, StackConfig  # noqa: E402

LOCUST = Path(sys.executable).with_name("locust")
ENV = {**os.environ, "PATH": f"{ROOT / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}


def rss_mb(pid: int) -> float:
    match = re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{pid}/status").read_text())
    return int(match.group(1)) / 1024 if match else 0.0


def sockets(pid: int) -> int:
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            count += os.readlink(fd).startswith("socket:")
        except OSError:
            continue
    return count


def raise_nginx_connections(stack: object, workdir: Path, connections: int) -> None:
    conf = workdir / "nginx" / "nginx.conf"
    conf.write_text(re.sub(r"worker_connections \d+;", f"worker_connections {connections};", conf.read_text()))
    stack.signal("nginx", signal.SIGHUP)  # type: ignore[attr-defined]
    time.sleep(1)  # nginx starts its new worker; the old one drains (nothing is connected yet)


def hold(args: argparse.Namespace, workdir: Path, edge: str, api_pid: int) -> dict:
    prefix = workdir / "streams"
    ramp = args.streams / args.rate
    run_s = int(ramp + args.hold + 20)
    argv = [str(LOCUST), "-f", "bench/locust_users.py", "HeldStream", "--headless", "-u", str(args.streams)]
    argv += ["-r", str(args.rate), "-t", f"{run_s}s", "--host", edge, "--json-file", str(prefix)]
    argv += ["--history", str(prefix) + "-history.jsonl", "--no-default-thresholds", "--time-scale", "1"]
    peak = {"api_sockets": 0, "api_rss_mb": 0.0, "locust_rss_mb": 0.0}
    env = {**ENV, "BENCH_HOLD_S": str(args.hold)}
    with open(str(prefix) + ".log", "w") as log:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        for _ in range(run_s + 600):  # sample once a second while Locust runs (bounded)
            if proc.poll() is not None:
                break
            peak["api_sockets"] = max(peak["api_sockets"], sockets(api_pid))
            peak["api_rss_mb"] = max(peak["api_rss_mb"], rss_mb(api_pid))
            peak["locust_rss_mb"] = max(peak["locust_rss_mb"], rss_mb(proc.pid))
            time.sleep(1)
        proc.wait(timeout=60)
    rows = {(e["method"], e["name"]): e for e in json.loads(Path(str(prefix) + ".json").read_text())}
    return {"rows": rows, "peak": peak, "rc": proc.returncode, "log": str(prefix) + ".log"}


def report(args: argparse.Namespace, got: dict, idle_rss: float) -> None:
    rows, peak = got["rows"], got["peak"]
    held = rows.get(("SSE", "held"), {"num_requests": 0, "num_failures": 0})
    gap = rows.get(("SSE", "max_gap"), {}).get("max_response_time", 0)
    reconnects = rows.get(("SSE", "reconnects"), {}).get("max_response_time", 0)
    initiated = rows.get(("POST", "initiate"), {})
    front = f"worker_connections {args.nginx_connections or 'as shipped'}"
    print(f"streams asked {args.streams} (ramp {args.rate}/s, hold {args.hold} s), nginx {front}")
    print(f"  initiate: {initiated.get('num_requests', 0)} sent, {initiated.get('num_failures', 0)} failed")
    print(f"  held to the end: {held['num_requests'] - held['num_failures']}, cut/failed: {held['num_failures']}")
    print(f"  largest gap between bytes: {gap / 1000:.1f} s; most reconnections of one stream: {reconnects}")
    print(f"  peak API sockets {peak['api_sockets']} (= streams + Redis pool + listener)")
    print(f"  API RSS idle {idle_rss:.0f} MB, peak {peak['api_rss_mb']:.0f} MB")
    print(f"  Locust RSS peak {peak['locust_rss_mb']:.0f} MB")
    # Each held stream ends at its own deadline, which Locust counts as a failed `stream` request: its exit code
    # is not the verdict, the `held` row is (see `verdict`).
    print(f"  locust exit code {got['rc']}" + (f"; log {got['log']}" if args.keep else " (--keep to keep its log)"))


def verdict(args: argparse.Namespace, got: dict) -> int:
    """0 when every stream asked for was opened and held to its end without a cut."""
    held = got["rows"].get(("SSE", "held"), {"num_requests": 0, "num_failures": 1})
    ok = held["num_requests"] == args.streams and held["num_failures"] == 0
    print(f"verdict: {'every' if ok else 'NOT every'} stream held to its end")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--hold", type=float, default=60)
    parser.add_argument("--nginx-connections", type=int, default=None, help="raise the front's worker_connections")
    parser.add_argument("--keep", action="store_true", help="keep the working directory (logs, history)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="locust-streams-"))
    with Stack(StackConfig(time_scale=1.0, workdir=workdir / "stack")) as stack:
        if args.nginx_connections:
            raise_nginx_connections(stack, workdir / "stack", args.nginx_connections)
        api_pid = stack.pids()["api"]
        idle = rss_mb(api_pid)
        got = hold(args, workdir, stack.endpoints.edge_url, api_pid)
    report(args, got, idle)
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return verdict(args, got)


if __name__ == "__main__":
    sys.exit(main())
