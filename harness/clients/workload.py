"""A mixed workload of jobs driven by threads, every operation recorded to one History.

Each job is one simulated user: it initiates (some with a clientRequestId, some re-sending it as a client
retry would), some cancel a while later, follows the job by polling or SSE (some disconnecting mid-stream or
mid-poll and coming back), downloads the artifact, and watches the finished job through a settle window. The
chaos suite, the soak bench and the CLI run it while faults are applied; the checker judges the history it leaves.
Durations in the config are modelled seconds (time-scaled).
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Self

from harness.clients.service import ServiceClient
from harness.contract import V1, ContractProfile, StreamOptions, Timeouts
from harness.contract.profile import DEFAULT_FILE_IDS, FileIds
from harness.core.closing import Running
from harness.core.errors import ConfigError
from harness.core.timescale import scaled
from harness.judge import CheckParams
from harness.judge.history import Recorder

Follow = Literal["poll", "sse"]
Disconnect = Literal["none", "sse", "poll"]


@dataclass(frozen=True)
class WorkloadConfig:
    """How many jobs, of what length, followed how; fractions are per job, durations modelled seconds."""

    jobs: int = 24
    concurrency: int = 24
    min_job_s: float = 10.0
    max_job_s: float = 120.0
    ramp_s: float = 30.0
    client_request_id: float = 0.6
    resend: float = 0.4
    sse: float = 0.5
    disconnect: float = 0.3
    fail_first_attempt: float = 0.1
    cancel: float = 0.0  # users that cancel their job, 10-50 % of its length after the acknowledgment
    download: bool = True
    simulate: bool = True
    follow_s: float = 620.0
    settle_s: float = 20.0  # after its first terminal answer, a job is watched this long (a terminal state holds)
    initiate_tries: int = 6
    seed: int | None = None
    time_scale: float = 1.0
    idle_timer_s: float = 60.0

    def __post_init__(self) -> None:
        if not 1 <= self.jobs <= 100_000 or not 1 <= self.concurrency <= 512:
            raise ConfigError(f"jobs={self.jobs}, concurrency={self.concurrency}: use 1-100000 jobs, 1-512 threads")
        if not 0 < self.min_job_s <= self.max_job_s:
            raise ConfigError(f"job length {self.min_job_s}-{self.max_job_s} s is empty; use 0 < min <= max")
        for name in ("client_request_id", "resend", "sse", "disconnect", "fail_first_attempt", "cancel"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                raise ConfigError(f"{name}={value!r} is a fraction of the jobs; give a number from 0 to 1")

    @classmethod
    def for_params(cls, params: CheckParams, time_scale: float, **overrides: Any) -> WorkloadConfig:
        """A workload at `time_scale` whose users follow each job past the checker's deadline and whose streams
        outlast the idle timer the checker judges against."""
        idle = (params.idle_timer_s or scaled(60.0, time_scale)) / time_scale
        base = cls(time_scale=time_scale, idle_timer_s=idle, follow_s=params.deadline_s / time_scale + 20.0)
        return replace(base, **overrides)

    def timeouts(self) -> Timeouts:
        """Client bounds on this clock: the stream's read timeout stays above the chain's idle timer (modelled)."""
        stream = StreamOptions.outlasting(scaled(self.idle_timer_s, self.time_scale), self.time_scale)
        return Timeouts(stream=stream, default_poll_s=0.25)


@dataclass(frozen=True)
class JobPlan:
    """What one simulated user does, drawn up front from the seed so a run can be replayed."""

    index: int
    file_ids: tuple[int, ...]
    duration_ms: int
    client_request_id: str | None
    resends: int
    follow: Follow
    disconnect: Disconnect
    fail_attempts: int
    start_after_s: float
    cancel_after_s: float | None = None  # modelled seconds after the acknowledgment; None: never cancels


@dataclass(frozen=True)
class JobOutcome:
    """How one user's job ended as that user saw it (the checker judges the history, not this)."""

    plan: JobPlan
    job_id: str | None
    status: str | None
    downloaded: bool = False


@dataclass
class WorkloadSummary:
    planned: int
    outcomes: list[JobOutcome] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def acknowledged(self) -> int:
        return sum(1 for o in self.outcomes if o.job_id)

    @property
    def statuses(self) -> Counter[str]:
        return Counter(o.status or "unacknowledged" for o in self.outcomes)


