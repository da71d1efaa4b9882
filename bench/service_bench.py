"""Open-loop benchmark of the reference service's hot paths, next to a floor app, on this machine.

It boots Redis (AOF everysec), one API process, one worker and the floor app (bench/floor_app.py) on free
loopback ports, then measures: initiate and status latency at a fixed rate, and the highest status rate whose
p99 stays within bound, for the API and for the floor. Everything it starts is stopped on exit, Ctrl-C or error.

The worker keeps running at the CLI's default concurrency (20) with jobs at modelled speed (time scale 1, so a job
takes 10-120 s): the API is measured beside the load a real worker puts on Redis, while nearly every initiated
job stays queued. The machine is shared, so every window also records what each process and the rest of the
machine used; the CPU cost per status request (API vs floor) is the figure that neighbours hardly move.

    .venv/bin/python bench/service_bench.py [--duration 10] [--rate 500] [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import secrets
import shlex
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import redis
import uvloop
from _loadgen import Plan, get, post_json, run

from harness.core.net import free_port, http_ok
from harness.core.processes import ManagedProcess
from harness.stack.components import ServiceRun, redis_process
from harness.stack.service import load_service
from reference_service.jobs import Keys

FLOOR_APP = Path(__file__).resolve().with_name("floor_app.py")
FLOOR_PREFIX, FLOOR_ITEM = "floor:", "job"
CLI_DEFAULT_CONCURRENCY = 20  # `reference-service worker` without --concurrency
AIMS = {"initiate_p99_ms": 25.0, "status_p99_ms": 10.0, "capacity_p99_ms": 50.0, "capacity_ratio": 0.8}


@dataclass(frozen=True)
class BenchConfig:
    duration_s: float
    rate: float
    warmup_s: float
    step: float
    max_rate: float
    step_duration_s: float
    refine: int
    attempts: int
    connections: int
    worker_concurrency: int

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> BenchConfig:
        """Quick: a smoke run of a few seconds. Full: 2 bisection rounds, a missed step measured twice."""
        quick = args.quick
        return cls(
            duration_s=1.0 if quick else args.duration,
            rate=args.rate,
            warmup_s=0.3 if quick else 1.0,
            step=args.step,
            max_rate=2 * args.step if quick else args.max_rate,
            step_duration_s=0.7 if quick else max(2.0, args.duration / 2),
            refine=0 if quick else 2,
            attempts=1 if quick else 2,
            connections=args.connections,
            worker_concurrency=args.worker_concurrency,
        )


@dataclass
class BenchStack:
    redis: ManagedProcess
    api: ManagedProcess
    floor: ManagedProcess
    worker: ManagedProcess | None
    api_port: int
    floor_port: int

    def processes(self) -> dict[str, ManagedProcess]:
        procs = {"api": self.api, "floor": self.floor, "redis": self.redis}
        return procs | ({"worker": self.worker} if self.worker else {})


def _start(stack: contextlib.ExitStack, proc: ManagedProcess) -> ManagedProcess:
    stack.callback(proc.stop)  # registered first: a half-started process is stopped too
    proc.start(timeout=30)
    return proc


@contextlib.contextmanager
def bench_stack(root: Path, cfg: BenchConfig) -> Iterator[BenchStack]:
    """Redis + API + worker (time scale 1: jobs run at modelled speed) + the floor app; all stopped on exit."""
    logs = root / "logs"
    redis_port, api_port, floor_port = free_port(), free_port(), free_port()
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    with contextlib.ExitStack() as stack:
        rds = _start(stack, redis_process(redis_port, root / "redis", logs, aof="everysec"))
        run = ServiceRun(load_service("reference"), redis_url, root / "artifacts", secrets.token_urlsafe(16), 1.0)
        env = run.env()
        api = _start(stack, run.api(api_port, logs))
        worker = None
        if cfg.worker_concurrency > 0:
            worker = _start(stack, run.worker(0, logs, concurrency=cfg.worker_concurrency))
        _seed_floor_hash(api_port, redis_port)
        argv = [sys.executable, str(FLOOR_APP), "--port", str(floor_port), "--redis-url", redis_url]
        floor_url = f"http://127.0.0.1:{floor_port}/floor/{FLOOR_ITEM}"
        floor = _start(stack, ManagedProcess("floor", argv, logs / "floor.log", env=env, ready=http_ok(floor_url)))
        print(f"listening: redis :{redis_port}  api :{api_port}  floor :{floor_port}  (logs in {logs})", flush=True)
        yield BenchStack(rds, api, floor, worker, api_port, floor_port)


def _seed_floor_hash(api_port: int, redis_port: int) -> None:
    """The floor serves a copy of a real job hash, so both endpoints move the same bytes out of Redis."""
    reply = httpx.post(f"http://127.0.0.1:{api_port}/v1/download/initiate", json={"fileIds": [10_000]}, timeout=10)
    reply.raise_for_status()
    with redis.Redis(host="127.0.0.1", port=redis_port) as client:
        fields = client.hgetall(Keys().job(reply.json()["jobId"]))
        client.hset(FLOOR_PREFIX + FLOOR_ITEM, mapping=fields)


def _cpu_seconds(pid: int | None) -> float:
    """User + system CPU of a process, all its threads, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_seconds() -> dict[str, float]:
    """Machine-wide CPU seconds: busy in tasks (user + system), in interrupts (loopback networking lands there,
    unattributed to any process), stolen by the hypervisor; and seconds some task waited for a CPU (PSI)."""
    out = {"machine": 0.0, "irq": 0.0, "steal": 0.0, "pressure": 0.0}
    with contextlib.suppress(OSError, ValueError, IndexError):
        user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, Path("/proc/stat").read_text().split()[1:9])
        tick = os.sysconf("SC_CLK_TCK")
        out |= {"machine": (user + nice + system) / tick, "irq": (irq + softirq) / tick, "steal": steal / tick}
    with contextlib.suppress(OSError, ValueError, IndexError):
        out["pressure"] = int(Path("/proc/pressure/cpu").read_text().split()[4].split("=")[1]) / 1e6
    return out


