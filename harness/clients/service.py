"""Protocol clients for the async-download flow, shared by pytest, the CLI and Locust (sync httpx: Locust runs
under gevent, where sync code is the common denominator).

Calls never raise for what the service or the network does: they return small results with an outcome
(`ok` / `fail` / `info`, as in the history) and record an invoke and a completion when given a history.
Every path, field, status and event name comes from one `harness.contract.ContractProfile`, so another
implementation of the pattern is tested by supplying its profile; histories hold the canonical (v1) names.
An operation the profile declares absent (no cancel, no legacy start) is answered `Reply.absent_op` unsent.
"""

from __future__ import annotations

import functools
import hashlib
import json
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import httpx

from harness.clients.sse import SseFollower, StreamResult
from harness.contract import (
    V1,
    ContractProfile,
    DownloadResult,
    JobView,
    PollResult,
    Reply,
    Timeouts,
    classify_exception,
    classify_status,
)
from harness.core.closing import Closing
from harness.judge.history import NullHistory, Observed, OpKind, Outcome, Recorder


class ServiceClient(Closing):
    """One client (one `client_id` in the history) of one service, through whatever front `base_url` names.

    `sleep`, `clock` and `rng` are injectable so tests drive time instead of waiting; under gevent the
    defaults are patched and cooperative.
    """

    def __init__(
        self,
        base_url: str,
        history: Recorder | None = None,
        client_id: str = "client",
        *,
        timeouts: Timeouts | None = None,
        profile: ContractProfile = V1,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.client_id, self.profile = client_id, profile
        self.timeouts = timeouts = timeouts or Timeouts()
        self._history: Recorder = history if history is not None else NullHistory()
        self._http = httpx.Client(
            base_url=base_url,
            transport=transport,
            follow_redirects=False,
            timeout=httpx.Timeout(timeouts.request_s, connect=timeouts.connect_s),
        )
        self._sleep, self._clock, self._rng = sleep, clock, rng or random.Random()
        self._sse = SseFollower(
            self._http,
            self._history,
            client_id,
            profile.observe_event,
            timeouts.stream,
            sleep,
            clock,
            resume=profile.features.resume,
            refusal=functools.partial(profile.refusal, "stream"),
        )

    def close(self) -> None:
        self._http.close()

    def initiate(
        self,
        file_ids: Sequence[int],
        client_request_id: str | None = None,
        simulate: Mapping[str, int] | None = None,
        priority: str | None = None,
    ) -> Reply:
        body = self._job_body(file_ids, client_request_id, simulate, priority)
        path, expect_s = self.profile.path("initiate"), self.profile.expected_job_s(file_ids, simulate)
        return self._call("initiate", "POST", path, body=body, client_request_id=client_request_id, expect_s=expect_s)

    def status(self, job_id: str) -> Reply:
        return self._call("status", "GET", self.profile.path("status", job_id), job_id=job_id)

    def cancel(self, job_id: str) -> Reply:
        if not self.profile.offers("cancel"):
            return Reply.absent_op("cancel")
        return self._call("cancel", "POST", self.profile.path("cancel", job_id), job_id=job_id)

    def legacy_start(
        self,
        file_ids: Sequence[int],
        client_request_id: str | None = None,
        simulate: Mapping[str, int] | None = None,
    ) -> Reply:
        """The synchronous endpoint (the negative control): held until the job ends, or until a front gives up."""
        if not self.profile.offers("legacy_start"):
            return Reply.absent_op("legacy_start")
        body = self._job_body(file_ids, client_request_id, simulate, None)
        path = self.profile.path("legacy_start")
        timeout = httpx.Timeout(self.timeouts.legacy_s, connect=self.timeouts.connect_s)
        return self._call("legacy_start", "POST", path, body=body, client_request_id=client_request_id, timeout=timeout)

    def poll_until_terminal(self, job_id: str, deadline: float) -> PollResult:
        """Poll every `nextPollInMs` (±20 % jitter) until a finished state, a definite refusal, or `deadline`
        seconds from now; the last poll happens at or after the deadline, so the history shows the job's state
        then. Failures that may be transient (timeouts, 5xx, refused connections) keep polling."""
        end, polls = self._clock() + deadline, 0
        while True:
            reply, polls = self.status(job_id), polls + 1
            if (reply.job is not None and reply.job.finished) or reply.http_status == 410:
                return PollResult("ok", reply, polls)
            if reply.outcome == "fail" and not reply.retryable():
                return PollResult("fail", reply, polls)
            remaining = end - self._clock()
            if remaining <= 0:
                return PollResult("info", replace(reply, error=reply.error or "deadline"), polls)
            hint_ms = reply.job.next_poll_ms if reply.job is not None else None
            wait = hint_ms / 1000 if hint_ms else self.timeouts.default_poll_s
            self._sleep(min(wait * self._rng.uniform(0.8, 1.2), remaining))

    def follow_sse(
        self,
        job_id: str,
        deadline: float,
        last_event_id: int | None = None,
        reconnect: bool = True,
        stop_after_events: int | None = None,
    ) -> StreamResult:
        """Follow the job's SSE stream (see `harness.clients.sse.SseFollower`); `deadline` is seconds from now."""
        url = self.profile.path("stream", job_id)
        resume_from = last_event_id if self.profile.offers("resume") else None
        return self._sse.follow(url, job_id, deadline, resume_from, reconnect, stop_after_events)

    def download(self, job_id: str, expected_checksum: str | None = None) -> DownloadResult:
        """Ask for the artifact, follow the redirect through this client's base URL, hash what arrives and compare
        it with `expected_checksum` (by default, the checksum the status endpoint shows now). A profile with
        `download = "direct"` gets the bytes from the download answer itself (recorded as one `artifact`)."""
        expected = expected_checksum
        if expected is None:
            shown = self.status(job_id).job
            expected = shown.checksum if shown is not None else None
        if self.profile.features.download == "direct":
            return self._fetch_artifact(job_id, self.profile.path("download", job_id), expected)
        redirect = self._call("download", "GET", self.profile.path("download", job_id), job_id=job_id)
        if not redirect.ok or not redirect.location:
            outcome = "fail" if redirect.ok else redirect.outcome
            error = redirect.error or "no_location"
            return DownloadResult(outcome, redirect.http_status, redirect.latency_s, expected=expected, error=error)
        return self._fetch_artifact(job_id, redirect.location, expected)

    def _fetch_artifact(self, job_id: str, location: str, expected: str | None) -> DownloadResult:
        inv = self._history.invoke("artifact", self.client_id, job_id=job_id)
        digest, size = hashlib.sha256(), 0
        timeout = httpx.Timeout(self.timeouts.artifact_s, connect=self.timeouts.connect_s)
        try:
            with self._http.stream("GET", location, timeout=timeout) as resp:
                code = resp.status_code
                for chunk in resp.iter_bytes():
                    digest.update(chunk)
                    size += len(chunk)
        except httpx.HTTPError as exc:
            outcome, error = classify_exception(exc)
            latency = self._history.complete(inv, outcome, error=error)
            return DownloadResult(outcome, None, latency, expected=expected, error=error)
        outcome, err = classify_status(code, self.profile.codes["artifact"])
        sha = f"{self.profile.checksum_prefix}{digest.hexdigest()}" if outcome == "ok" else None
        matches = None if sha is None or expected is None else sha.lower() == expected.lower()
        if matches is False:
            outcome, err = "fail", "checksum_mismatch"
        done: Observed = {"http_status": code, "size": size}
        if matches is not None:
            done["checksum_ok"] = matches
        if err:
            done["error"] = err
        latency = self._history.complete(inv, outcome, **done)
        return DownloadResult(outcome, code, latency, size, sha, expected, matches, err)

    def _job_body(
        self,
        file_ids: Sequence[int],
        client_request_id: str | None,
        simulate: Mapping[str, int] | None,
        priority: str | None,
    ) -> dict[str, Any]:
        f = self.profile.fields
        body: dict[str, Any] = {f["file_ids"]: list(file_ids)}
        if self.profile.features.idempotency != "field":
            client_request_id = None  # in a header (see `_call`), or not offered
        for key, value in (("client_request_id", client_request_id), ("simulate", simulate), ("priority", priority)):
            if value is not None:
                body[f[key]] = dict(value) if isinstance(value, Mapping) else value
        return body

    def _call(
        self,
        op: OpKind,
        method: str,
        url: str,
        *,
        body: dict[str, Any] | None = None,
        job_id: str | None = None,
        client_request_id: str | None = None,
        timeout: httpx.Timeout | None = None,
        expect_s: float | None = None,
    ) -> Reply:
        """One request recorded as one operation; the answer's job fields are recorded in canonical names, and a
        start's expected work (`expect_s`, modelled seconds) on its answer too."""
        seen: Observed = {}
        if job_id is not None:
            seen["job_id"] = job_id
        if client_request_id is not None:
            seen["client_request_id"] = client_request_id
        inv = self._history.invoke(op, self.client_id, **seen)
        headers = self.profile.idempotency_headers(client_request_id)
        try:
            answer = (
                self._send_with(headers, method, url, body, timeout)
                if headers
                else self._send(method, url, body, timeout)
            )
        except httpx.HTTPError as exc:
            lost, why = classify_exception(exc)
            return Reply(lost, None, self._history.complete(inv, lost, error=why), error=why)
        outcome, job, error = self._judge(op, answer)
        done: Observed = job.observed() if job is not None else {}
        done["http_status"] = answer.status_code
        if expect_s is not None:
            done["expect_s"] = expect_s
        if answer.status_code == 503:
            done["retry_after"] = answer.retry_after  # a fast 503 should say when to come back
        if error:
            done["error"] = error
        latency = self._history.complete(inv, outcome, **done)
        return Reply(outcome, answer.status_code, latency, job, error, answer.location)

    def _send(self, method: str, url: str, body: dict[str, Any] | None, timeout: httpx.Timeout | None) -> Answer:
        """The one plain request/answer exchange under `_call` (raises httpx.HTTPError); the Locust users swap in
        Locust's cheaper HTTP engine here, so every protocol rule and record stays the same whatever carries it."""
        return Answer.of(self._http.request(method, url, json=body, timeout=timeout or httpx.USE_CLIENT_DEFAULT))

    def _send_with(
        self,
        headers: Mapping[str, str],
        method: str,
        url: str,
        body: dict[str, Any] | None,
        timeout: httpx.Timeout | None,
    ) -> Answer:
        """A request with extra headers (an idempotency key in a header); always on httpx."""
        timeout_ = timeout or httpx.USE_CLIENT_DEFAULT
        return Answer.of(self._http.request(method, url, json=body, headers=headers, timeout=timeout_))

    def _judge(self, op: OpKind, answer: Answer) -> tuple[Outcome, JobView | None, str | None]:
        """Classify an answer; a success whose body shows no job is indeterminate (the work may have happened)."""
        outcome, error = classify_status(answer.status_code, self.profile.codes[op])
        try:
            data = json.loads(answer.content) if answer.content else None
        except ValueError:
            data = None
        job = self.profile.view(data) if isinstance(data, Mapping) else None
        if job is not None and job.job_id is None and job.status is None:
            job = None
        if outcome == "ok" and op in ("initiate", "status", "legacy_start") and (job is None or job.job_id is None):
            outcome, error = "info", "bad_body"
        if outcome == "fail" and op in ("status", "download", "cancel"):
            error = self.profile.refusal(op, answer.status_code) or error
        return outcome, job, error


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP answer as `ServiceClient._call` reads it, whichever engine carried the request."""

    status_code: int
    content: bytes
    location: str | None = None
    retry_after: bool = False  # whether it carried a Retry-After header

    @classmethod
    def of(cls, resp: httpx.Response) -> Answer:
        return cls(resp.status_code, resp.content, resp.headers.get("location"), "retry-after" in resp.headers)