def plan_jobs(config: WorkloadConfig, run_id: str, file_ids: FileIds = DEFAULT_FILE_IDS) -> list[JobPlan]:
    """Every user's plan, drawn from the seed (same seed, same plans); each job names 1-3 of `file_ids` (the
    profile's valid ids)."""
    rng, plans = random.Random(config.seed), []
    for i in range(config.jobs):
        crid = f"{run_id}-{i}" if rng.random() < config.client_request_id else None
        follow: Follow = "sse" if rng.random() < config.sse else "poll"
        disconnect: Disconnect = follow if rng.random() < config.disconnect else "none"
        files = file_ids.pick(rng, rng.randint(1, 3))
        duration_ms = round(rng.uniform(config.min_job_s, config.max_job_s) * 1000)
        resends = rng.randint(1, 2) if crid and rng.random() < config.resend else 0
        fail = 1 if rng.random() < config.fail_first_attempt else 0
        start = scaled(rng.uniform(0, config.ramp_s), config.time_scale)
        cancel = None  # drawn only when asked for: the plans of a workload without cancels stay what they were
        if config.cancel and rng.random() < config.cancel:
            cancel = round(rng.uniform(0.1, 0.5) * duration_ms / 1000, 3)
        plans.append(JobPlan(i, files, duration_ms, crid, resends, follow, disconnect, fail, start, cancel))
    return plans


