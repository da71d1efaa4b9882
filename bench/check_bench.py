"""How `harness check` scales: large histories made from a realistic one, judged before (in memory) and after
(streaming), with anomalies planted at known places; records/s, peak RSS and whether each plant was found.

A seed history is synthesized as the clients record one (pollers, SSE followers, downloaders, abandoners that
come back with their clientRequestId, retriers: one op_id per operation, fresh ids per job) unless --seed names
a recorded one. Copies of it, each with fresh job/op/request ids and shifted times, are interleaved (three at a
time, as concurrent users are) into one history per size; five copies spread over the file carry one planted
anomaly each: a lost job, a status regression, a duplicate job, a proxy timeout, an SSE gap.

Each judge runs in its own process (peak RSS is its own): "after" is `check_files` (what `harness check` runs),
"before" the in-memory checker kept as the oracle of tests/unit/test_judge_oracle.py (its read_history + check).
Generated files are kept under --dir and reused. --layers measures the parsing and data layers on 1 M records.

    .venv/bin/python bench/check_bench.py                      # 0.1 M and 1 M, before and after
    nice -n 19 .venv/bin/python bench/check_bench.py --sizes 0.1,1,10 --before-max 1   # 10 M after only
    .venv/bin/python bench/check_bench.py --sizes 1 --zstd      # the same from .jsonl.zst
    .venv/bin/python bench/check_bench.py --layers              # json / orjson / msgspec / polars / duckdb
"""

from __future__ import annotations

import argparse
import heapq
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OVERLAP = 3  # copies of the seed running at once
PLANTS = ("lost_job", "status_regression", "duplicate_job", "proxy_timeout", "sse_gap")
TOKENS = ("§K8§", "§K12§", "§K6§")  # the copy's id in a job id / request id, an op id, a process name


def synthesize(seed: int = 7, users: int = 40, seconds: float = 30.0) -> list[dict[str, Any]]:
    """A clean history as the harness's clients write it (History's line format), ~120 jobs over `seconds`."""
    rnd = random.Random(seed)
    lines: list[dict[str, Any]] = []
    ops = iter(range(1 << 30))
    for u in range(users):
        kind = ("Poller", "SseFollower", "Downloader", "Abandoner", "Retrier")[u % 5]
        process, t = f"{kind}-77239c-{u}", rnd.uniform(0.0, 1.0)
        while t < seconds - 8:
            t = _job(lines, rnd, kind, process, t, ops)
    return sorted(lines, key=lambda d: d["wall"])


def _op(lines: list[dict[str, Any]], process: str, op: str, t: float, took: float, ops: Any, **seen: Any) -> str:
    op_id = f"28820-7f82e4fef4d0-{next(ops)}"
    ids = {k: seen.pop(k) for k in ("job_id", "client_request_id", "follower", "last_event_id") if k in seen}
    outcome = seen.pop("outcome", "ok")
    lines.append({"type": "invoke", "op": op, "op_id": op_id, "process": process, **ids, "wall": t})
    done = {"type": outcome, "op": op, "op_id": op_id, "process": process, **ids, "latency_s": round(took, 6)}
    lines.append({**done, **seen, "wall": t + took})
    return op_id


def _job(lines: list[dict[str, Any]], rnd: random.Random, kind: str, process: str, t: float, ops: Any) -> float:
    bits = rnd.getrandbits
    job = f"{bits(32):08x}-{bits(16):04x}-7{bits(12):03x}-a765-{bits(48):012x}"
    crid = f"{kind.lower()}-{rnd.getrandbits(32):08x}-2e95-4583-b41a-{rnd.getrandbits(48):012x}"
    start = {"client_request_id": crid} if kind in ("Abandoner", "Retrier") else {}
    took = rnd.uniform(0.05, 0.1)
    _op(lines, process, "initiate", t, took, ops, job_id=job, status="queued", http_status=202, **start)
    t, length = t + took + 0.01, rnd.uniform(2.0, 6.0)
    done_at = t + length
    if kind in ("SseFollower", "Abandoner"):
        t = _stream(lines, rnd, process, job, t, done_at if kind == "SseFollower" else t + 0.1, ops)
        if kind == "Abandoner":
            took = rnd.uniform(0.02, 0.05)
            _op(lines, process, "initiate", t, took, ops, job_id=job, status="queued", http_status=202, **start)
            t += took
    if kind != "SseFollower":
        t = _polls(lines, rnd, process, job, t, done_at, ops)
    if kind == "Downloader":
        _op(lines, process, "download", t, 0.004, ops, job_id=job, http_status=302)
        _op(lines, process, "artifact", t + 0.005, 0.015, ops, job_id=job, http_status=200, size=3072, checksum_ok=True)
        t += 0.02
    return t + rnd.uniform(0.05, 0.3)


