"""The clients of the async-download pattern as Locust users; one task = one job, start to finish.

Protocol code lives in `harness.clients.ServiceClient` (shared with pytest); these classes only decide what a
kind of client does and report job-level metrics (see `harness.locust.metrics`). Plain requests go
through FastHttpUser's engine, geventhttpclient (see `harness.clients.fast` for why, measured); its
`network_timeout`/`connection_timeout` are the per-request budget, because nothing long goes through it:
streams, artifacts and the legacy start use httpx with their own bounds (minutes, above every proxy timer).
Think time between jobs is 4-8 s x time scale; polls follow the service's nextPollInMs.
"""

from __future__ import annotations

import random
import time
import uuid

from locust import User, task
from locust.exception import StopUser

from harness.clients.fast import FastServiceClient
from harness.clients.sse import StreamResult
from harness.contract import Reply
from harness.core.timescale import scaled
from harness.locust.metrics import fire
from harness.locust.runtime import Runtime, current

RETRY_BACKOFF_S = (1.0, 2.0, 4.0)  # modelled seconds between initiate attempts of a Retrier
RNG = random.Random()  # draws the file ids of the users' jobs (from the contract profile's valid ones)


class JobUser(User):
    """Shared plumbing: a protocol client per user, job starts and job-level metrics."""

    abstract = True
    network_timeout: float | None = None  # default: the run's per-request budget (5 s, less when time is scaled)
    connection_timeout: float | None = None
    rt: Runtime
    service: FastServiceClient
    file_ids: list[int]

    def wait_time(self) -> float:
        return random.uniform(4, 8) * self.rt.settings.time_scale

    def on_start(self) -> None:
        self.rt = current()
        if not self.host:
            raise StopUser("no host: give --host, or run without it to boot a stack")
        budget = self.rt.timeouts.request_s
        self.service = FastServiceClient(
            self.host,
            network_timeout=self.network_timeout or budget,
            connection_timeout=self.connection_timeout or self.rt.timeouts.connect_s,
            history=self.rt.recorder,
            client_id=self.rt.client_id(type(self).__name__),
            timeouts=self.rt.timeouts,
            profile=self.rt.settings.contract,
        )

    def on_stop(self) -> None:
        self.service.close()

    @property
    def deadline_s(self) -> float:
        return self.rt.settings.check_params().deadline_s

    def pick_files(self, count: int) -> list[int]:
        """`count` file ids the contract profile says are valid, at random."""
        return list(self.rt.settings.contract.file_ids.pick(RNG, count))

    def fire(self, kind: str, name: str, ms: float, error: str | None = None, length: int = 0) -> None:
        fire(self.environment.events.request, kind, name, ms, error, length)

    def start_job(self, client_request_id: str | None = None) -> str | None:
        """Initiate a job of 1-3 files; its id, or None (the failure is already reported)."""
        self.file_ids = self.pick_files(random.randint(1, 3))
        reply = self.service.initiate(self.file_ids, client_request_id)
        return reply.job.job_id if reply.ok and reply.job is not None else None

    def finish(self, started: float, status: str | None, why: str | None = None) -> None:
        """JOB e2e: from sending the initiate to seeing a finished state; a job that did not complete fails."""
        error = None if status == "completed" else f"job {status or 'unfinished'}" + (f": {why}" if why else "")
        self.fire("JOB", "e2e", (time.monotonic() - started) * 1000, error)

    def poll_to_end(self, job_id: str, started: float) -> Reply:
        result = self.service.poll_until_terminal(job_id, self.deadline_s)
        job = result.job
        self.finish(started, job.status if job is not None else None, result.last.error)
        return result.last

    def report_stream(self, result: StreamResult) -> None:
        if result.first_event_s is not None:
            self.fire("SSE", "first_event", result.first_event_s * 1000)
        self.fire("SSE", "max_gap", result.max_gap_s * 1000)
        self.fire("SSE", "reconnects", max(0, result.connections - 1))

    def same_job(self, row: str, client_request_id: str, job_id: str) -> None:
        """Re-send an initiate with the same clientRequestId: the service must answer with the same job (checked
        only where the contract profile offers idempotency)."""
        if not self.service.profile.offers("idempotency"):
            return
        sent = time.monotonic()
        again = self.service.initiate(self.file_ids, client_request_id)
        got = again.job.job_id if again.job is not None else None
        error = None if got == job_id else f"clientRequestId {client_request_id} gave job {got}, first {job_id}"
        if again.ok or got is not None:
            self.fire("JOB", row, (time.monotonic() - sent) * 1000, error)