class Workload(Running):
    """Runs the plans on a thread pool: `with Workload(...) as w: w.wait_acknowledged(5, 10); ...; w.join(60)`."""

    def __init__(
        self,
        base_url: str,
        history: Recorder,
        config: WorkloadConfig,
        run_id: str | None = None,
        profile: ContractProfile = V1,
    ) -> None:
        self.base_url, self.history, self.config, self.profile = base_url, history, config, profile
        self.run_id = run_id or f"wl-{uuid.uuid4().hex[:8]}"
        self.plans = plan_jobs(config, self.run_id, profile.file_ids)
        self._pool: ThreadPoolExecutor | None = None
        self._futures: list[Future[JobOutcome]] = []
        self._acks = 0
        self._finished = 0  # users done, whatever their outcome
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._started = 0.0

    def start(self) -> Self:
        self._started = time.monotonic()
        self._pool = ThreadPoolExecutor(self.config.concurrency, thread_name_prefix=self.run_id)
        self._futures = [self._pool.submit(self._run_job, plan) for plan in self.plans]
        return self

    def wait_acknowledged(self, count: int, timeout: float) -> bool:
        """True once `count` jobs are acknowledged (bounded by `timeout` seconds); False at once when every user
        has finished short of it (no acknowledgment can come any more)."""
        wanted = min(count, len(self.plans))
        with self._cond:
            self._cond.wait_for(lambda: self._acks >= wanted or self._finished == len(self.plans), timeout)
            return self._acks >= wanted

    def join(self, timeout: float) -> WorkloadSummary:
        """Wait for every user to finish (bounded); users still running at the timeout are told to stop."""
        end = time.monotonic() + timeout
        summary = WorkloadSummary(len(self.plans))
        for fut in self._futures:
            try:
                summary.outcomes.append(fut.result(timeout=max(0.0, end - time.monotonic())))
            except TimeoutError:
                self._stop.set()
        if not self._stop.is_set():
            self._sweep([o.job_id for o in summary.outcomes if o.job_id])
        self.stop()
        summary.wall_s = time.monotonic() - self._started
        return summary

    def _sweep(self, job_ids: list[str]) -> None:
        """One last status of every acknowledged job once all users are done: the run ends on what the service
        says now, so a job that moved after its user left is seen."""
        timeouts = self.config.timeouts()
        with ServiceClient(self.base_url, self.history, "sweep", timeouts=timeouts, profile=self.profile) as client:
            for job_id in job_ids:
                client.status(job_id)

    def stop(self) -> None:
        self._stop.set()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def run(self, timeout: float) -> WorkloadSummary:
        return self.start().join(timeout)

    def _wait(self, seconds: float) -> None:
        """Pacing between a user's steps (and the clients' sleeps); raises `_Stopped` once the workload is stopped,
        so a user never starts another request after `stop()`."""
        if self._stop.wait(max(0.0, seconds)):
            raise _Stopped

    def _run_job(self, plan: JobPlan) -> JobOutcome:
        try:
            return self._user(plan)
        except _Stopped:
            return JobOutcome(plan, None, None)
        finally:
            with self._cond:
                self._finished += 1
                self._cond.notify_all()

    def _user(self, plan: JobPlan) -> JobOutcome:
        self._wait(plan.start_after_s)
        cfg = self.config
        name = f"user-{plan.index}"
        client = ServiceClient(
            self.base_url, self.history, name, timeouts=cfg.timeouts(), sleep=self._wait, profile=self.profile
        )
        with client:
            job_id = self._initiate(client, plan)
            if job_id is None:
                return JobOutcome(plan, None, None)
            with self._cond:
                self._acks += 1
                self._cond.notify_all()
            for _ in range(plan.resends):
                client.initiate(plan.file_ids, plan.client_request_id, self._simulate(plan))
            if plan.cancel_after_s is not None and self.profile.offers("cancel"):
                self._wait(scaled(plan.cancel_after_s, cfg.time_scale))
                client.cancel(job_id)  # whatever it answers (done already, cancelled), the job is followed to its end
            end = time.monotonic() + scaled(cfg.follow_s, cfg.time_scale)
            status = self._follow(client, plan, job_id, end)
            downloaded = False
            if status == "completed" and cfg.download:
                downloaded = client.download(job_id).outcome == "ok"
            if status is not None:
                self._settle(client, job_id)
            return JobOutcome(plan, job_id, status, downloaded)

    def _settle(self, client: ServiceClient, job_id: str) -> None:
        """Watch a finished job through the settle window: a job that runs again, or a terminal state that
        changes (a completed job back to running, a cancel overwritten), shows in these polls."""
        polls = 3
        for _ in range(polls):
            self._wait(scaled(self.config.settle_s / polls, self.config.time_scale))
            client.status(job_id)

    def _initiate(self, client: ServiceClient, plan: JobPlan) -> str | None:
        """Initiate; retry what surely did not happen, and (with a clientRequestId) what may have."""
        for attempt in range(self.config.initiate_tries):
            reply = client.initiate(plan.file_ids, plan.client_request_id, self._simulate(plan))
            if reply.ok and reply.job is not None and reply.job.job_id:
                return reply.job.job_id
            if not reply.retryable(idempotent=plan.client_request_id is not None):
                return None
            backoff = min(20.0, 2.0 * 2**attempt)  # 2, 4, 8, 16, 20 s modelled
            self._wait(scaled(backoff, self.config.time_scale))
        return None

    def _simulate(self, plan: JobPlan) -> dict[str, int] | None:
        if not self.config.simulate or not self.profile.features.simulate:
            return None
        sim = {"durationMs": plan.duration_ms}
        return sim | {"failAttempts": plan.fail_attempts} if plan.fail_attempts else sim

    def _follow(self, client: ServiceClient, plan: JobPlan, job_id: str, end: float) -> str | None:
        """SSE or polling to a finished state; a disconnecting user drops its stream or a poll mid-request,
        stays away a while, then comes back. Whatever a stream misses, polling settles before `end`."""
        if plan.disconnect == "poll":
            self._cut_poll(job_id, plan)
        if plan.follow == "sse":
            stop_after = 2 if plan.disconnect == "sse" else None
            seen = client.follow_sse(job_id, max(0.0, end - time.monotonic()), stop_after_events=stop_after)
            if plan.disconnect == "sse" and seen.terminal is None:
                self._wait(scaled(5.0, self.config.time_scale))
                remaining = max(0.0, end - time.monotonic())
                seen = client.follow_sse(job_id, remaining, last_event_id=seen.last_event_id)
            if seen.terminal is not None:
                return seen.terminal
        polled = client.poll_until_terminal(job_id, max(0.0, end - time.monotonic()))
        return polled.job.status if polled.job is not None else None

    def _cut_poll(self, job_id: str, plan: JobPlan) -> None:
        """A status request whose client goes away before the answer (a read timeout), then a pause."""
        cut = Timeouts(request_s=0.0005, connect_s=self.config.timeouts().connect_s)
        with ServiceClient(
            self.base_url, self.history, f"user-{plan.index}", timeouts=cut, profile=self.profile
        ) as quitter:
            quitter.status(job_id)
        self._wait(scaled(10.0, self.config.time_scale))


class _Stopped(Exception):
    """The workload was stopped while a user waited."""