def cpu_snapshot(procs: dict[str, ManagedProcess]) -> dict[str, float]:
    return {name: _cpu_seconds(p.pid) for name, p in procs.items()} | {"generator": _cpu_seconds(os.getpid())}


def cpu_shares(before: dict[str, float], after: dict[str, float], wall: float) -> dict[str, float]:
    """Cores used per process over the window; `others` is what the rest of the machine took meanwhile."""
    shares = {name: round((after[name] - before[name]) / wall, 3) for name in before}
    ours = sum(v for k, v in shares.items() if k not in ("machine", "irq", "steal", "pressure"))
    shares["others"] = round(max(0.0, shares["machine"] - ours), 3)
    return shares


class Bench:
    """Runs plans on one uvloop event loop and adds each process's CPU share to every summary."""

    def __init__(self, runner: asyncio.Runner, stack: BenchStack, cfg: BenchConfig) -> None:
        self.runner, self.stack, self.cfg = runner, stack, cfg

    def measure(self, port: int, rate: float, duration_s: float, request: Callable[[int], bytes], **kw: Any) -> Any:
        procs = self.stack.processes()
        before = cpu_snapshot(procs) | _machine_seconds()
        t0 = time.monotonic()
        plan = Plan(port, rate, duration_s, self.cfg.warmup_s, self.cfg.connections, **kw)
        result = self.runner.run(run(plan, request))
        wall = time.monotonic() - t0
        summary = result.summary()
        summary["cpu_share"] = cpu_shares(before, cpu_snapshot(procs) | _machine_seconds(), wall)
        return summary, result

    def idle_window(self, seconds: float = 1.0) -> dict[str, float]:
        """What the machine does while the stack idles: how busy the neighbours are before the load starts."""
        procs = self.stack.processes()
        before, t0 = cpu_snapshot(procs) | _machine_seconds(), time.monotonic()
        time.sleep(seconds)
        return cpu_shares(before, cpu_snapshot(procs) | _machine_seconds(), time.monotonic() - t0)

    def initiate(self) -> tuple[dict[str, Any], list[str]]:
        port, cfg = self.stack.api_port, self.cfg
        total = Plan(port, cfg.rate, cfg.duration_s, cfg.warmup_s).total
        payloads = [
            post_json("/v1/download/initiate", port, b'{"fileIds":[%d,%d,%d]}' % (a, a + 1, a + 2))
            for a in range(20_000, 20_000 + 3 * total, 3)
        ]
        summary, result = self.measure(port, cfg.rate, cfg.duration_s, payloads.__getitem__, keep_bodies=True)
        return summary, [json.loads(body)["jobId"] for body in result.bodies]

    def status_requests(self, job_ids: list[str]) -> Callable[[int], bytes]:
        payloads = [get(f"/v1/download/status/{job_id}", self.stack.api_port) for job_id in job_ids]
        return lambda i: payloads[i % len(payloads)]

    def floor_requests(self) -> Callable[[int], bytes]:
        payload = get(f"/floor/{FLOOR_ITEM}", self.stack.floor_port)
        return lambda i: payload

    def status(self, job_ids: list[str]) -> dict[str, Any]:
        summary, _ = self.measure(
            self.stack.api_port, self.cfg.rate, self.cfg.duration_s, self.status_requests(job_ids)
        )
        return summary

    def capacity(self, job_ids: list[str]) -> dict[str, Any]:
        """Step the rate up, API and floor interleaved at each step; then bisect between last pass and first miss."""
        targets = {
            "api": (self.stack.api_port, self.status_requests(job_ids)),
            "floor": (self.stack.floor_port, self.floor_requests()),
        }
        steps: dict[str, list[dict[str, Any]]] = {name: [] for name in targets}
        bounds = {name: [0.0, 0.0] for name in targets}  # [highest pass, lowest miss (0 = none yet)]
        rate = self.cfg.step
        while rate <= self.cfg.max_rate and any(hi == 0 for _, hi in bounds.values()):
            for name in [n for n, (_, hi) in bounds.items() if hi == 0]:
                self._step(name, targets[name], rate, steps, bounds)
            rate += self.cfg.step
        for _ in range(self.cfg.refine):
            for name, (lo, hi) in bounds.items():
                mid = round((lo + hi) / 2 / 50) * 50
                if hi and lo < mid < hi:
                    self._step(name, targets[name], mid, steps, bounds)
        common = {s["rate"] for s in steps["api"]} & {s["rate"] for s in steps["floor"]}
        out: dict[str, Any] = {
            name: {
                "max_rate": lo,
                "first_miss": hi or None,
                "cpu_us_per_request": _cpu_per_request(name, steps[name], common),
                "steps": sorted(steps[name], key=lambda s: s["rate"]),
            }
            for name, (lo, hi) in bounds.items()
        }
        out["ratio"] = round(out["api"]["max_rate"] / out["floor"]["max_rate"], 3) if out["floor"]["max_rate"] else None
        api_cost, floor_cost = out["api"]["cpu_us_per_request"], out["floor"]["cpu_us_per_request"]
        out["cpu_ratio"] = round(floor_cost / api_cost, 3) if api_cost and floor_cost else None
        return out

    def _step(self, name: str, target: Any, rate: float, steps: dict[str, Any], bounds: dict[str, list[float]]) -> None:
        """One rate for one target; a miss is measured again, so one stall of a shared machine is not a verdict."""
        port, request = target
        for attempt in range(1, self.cfg.attempts + 1):
            summary, _ = self.measure(port, rate, self.cfg.step_duration_s, request)
            ok = summary["errors"] == 0 and summary["ok"] > 0 and summary["p99_ms"] <= AIMS["capacity_p99_ms"]
            summary |= {"pass": ok, "attempt": attempt}
            steps[name].append(summary)
            verdict = "pass" if ok else "miss"
            print(
                f"  step {name:5} {rate:6.0f}/s  try {attempt}  p99 {summary['p99_ms']:8.2f} ms  {verdict}", flush=True
            )
            if ok:
                break
        lo, hi = bounds[name]
        bounds[name] = [max(lo, rate), hi] if ok else [lo, min(hi, rate) if hi else rate]


