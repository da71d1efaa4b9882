"""Users for the Locust benchmarks (a locustfile; the drivers are bench/locust_overhead.py and locust_streams.py).

RawStatus is the yardstick: a bare FastHttpUser asking for one job's status in a closed loop. HarnessStatus does
the same through the harness (ServiceClient over FastHttpSession, history line pair, Locust row per request);
UnrecordedStatus is HarnessStatus with its history lines discarded (the same client and Locust rows): the two
side by side measure what writing the history costs. HttpxStatus the same over httpx, for reference.
HeldStream opens one SSE stream for a long job and holds it for BENCH_HOLD_S, then reports whether it was ever
cut. BENCH_JOB_ID names the job the status users ask about.
"""

from __future__ import annotations

import os
import time

from locust import FastHttpUser, constant, task

from harness.clients import ServiceClient
from harness.clients.fast import FastServiceClient
from harness.judge.history import NullHistory
from harness.locust import plugin, users
from harness.locust.metrics import MetricsRecorder

assert plugin  # imported for its Locust listeners and flags
JOB_ID = os.environ.get("BENCH_JOB_ID", "00000000-0000-7000-8000-000000000000")
HOLD_S = float(os.environ.get("BENCH_HOLD_S", "60"))
LONG_JOB_MS = 3_600_000  # longer than any hold: the stream stays open on heartbeats (and some progress)


class RawStatus(FastHttpUser):
    wait_time = constant(0)

    @task
    def poll(self) -> None:
        self.client.get(f"/v1/download/status/{JOB_ID}", name="status")


class HarnessStatus(users.JobUser):
    def wait_time(self) -> float:
        return 0.0

    @task
    def poll(self) -> None:
        self.service.status(JOB_ID)


class UnrecordedStatus(HarnessStatus):
    """HarnessStatus whose requests still reach Locust's stats but write no history line."""

    def on_start(self) -> None:
        super().on_start()
        self.service.close()
        rt = self.rt
        self.service = FastServiceClient(
            self.host or "",
            network_timeout=rt.timeouts.request_s,
            connection_timeout=rt.timeouts.connect_s,
            history=MetricsRecorder(NullHistory(), self.environment.events.request),
            client_id=rt.client_id("unrecorded"),
            timeouts=rt.timeouts,
        )


class HttpxStatus(HarnessStatus):
    """HarnessStatus with its requests on httpx instead of geventhttpclient."""

    def on_start(self) -> None:
        super().on_start()
        rt = self.rt
        self.service = ServiceClient(self.host or "", rt.recorder, rt.client_id("httpx"), timeouts=rt.timeouts)  # type: ignore[assignment]


class HeldStream(users.JobUser):
    def wait_time(self) -> float:
        return 3600.0

    @task
    def hold(self) -> None:
        reply = self.service.initiate([10_001], simulate={"durationMs": LONG_JOB_MS})
        if reply.job is None or reply.job.job_id is None:
            return
        started = time.monotonic()
        result = self.service.follow_sse(reply.job.job_id, HOLD_S)
        self.report_stream(result)
        cut = result.connections > 1 or result.error not in ("deadline", None)
        why = f"cut: {result.connections} connection(s), last error {result.error}" if cut else None
        self.fire("SSE", "held", (time.monotonic() - started) * 1000, why, result.heartbeats)
