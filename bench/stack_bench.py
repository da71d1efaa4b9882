"""Stack figures: boot time of each backend and the cost of each hop on a status request.

    .venv/bin/python bench/stack_bench.py [--boots 5] [--rate 300] [--duration 10] [--backend local]

Boot: wall time from `Stack(...).__enter__` to a chain that answers /health through the edge, over N boots
(median and max). Hops: open-loop status requests at a fixed rate (latency from the intended send time)
against the API directly, through nginx, and through the whole chain (Toxiproxy edge -> nginx -> Toxiproxy
api -> API), on one stack, so the difference between rows is what each hop costs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import _loadgen

from harness.stack import Stack, StackConfig


def boot_times(backend: str, boots: int) -> list[float]:
    times = []
    for _ in range(boots):
        started = time.monotonic()
        with Stack(StackConfig(backend=backend, proxy_config="recommended", time_scale=1.0)):  # type: ignore[arg-type]
            times.append(time.monotonic() - started)
    return times


def hop_latencies(backend: str, rate: float, duration: float) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    with Stack(StackConfig(backend=backend, proxy_config="recommended", time_scale=1.0)) as stack:  # type: ignore[arg-type]
        ep = stack.endpoints
        with httpx.Client(base_url=ep.edge_url) as client:
            job = client.post("/v1/download/initiate", json={"fileIds": [10001]}).json()["jobId"]
        path = f"/v1/download/status/{job}"
        for label, url in [
            ("API direct", ep.api_url),
            ("through nginx", ep.front_url),
            ("nginx + Toxiproxy (edge, api)", ep.edge_url),
        ]:
            port = urlsplit(url).port or 80
            plan = _loadgen.Plan(port=port, rate=rate, duration_s=duration, connections=32)
            result = asyncio.run(_loadgen.run(plan, lambda _i, p=port: _loadgen.get(path, p)))
            out[label] = result.summary()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default="local", choices=("local", "containers"))
    parser.add_argument("--boots", type=int, default=5)
    parser.add_argument("--rate", type=float, default=300.0)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    boots = boot_times(args.backend, args.boots)
    hops = hop_latencies(args.backend, args.rate, args.duration)
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, backend {args.backend}")
    print(
        f"stack boot (recommended, {args.boots} boots): median {statistics.median(boots):.2f} s, max {max(boots):.2f} s"
    )
    print(f"status at {args.rate:g} req/s for {args.duration:g} s (open loop):")
    print(f"  {'path':<32}{'ok':>7}{'err':>6}{'p50 ms':>9}{'p99 ms':>9}{'p99.9 ms':>10}")
    for label, s in hops.items():
        print(f"  {label:<32}{s['ok']:>7}{s['errors']:>6}{s['p50_ms']:>9}{s['p99_ms']:>9}{s['p999_ms']:>10}")
    if args.json:
        args.json.write_text(json.dumps({"boot_s": boots, "hops": hops}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