def _cpu_per_request(name: str, steps: list[dict[str, Any]], rates: set[float]) -> float | None:
    """Median CPU µs the target process spent per request at the given rates: a figure neighbours hardly move."""
    costs = sorted(s["cpu_share"][name] / s["rate"] * 1e6 for s in steps if s["ok"] and s["rate"] in rates)
    return round(costs[len(costs) // 2], 1) if costs else None


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        model = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")), "")
    return {
        "cores": len(os.sched_getaffinity(0)),
        "cpu": model,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
    }


def _row(label: str, s: dict[str, Any], aim: str, target: str = "api") -> str:
    gen, cpu = s["generator"], s["cpu_share"]
    return (
        f"{label:16}{s['rate']:>7.0f}{s['ok']:>7}{s['errors']:>5}{s['p50_ms']:>9.2f}{s['p99_ms']:>9.2f}"
        f"{s['p999_ms']:>9.2f}{s['max_ms']:>9.2f}  {aim:17}{gen['cpu_share']:>7.0%}{gen['send_lag_p99_ms']:>8.2f}"
        f"   {target} {cpu.get(target, 0):.0%} redis {cpu.get('redis', 0):.0%} worker {cpu.get('worker', 0):.0%}"
        f" | others {cpu['others']:.0%} steal {cpu['steal']:.0%} psi {cpu['pressure']:.0%}"
    )


def report(figures: dict[str, Any]) -> None:
    m, cfg, cap = figures["machine"], figures["config"], figures["capacity"]
    print(f"\ncommand: {figures['command']}")
    print(f"machine: {m['cores']} cores ({m['cpu']}), {m['python']}, {m['platform']}")
    workers = f"1 process, concurrency {cfg['worker_concurrency']}" if cfg["worker_concurrency"] else "stopped"
    print(f"worker: {workers}, jobs at modelled speed (10-120 s each); Redis AOF everysec; open-loop generator")
    print(f"\n{'':16}{'rate/s':>7}{'ok':>7}{'err':>5}{'p50 ms':>9}{'p99 ms':>9}{'p99.9':>9}{'max ms':>9}  ", end="")
    print(f"{'aim':17}{'gen cpu':>7}{'lag p99':>8}   process cpu")
    for key, aim in (("initiate", "initiate_p99_ms"), ("status", "status_p99_ms")):
        s = figures[key]
        verdict = "met" if s["p99_ms"] <= AIMS[aim] and s["errors"] == 0 else "MISSED"
        print(_row(key, s, f"p99<={AIMS[aim]:g} {verdict}"))
    print(
        f"\nhighest status rate with p99 <= {AIMS['capacity_p99_ms']:g} ms (steps of {cfg['step']:g}/s, then bisect):"
    )
    for name in ("api", "floor"):
        c = cap[name]
        miss = f"first miss {c['first_miss']:.0f}/s" if c["first_miss"] else f"no miss up to {cfg['max_rate']:.0f}/s"
        print(f"  {name:6}{c['max_rate']:>7.0f}/s   ({miss})")
        for s in c["steps"]:
            print(_row(f"  {name} {'pass' if s['pass'] else 'miss'}", s, "", name))
    ratio = cap["ratio"]
    verdict = "met" if ratio is not None and ratio >= AIMS["capacity_ratio"] else "MISSED"
    print(f"  ratio api/floor: {ratio if ratio is not None else 'n/a'} (aim >= {AIMS['capacity_ratio']}) {verdict}")
    api_cost, floor_cost = cap["api"]["cpu_us_per_request"], cap["floor"]["cpu_us_per_request"]
    print(f"  cpu per request at the rates both ran: api {api_cost} µs, floor {floor_cost} µs", end="")
    print(f" -> cpu-bound ratio {cap['cpu_ratio']}")
    windows = [figures["initiate"], figures["status"], *(s for n in ("api", "floor") for s in cap[n]["steps"])]
    others = max(w["cpu_share"]["others"] for w in windows)
    print("\nprocess cpu: cores each used over the window; others: every other task on this machine; steal: taken by")
    print("the hypervisor; psi: share of the window in which some task waited for a CPU (/proc/pressure/cpu).")
    if others > 0.2:
        print(f"WARNING: other processes took up to {others:.2f} cores in a window; latencies there are pessimistic.")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=float, default=10.0, help="seconds recorded per fixed-rate phase (default 10)")
    p.add_argument("--rate", type=float, default=500.0, help="req/s of the initiate and status phases (default 500)")
    p.add_argument("--step", type=float, default=500.0, help="capacity ramp step, req/s (default 500)")
    p.add_argument("--max-rate", type=float, default=6000.0, help="capacity ramp ceiling, req/s (default 6000)")
    p.add_argument("--connections", type=int, default=64, help="keep-alive connections per run (default 64)")
    p.add_argument("--worker-concurrency", type=int, default=CLI_DEFAULT_CONCURRENCY, help="0 = no worker")
    p.add_argument("--quick", action="store_true", help="a few seconds in all: smoke run, figures not meaningful")
    p.add_argument("--json", type=Path, help="also write the figures to this file")
    args = p.parse_args(argv)
    if not (0 < args.duration <= 600 and 0 < args.rate <= 20_000 and 0 < args.step <= args.max_rate <= 50_000):
        p.error("need 0 < --duration <= 600, 0 < --rate <= 20000, 0 < --step <= --max-rate <= 50000")
    if not 1 <= args.connections <= 1024:
        p.error("--connections must be within 1..1024")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cfg = BenchConfig.from_args(args)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM unwinds like Ctrl-C: teardown runs
    command = shlex.join([sys.executable, *sys.argv])
    figures: dict[str, Any] = {"command": command, "machine": machine(), "config": asdict(cfg), "aims": AIMS}
    with (
        tempfile.TemporaryDirectory(prefix="service-bench-") as tmp,
        bench_stack(Path(tmp), cfg) as stack,
        asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner,
    ):
        bench = Bench(runner, stack, cfg)
        figures["machine"]["idle_window"] = bench.idle_window()
        print(f"before load, others used {figures['machine']['idle_window']['others']:.2f} cores", flush=True)
        print(f"initiate at {cfg.rate:g}/s for {cfg.duration_s:g} s ...", flush=True)
        figures["initiate"], job_ids = bench.initiate()
        if not job_ids:
            kinds = figures["initiate"]["error_kinds"]
            raise SystemExit(f"service_bench: every initiate failed ({kinds}); is the API healthy?")
        print(f"status at {cfg.rate:g}/s for {cfg.duration_s:g} s over {len(job_ids)} jobs ...", flush=True)
        figures["status"] = bench.status(job_ids)
        print("capacity ramp ...", flush=True)
        figures["capacity"] = bench.capacity(job_ids)
    report(figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"\nfigures written to {args.json}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("service_bench: interrupted; everything it started has been stopped", file=sys.stderr)
        sys.exit(130)