def _polls(lines: list[dict[str, Any]], rnd: random.Random, process: str, job: str, t: float, done_at: float,
           ops: Any) -> float:  # fmt: skip
    while True:
        took, finished = rnd.uniform(0.003, 0.02), t >= done_at
        progress = 100.0 if finished else round(min(95.0, 100 * (1 - (done_at - t) / 6.0)) // 5 * 5, 1)
        status = "completed" if finished else "running"
        _op(lines, process, "status", t, took, ops, job_id=job, status=status, progress=progress, attempts=1,
            http_status=200)  # fmt: skip
        t += took
        if finished:
            return t
        t += 0.25


def _stream(lines: list[dict[str, Any]], rnd: random.Random, process: str, job: str, t: float, until: float,
            ops: Any) -> float:  # fmt: skip
    follower, ids = f"{process}/sse-{next(ops)}", iter(range(1, 1 << 20))
    op_id = _op(lines, process, "stream", t, 0.0, ops, job_id=job, follower=follower)
    lines.pop()  # the completion is written below, once the events are known
    base = {"type": "event", "op": "stream_event", "op_id": op_id, "process": process, "job_id": job}
    at, gap = t + 0.05, 0.0
    lines.append({**base, "follower": follower, "event": "snapshot", "event_id": next(ids), "status": "queued",
                  "attempts": 0, "wall": at})  # fmt: skip
    while at + 0.5 < until:
        step = rnd.uniform(0.2, 0.5)
        at, gap = at + step, max(gap, step)
        progress = round(min(95.0, 100 * (at - t) / max(0.1, until - t)), 1)
        lines.append({**base, "follower": follower, "event": "progress", "event_id": next(ids), "status": "running",
                      "attempts": 1, "progress": progress, "wall": at})  # fmt: skip
    abandoned = until - t < 1.0
    if not abandoned:
        at = until
        lines.append({**base, "follower": follower, "event": "completed", "event_id": next(ids),
                      "status": "completed", "attempts": 1, "progress": 100.0, "wall": at})  # fmt: skip
    end = {"type": "info" if abandoned else "ok", "op": "stream", "op_id": op_id, "process": process, "job_id": job,
           "follower": follower, "latency_s": round(at + 0.001 - t, 6), "max_gap_s": round(gap, 6),
           "http_status": 200, "first_event_s": 0.05}  # fmt: skip
    if abandoned:
        end["error"] = "client_disconnect"
    lines.append({**end, "wall": at + 0.001})
    return at + 0.01


def with_mono(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Walls moved to today's epoch scale and a monotonic clock beside them, as History writes both."""
    return [{**d, "wall": 1_796_167_376.0 + d["wall"], "mono": 1100.0 + d["wall"]} for d in lines]


def load_seed(path: str | None) -> list[dict[str, Any]]:
    if path is None:
        return with_mono(synthesize())
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def _fresh(value: str, token: str) -> str:
    """An id with its copy's token in place of its last characters (or appended), so each copy's ids are new."""
    return value[:-8] + token if len(value) >= 16 else f"{value}~{token}"


def template(d: dict[str, Any], t0: float) -> tuple[float, str]:
    """(wall offset, line template): the copy's tokens in its ids, §W§ and §M§ for its times."""
    d = dict(d)
    for key in ("job_id", "client_request_id"):
        if isinstance(d.get(key), str):
            d[key] = _fresh(d[key], TOKENS[0])
    if isinstance(d.get("op_id"), str):
        parts = d["op_id"].split("-")
        d["op_id"] = f"{parts[0]}-{TOKENS[1]}-{parts[-1]}" if len(parts) == 3 else f"{d['op_id']}~{TOKENS[1]}"
    if isinstance(d.get("process"), str):
        parts, old = d["process"].split("-"), d["process"]
        d["process"] = f"{parts[0]}-{TOKENS[2]}-{parts[-1]}" if len(parts) == 3 else f"{old}~{TOKENS[2]}"
        if isinstance(d.get("follower"), str):
            d["follower"] = d["follower"].replace(old, d["process"])
    offset, d["wall"], d["mono"] = d["wall"] - t0, "§W§", "§M§"
    line = json.dumps(d, separators=(",", ":"), ensure_ascii=False)
    return offset, line.replace('"§W§"', "§W§").replace('"§M§"', "§M§")


def plant(seed: list[dict[str, Any]]) -> dict[str, tuple[int, dict[str, Any], str]]:
    """Per planted kind: (index of the seed line to change, the changed line, the job the anomaly names)."""
    out: dict[str, tuple[int, dict[str, Any], str]] = {}
    starts = [(i, d) for i, d in enumerate(seed) if d["type"] == "ok" and d["op"] == "initiate" and "job_id" in d]
    named = [(i, d) for i, d in starts if d.get("client_request_id")]
    if named:
        first = named[0][1]
        other = [(i, d) for i, d in named if d["job_id"] != first["job_id"] and d["process"].startswith("Retrier")]
        if other:
            i, d = other[0]
            out["duplicate_job"] = (i, {**d, "client_request_id": first["client_request_id"]}, first["job_id"])
    acked = {d["job_id"]: i for i, d in reversed(starts)}
    running: dict[str, int] = {}
    for i, d in enumerate(seed):
        job = d.get("job_id")
        if d["type"] == "ok" and d["op"] == "stream" and "sse_gap" not in out:
            out["sse_gap"] = (i, {**d, "max_gap_s": 100.0}, job)
        if d["type"] != "ok" or d["op"] != "status" or d.get("status") != "running" or acked.get(job, i) >= i:
            continue
        running[job] = running.get(job, 0) + 1
        bare = {k: v for k, v in d.items() if k not in ("status", "progress", "attempts")}
        if running[job] == 1 and "lost_job" not in out:
            out["lost_job"] = (i, {**bare, "type": "fail", "http_status": 404, "error": "unknown_job"}, job)
        elif running[job] == 2 and "status_regression" not in out and job != out["lost_job"][2]:
            out["status_regression"] = (i, {**d, "attempts": 0}, job)
        elif running[job] == 3 and "proxy_timeout" not in out:
            out["proxy_timeout"] = (i, {**bare, "type": "info", "http_status": 504, "error": "proxy_timeout"}, job)
    return out


def generate(path: Path, records: int, seed: list[dict[str, Any]]) -> dict[str, str]:
    """Write `records` lines made of shifted copies of `seed`; returns the planted {kind: job id}."""
    t0 = min(d["wall"] for d in seed)
    span = max(d["wall"] for d in seed) - t0 + 0.5
    plain = [template(d, t0) for d in seed]
    copies = -(-records // len(seed))
    planted, changed = {}, {}
    for n, (kind, (index, line, job)) in enumerate(sorted(plant(seed).items())):
        copy = max(0, min(copies - 1, int(copies * (0.1 + 0.2 * n))))
        changed[(copy, index)] = template(line, t0)[1]
        planted[kind] = _fresh(job, f"{copy:08x}")
    step = span / OVERLAP
    heap: list[tuple[float, int, int]] = [(plain[0][0], 0, 0)]
    opener = _zstd_writer if path.suffix == ".zst" else open
    with opener(path, "w") as out:
        for _ in range(records):
            offset, copy, index = heapq.heappop(heap)
            tpl = changed.get((copy, index), plain[index][1])
            wall = t0 + offset
            out.write(tpl.replace(TOKENS[0], f"{copy:08x}").replace(TOKENS[1], f"{copy:012x}")
                      .replace(TOKENS[2], f"{copy:06x}").replace("§W§", repr(wall))
                      .replace("§M§", repr(round(wall - t0 + 1100.0, 6))) + "\n")  # fmt: skip
            if index + 1 < len(plain):
                heapq.heappush(heap, (plain[index + 1][0] + copy * step, copy, index + 1))
            if index == 0:
                heapq.heappush(heap, (plain[0][0] + (copy + 1) * step, copy + 1, 0))
    return planted


def _zstd_writer(path: Path, mode: str) -> Any:
    import io

    import zstandard

    return io.TextIOWrapper(zstandard.ZstdCompressor(level=3).stream_writer(open(path, "wb")), encoding="utf-8")


def judge_child(which: str, path: str, planted: dict[str, str]) -> dict[str, Any]:
    """Run in a child process: judge `path` with the before or after checker, report time, RSS and the plants."""
    sys.path.insert(0, str(ROOT))
    from harness.judge import CheckParams, check_files

    params = CheckParams.for_scale(1.0)
    started = time.perf_counter()
    if which == "after":
        result = check_files([path], params)
    else:
        sys.path.insert(0, str(ROOT / "tests" / "unit"))
        import test_judge_oracle as before

        result = before.check(before.read_history([path]), params)
    seconds = time.perf_counter() - started
    found = {(a.kind, a.job_id) for a in result.anomalies}
    return {
        "records": result.stats.records,
        "seconds": seconds,
        "cpu_s": time.process_time(),
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "found": sorted(kind for kind, job in planted.items() if (kind, job) in found),
        "anomalies": len(result.anomalies),
    }


def run_child(args: list[str]) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


LAYER_CODE = {
    "json": "import json; loads = json.loads",
    "orjson": "import orjson; loads = orjson.loads",
    "msgspec": "import msgspec; loads = msgspec.json.Decoder().decode",
    "msgspec-struct": "from harness.judge.reader import _views; loads = _views().fast",
}


def layer_child(layer: str, path: str) -> dict[str, Any]:
    """Run in a child process: parse (or group) one JSONL file with one layer; records/s and peak RSS."""
    sys.path.insert(0, str(ROOT))
    started = time.perf_counter()
    if layer in LAYER_CODE:
        scope: dict[str, Any] = {}
        exec(LAYER_CODE[layer], scope)
        loads, n = scope["loads"], 0
        with open(path, "rb") as f:
            for line in f:
                loads(line)
                n += 1
    elif layer == "polars":
        import polars as pl

        lazy = pl.scan_ndjson(path, infer_schema_length=10_000)
        done = lazy.filter(pl.col("type").is_in(["ok", "fail", "info"]))
        done.group_by("op").agg(pl.len(), pl.col("latency_s").quantile(0.99).alias("p99")).collect(engine="streaming")
        acks = done.filter((pl.col("type") == "ok") & (pl.col("op") == "initiate"))
        acks.group_by("job_id").agg(pl.col("wall").min()).collect(engine="streaming")
        n = int(lazy.select(pl.len()).collect(engine="streaming").item())
    else:
        import duckdb

        db = duckdb.connect()
        db.execute(f"create view h as select * from read_json_auto('{path}', format='newline_delimited')")
        db.execute("select op, count(*), quantile_disc(latency_s, 0.99) from h where type in ('ok','fail','info') "
                   "group by op").fetchall()  # fmt: skip
        db.execute("select job_id, min(wall) from h where type = 'ok' and op = 'initiate' group by job_id").fetchall()
        n = int(db.execute("select count(*) from h").fetchone()[0])  # type: ignore[index]
    seconds = time.perf_counter() - started
    return {"records": n, "seconds": seconds, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def history_file(directory: Path, size: float, seed: list[dict[str, Any]], zstd: bool) -> tuple[Path, dict[str, str]]:
    records = round(size * 1_000_000)
    path = directory / f"history-{records}.jsonl{'.zst' if zstd else ''}"
    meta = path.with_name(path.name + ".planted.json")
    if not (path.exists() and meta.exists()):
        started = time.perf_counter()
        meta.write_text(json.dumps(generate(path, records, seed)))
        print(f"  generated {path} ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    return path, json.loads(meta.read_text())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="0.1,1", help="millions of records, comma separated (10 on demand)")
    p.add_argument("--before-max", type=float, default=1.0, help="largest size judged by the in-memory checker (M)")
    p.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "harness-check-bench")
    p.add_argument("--seed", help="a recorded history to grow instead of the synthesized one")
    p.add_argument("--zstd", action="store_true", help="write and read .jsonl.zst")
    p.add_argument("--layers", action="store_true", help="measure the parsers and engines on 1 M records")
    p.add_argument("--child", nargs=3, metavar=("KIND", "WHICH", "PATH"), help=argparse.SUPPRESS)
    p.add_argument("--planted", default="{}", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        kind, which, path = args.child
        out = judge_child(which, path, json.loads(args.planted)) if kind == "judge" else layer_child(which, path)
        print(json.dumps(out))
        return 0
    args.dir.mkdir(parents=True, exist_ok=True)
    seed = load_seed(args.seed)
    if args.layers:
        return layers(history_file(args.dir, 1.0, seed, False)[0])
    print(f"{'records':>10} {'judge':<7}{'seconds':>9}{'records/s':>11}{'peak RSS':>10}{'B/record':>9}  planted found")
    for size in (float(s) for s in args.sizes.split(",")):
        path, planted = history_file(args.dir, size, seed, args.zstd)
        for which in ("before", "after") if size <= args.before_max else ("after",):
            r = run_child(["--child", "judge", which, str(path), "--planted", json.dumps(planted)])
            found = f"{len(r['found'])}/{len(planted)}" + ("" if len(r["found"]) == len(planted) else " MISSED")
            print(f"{r['records']:>10} {which:<7}{r['seconds']:>9.1f}{r['records'] / r['seconds']:>11,.0f}"
                  f"{r['rss_mb']:>8.0f} MB{r['rss_mb'] * 2**20 / r['records']:>9.0f}  {found} "
                  f"({r['anomalies']} anomalies; cpu {r['cpu_s']:.1f} s)", flush=True)  # fmt: skip
    return 0


def layers(path: Path) -> int:
    print(f"{'layer':<16}{'records':>9}{'seconds':>9}{'records/s':>11}{'peak RSS':>10}   ({path})")
    for layer in (*LAYER_CODE, "polars", "duckdb"):
        try:
            r = run_child(["--child", "layer", layer, str(path)])
        except subprocess.CalledProcessError as exc:
            print(f"{layer:<16} unavailable: {exc.stderr.strip().splitlines()[-1]}")
            continue
        print(f"{layer:<16}{r['records']:>9}{r['seconds']:>9.1f}{r['records'] / r['seconds']:>11,.0f}"
              f"{r['rss_mb']:>8.0f} MB", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
