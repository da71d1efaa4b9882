"""Harness overhead in Locust, and request latency at 500 polling users (run on demand; prints a table).

    .venv/bin/python bench/locust_overhead.py [--seconds 20] [--users 20] [--part all|overhead|latency]

1. Overhead: the same closed loop of status requests from one Locust process, as a bare FastHttpUser
   (RawStatus), through the harness (HarnessStatus: ServiceClient + history + Locust rows), the same without
   writing the history (UnrecordedStatus: what recording costs, goal <= 5 %) and through httpx (HttpxStatus).
   Against a static status answer from nginx the server costs next to nothing, so requests/s measure the load
   generator (goal: harness >= 0.8 x raw); then the same through a real stack.
2. Latency: scenarios/polling.py at 500 users (spawned at 50/s) through nginx (real time: 5 s poll hints,
   10-120 s jobs); initiate and status p50/p99 from Locust's CSV.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.core.net import free_port, http_ok  # noqa: E402
from harness.core.processes import ManagedProcess  # noqa: E402
from harness.fronts.nginx import nginx_binary  # noqa: E402
from harness.stack import Stack, StackConfig  # noqa: E402

LOCUST = Path(sys.executable).with_name("locust")
STATUS_BODY = {"jobId": "x", "status": "running", "progress": 0.5, "attempts": 1, "nextPollInMs": 5000}
ENV = {**os.environ, "PATH": f"{ROOT / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}


def static_status_server(workdir: Path) -> tuple[ManagedProcess, str]:
    """nginx answering every GET with one fixed status body: a server that costs next to nothing."""
    port = free_port()
    (workdir / "logs").mkdir(parents=True, exist_ok=True)
    conf = workdir / "nginx.conf"
    conf.write_text(
        f'worker_processes 1; pid "{workdir}/nginx.pid"; error_log "{workdir}/error.log";\n'
        "events { worker_connections 4096; }\n"
        f"http {{ access_log off; server {{ listen 127.0.0.1:{port}; location / {{\n"
        f"  default_type application/json; return 200 '{json.dumps(STATUS_BODY)}'; }} }} }}\n"
    )
    argv = [nginx_binary(), "-p", str(workdir), "-c", str(conf), "-g", "daemon off;"]
    proc = ManagedProcess("static-nginx", argv, workdir / "nginx.log", ready=http_ok(f"http://127.0.0.1:{port}/"))
    proc.start()
    return proc, f"http://127.0.0.1:{port}"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_locust(
    workdir: Path, locustfile: str, host: str, users: int, seconds: int, *extra: str, rate: int = 0, **env: str
) -> dict:
    """One headless run; the rows from the CSV, the failures seen, and the process's CPU share in mid-run."""
    prefix = workdir / f"{Path(locustfile).stem}-{'-'.join(extra) or 'all'}-{users}"
    argv = [str(LOCUST), "-f", locustfile, *extra, "--headless", "-u", str(users), "-r", str(rate or users)]
    argv += ["-t", f"{seconds}s", "--host", host, "--csv", str(prefix), "--only-summary"]
    argv += ["--history", str(prefix) + "-history.jsonl", "--no-default-thresholds"]
    with open(str(prefix) + ".log", "w") as log:
        proc = subprocess.Popen(argv, cwd=ROOT, env={**ENV, **env}, stdout=log, stderr=subprocess.STDOUT)
        time.sleep(min(5, seconds / 4))  # a measurement window, not a synchronisation
        c0, t0 = cpu_seconds(proc.pid), time.monotonic()
        time.sleep(seconds / 2)
        cpu = (cpu_seconds(proc.pid) - c0) / (time.monotonic() - t0)
        proc.wait(timeout=seconds + 300)
    with open(f"{prefix}_stats.csv", newline="") as f:
        rows = {(r["Type"], r["Name"]): r for r in csv.DictReader(f)}
    with open(f"{prefix}_failures.csv", newline="") as f:
        failures = [f"{r['Occurrences']} x {r['Method']} {r['Name']}: {r['Error']}" for r in csv.DictReader(f)]
    return {"rows": rows, "cpu": cpu, "rc": proc.returncode, "failures": failures}


def overhead(workdir: Path, host: str, users: int, seconds: int, label: str, repeat: int) -> None:
    """Each class `repeat` times, interleaved (the machine is shared: load drifts); medians are compared."""
    results: dict[str, list[tuple[float, float, str]]] = {}
    for _ in range(repeat):
        for cls in ("RawStatus", "HarnessStatus", "UnrecordedStatus", "HttpxStatus"):
            got = run_locust(workdir, "bench/locust_users.py", host, users, seconds, cls, BENCH_JOB_ID=JOB[0])
            row = got["rows"][("GET", "status")]
            results.setdefault(cls, []).append((float(row["Requests/s"]), got["cpu"], row["99%"]))
    median = {cls: statistics.median(r[0] for r in runs) for cls, runs in results.items()}
    for cls, runs in results.items():
        rps = " ".join(f"{r[0]:.0f}" for r in runs)
        per_core = statistics.median(r[0] / max(r[1], 0.01) for r in runs)
        print(f"{label:<14}{cls:<17}median {median[cls]:>6.0f} req/s ({rps})  {per_core:>6.0f} req/s per core")
    ratio = median["HarnessStatus"] / median["RawStatus"]
    print(f"{label:<14}harness/raw = {ratio:.2f}   httpx/raw = {median['HttpxStatus'] / median['RawStatus']:.2f}")
    cost = 1 - median["HarnessStatus"] / median["UnrecordedStatus"]
    print(f"{label:<14}history writing costs {cost * 100:.1f} % of the harness's throughput (goal <= 5 %)")


JOB = ["00000000-0000-7000-8000-000000000000"]


def latency(workdir: Path, host: str, seconds: int) -> None:
    got = run_locust(workdir, "scenarios/polling.py", host, 500, seconds, "--time-scale", "1", rate=50)
    for kind, name in (("POST", "initiate"), ("GET", "status"), ("JOB", "e2e")):
        r = got["rows"].get((kind, name))
        if r:
            print(
                f"500 pollers   {kind} {name:<10} n={r['Request Count']:>6} fails={r['Failure Count']:>4} "
                f"rps={float(r['Requests/s']):>6.1f} p50={r['50%']} ms p99={r['99%']} ms max={r['100%']} ms"
            )
    for failure in got["failures"]:
        print(f"500 pollers   failed: {failure}")
    print(f"500 pollers   locust CPU {got['cpu'] * 100:.0f} %, exit code {got['rc']}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--latency-seconds", type=int, default=60)
    parser.add_argument("--part", choices=("all", "overhead", "latency"), default="all")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="locust-bench-") as tmp:
        workdir = Path(tmp)
        if args.part in ("all", "overhead"):
            server, url = static_status_server(workdir / "static")
            try:
                overhead(workdir, url, args.users, args.seconds, "static nginx", args.repeat)
            finally:
                server.stop()
        with Stack(StackConfig(time_scale=1.0, workdir=workdir / "stack")) as stack:
            edge = stack.endpoints.edge_url
            JOB[0] = httpx.post(f"{edge}/v1/download/initiate", json={"fileIds": [10_001]}).json()["jobId"]
            if args.part in ("all", "overhead"):
                overhead(workdir, edge, args.users, args.seconds, "stack (nginx)", args.repeat)
            if args.part in ("all", "latency"):
                latency(workdir, edge, args.latency_seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
