"""SSE streams held at once through nginx on one API process, with heartbeats and no drop (run on demand).

    .venv/bin/python bench/locust_streams.py [--streams 2000] [--rate 100] [--hold 60] [--nginx-connections N]
        [--nginx-workers N] [--processes N]

    10,000 streams: --streams 10000 --rate 200 --nginx-connections 12000 --nginx-workers 2 --processes 2
    (two nginx workers and two Locust processes, as each process may hold at most RLIMIT_NOFILE descriptors).

A stack at real time (15 s heartbeats) behind the `recommended` front; Locust's HeldStream users each start a
one-hour job and hold its stream for --hold seconds (bench/locust_users.py). Sampled every second: streams
open on the API (its sockets), API and Locust RSS. A stream counts as dropped when its follower needed a second
connection or ended for another reason than its own deadline; the exit code is 1 when any was. The shipped nginx
skeleton has one process with `worker_connections 8192` (two per proxied stream); --nginx-connections and
--nginx-workers rewrite the running front's config and reload it (SIGHUP; with workers, restart it with a master:
one process holds at most RLIMIT_NOFILE descriptors, two per stream), to see the next limit. Printed per
stream: the bytes it costs the API, nginx (all its processes) and the load generator (all Locust processes).
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


def tree_rss_mb(pid: int) -> float:
    """The resident memory of a process and all its descendants (nginx's workers, Locust's processes)."""
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            total += rss_mb(current)
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return total


def raise_nginx_limits(stack: object, workdir: Path, connections: int | None, workers: int | None) -> None:
    conf = workdir / "nginx" / "nginx.conf"
    text = conf.read_text()
    if connections:
        text = re.sub(r"worker_connections \d+;", f"worker_connections {connections};", text)
    if workers:  # more than one process needs a master (the shipped front runs without one): a restart, not a reload
        text = re.sub(r"worker_processes \w+;", f"worker_processes {workers};", text)
        text = re.sub(r"master_process off;", "master_process on;", text)
    conf.write_text(text)
    if workers:
        stack.restart("nginx")  # type: ignore[attr-defined]
        return
    stack.signal("nginx", signal.SIGHUP)  # type: ignore[attr-defined]
    time.sleep(1)  # nginx starts its new worker; the old one drains (nothing is connected yet)


def hold(args: argparse.Namespace, workdir: Path, edge: str, api_pid: int, nginx_pid: int) -> dict:
    prefix = workdir / "streams"
    ramp = args.streams / args.rate
    run_s = int(ramp + args.hold + 20)
    argv = [str(LOCUST), "-f", "bench/locust_users.py", "HeldStream", "--headless", "-u", str(args.streams)]
    argv += ["-r", str(args.rate), "-t", f"{run_s}s", "--host", edge, "--json-file", str(prefix)]
    argv += ["--history", str(prefix) + "-history.jsonl", "--no-default-thresholds", "--time-scale", "1"]
    argv += ["--processes", str(args.processes)] if args.processes > 1 else []
    peak = {"api_sockets": 0, "api_rss_mb": 0.0, "locust_rss_mb": 0.0, "nginx_rss_mb": 0.0}
    env = {**ENV, "BENCH_HOLD_S": str(args.hold)}
    with open(str(prefix) + ".log", "w") as log:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        for _ in range(run_s + 600):  # sample once a second while Locust runs (bounded)
            if proc.poll() is not None:
                break
            peak["api_sockets"] = max(peak["api_sockets"], sockets(api_pid))
            peak["api_rss_mb"] = max(peak["api_rss_mb"], rss_mb(api_pid))
            peak["locust_rss_mb"] = max(peak["locust_rss_mb"], tree_rss_mb(proc.pid))
            peak["nginx_rss_mb"] = max(peak["nginx_rss_mb"], tree_rss_mb(nginx_pid))
            time.sleep(1)
        proc.wait(timeout=60)
    rows = {(e["method"], e["name"]): e for e in json.loads(Path(str(prefix) + ".json").read_text())}
    return {"rows": rows, "peak": peak, "rc": proc.returncode, "log": str(prefix) + ".log"}


def report(args: argparse.Namespace, got: dict, idle_rss: float, idle_nginx: float) -> None:
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
    streams = max(1, held["num_requests"] - held["num_failures"])  # the streams really held, not those asked for
    api_kb = (peak["api_rss_mb"] - idle_rss) * 1024 / streams
    nginx_kb = (peak["nginx_rss_mb"] - idle_nginx) * 1024 / streams
    print(f"  API RSS idle {idle_rss:.0f} MB, peak {peak['api_rss_mb']:.0f} MB ({api_kb:.1f} KB a stream)")
    print(f"  nginx RSS idle {idle_nginx:.0f} MB, peak {peak['nginx_rss_mb']:.0f} MB ({nginx_kb:.1f} KB a stream)")
    locust_kb = peak["locust_rss_mb"] * 1024 / streams
    locust = f"{peak['locust_rss_mb']:.0f} MB in {args.processes} process(es)"
    print(f"  Locust RSS peak {locust} ({locust_kb:.0f} KB a stream)")
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
    parser.add_argument("--nginx-workers", type=int, default=None, help="the front's worker_processes")
    parser.add_argument("--processes", type=int, default=1, help="Locust processes (default 1)")
    parser.add_argument("--keep", action="store_true", help="keep the working directory (logs, history)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="locust-streams-"))
    with Stack(StackConfig(time_scale=1.0, workdir=workdir / "stack")) as stack:
        if args.nginx_connections or args.nginx_workers:
            raise_nginx_limits(stack, workdir / "stack", args.nginx_connections, args.nginx_workers)
        pids = stack.pids()
        idle, idle_nginx = rss_mb(pids["api"]), tree_rss_mb(pids["nginx"])
        got = hold(args, workdir, stack.endpoints.edge_url, pids["api"], pids["nginx"])
    report(args, got, idle, idle_nginx)
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return verdict(args, got)


if __name__ == "__main__":
    sys.exit(main())
