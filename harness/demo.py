"""`make demo`: boot the stack and walk one job through initiate -> SSE -> download, saying what happens."""

from __future__ import annotations

import hashlib
import json
import sys
import time

import httpx
from httpx_sse import connect_sse

from harness.errors import HarnessError
from harness.stack import Stack, StackConfig


def say(t0: float, text: str) -> None:
    print(f"[{time.monotonic() - t0:6.2f} s] {text}", flush=True)


def walk_one_job(base_url: str, time_scale: float, t0: float) -> bool:
    """One job end to end through the front; returns whether the downloaded bytes match the checksum."""
    with httpx.Client(base_url=base_url, timeout=httpx.Timeout(10, read=60)) as client:
        r = client.post(
            "/v1/download/initiate",
            json={
                "fileIds": [10001, 10002, 10003],
                "clientRequestId": f"demo-{time.time_ns()}",
                "simulate": {"durationMs": 95_000},
            },
        )
        job = r.json()
        say(t0, f"POST initiate -> {r.status_code} in {r.elapsed.total_seconds() * 1000:.0f} ms, job {job['jobId']}")
        say(t0, f"following {job['streamUrl']} (a '95 s' job; heartbeats every {15 * time_scale:g} s)")
        with connect_sse(client, "GET", job["streamUrl"]) as source:
            for event in source.iter_sse():
                if not event.data:
                    continue  # a heartbeat comment
                data = json.loads(event.data)
                say(
                    t0,
                    f"  SSE id={event.id:<3} {event.event:<10} status={data['status']:<20} "
                    f"progress={data['progress']:g}%",
                )
                if event.event in {"completed", "failed", "cancelled"}:
                    break
        final = client.get(job["statusUrl"]).json()
        redirect = client.get(f"/v1/download/{job['jobId']}")
        say(t0, f"GET download -> {redirect.status_code} Location: {redirect.headers.get('location', '')[:60]}...")
        artifact = client.get(redirect.headers["location"])
        digest = "sha256:" + hashlib.sha256(artifact.content).hexdigest()
        ok = artifact.status_code == 200 and digest == final["checksum"]
        say(
            t0,
            f"artifact {artifact.status_code}, {len(artifact.content)} bytes, served by "
            f"{artifact.headers.get('server')}; checksum {'matches' if ok else 'DOES NOT match'}",
        )
        return ok


def main() -> int:
    config = StackConfig.from_env(proxy_config="recommended")
    t0 = time.monotonic()
    try:
        with Stack(config) as stack:
            say(
                t0,
                f"stack up in {stack.boot_seconds:.2f} s: {', '.join(stack.components())}, Toxiproxy, "
                f"front '{config.proxy_config}' at {stack.endpoints.edge_url}",
            )
            ok = walk_one_job(stack.endpoints.edge_url, config.time_scale, t0)
    except HarnessError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 2
    say(t0, "stack torn down" + ("; the job went end to end." if ok else "; the job did NOT verify."))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