class Poller(JobUser):
    """Initiates, then polls status at the pace the service asks for until the job is finished."""

    @task
    def job(self) -> None:
        started = time.monotonic()
        if job_id := self.start_job():
            self.poll_to_end(job_id, started)


class SseFollower(JobUser):
    """Initiates, then follows the job's event stream to its terminal event, resuming with Last-Event-ID."""

    @task
    def job(self) -> None:
        started = time.monotonic()
        job_id = self.start_job()
        if job_id is None:
            return
        result = self.service.follow_sse(job_id, self.deadline_s)
        self.report_stream(result)
        self.finish(started, result.terminal, result.error)


class Downloader(JobUser):
    """Polls a job to completion, follows the 302 to the signed URL and checks the bytes against the checksum."""

    @task
    def job(self) -> None:
        started = time.monotonic()
        job_id = self.start_job()
        if job_id is None:
            return
        last = self.poll_to_end(job_id, started)
        if last.job is None or last.job.status != "completed":
            return
        sent = time.monotonic()
        got = self.service.download(job_id, last.job.checksum)
        error = None if got.outcome == "ok" and got.checksum_ok is not False else got.error or "download failed"
        self.fire("JOB", "download", (time.monotonic() - sent) * 1000, error, got.size)


class Abandoner(JobUser):
    """Initiates, watches the first event, hangs up, comes back later with the same clientRequestId: same job."""

    @task
    def job(self) -> None:
        started, crid = time.monotonic(), f"abandoner-{uuid.uuid4()}"
        job_id = self.start_job(crid)
        if job_id is None:
            return
        self.service.follow_sse(job_id, self.deadline_s, reconnect=False, stop_after_events=1)
        time.sleep(random.uniform(5, 30) * self.rt.settings.time_scale)
        self.same_job("resume", crid, job_id)
        self.poll_to_end(job_id, started)


class Retrier(JobUser):
    """Retries its initiate on a reset, timeout or 5xx with the same clientRequestId, then sends it once more
    as a client whose answer was lost would: every attempt must name the same job."""

    @task
    def job(self) -> None:
        started, crid = time.monotonic(), f"retrier-{uuid.uuid4()}"
        job_id = self.start_with_retries(crid)
        if job_id is None:
            return
        self.same_job("retry", crid, job_id)
        self.poll_to_end(job_id, started)

    def start_with_retries(self, crid: str) -> str | None:
        self.file_ids = self.pick_files(1)
        for backoff in (*RETRY_BACKOFF_S, None):
            reply = self.service.initiate(self.file_ids, crid)
            if reply.ok and reply.job is not None:
                return reply.job.job_id
            if backoff is None or not reply.retryable(idempotent=True):  # the same clientRequestId: safe to resend
                return None
            time.sleep(scaled(backoff, self.rt.settings.time_scale))
        return None


class LegacySync(JobUser):
    """The negative control: the synchronous endpoint, held until the job ends or a front gives up (502/504/524).
    Weight 0 in the mixed scenario unless asked (`--weights LegacySync=1`)."""

    @task
    def job(self) -> None:
        if not self.service.profile.offers("legacy_start"):
            raise StopUser(f"contract profile {self.service.profile.name!r} has no legacy start")
        self.service.legacy_start(self.pick_files(random.randint(1, 3)))
