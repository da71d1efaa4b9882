"""The canonical views the clients return and every other layer reads: a job as one answer showed it, the reply
to one request, and how an answer (or its absence) is classified: ok, fail (definite) or info (indeterminate)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from harness.judge.history import FINISHED, PROXY_TIMEOUT_CODES, Observed, Outcome


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _num(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class JobView:
    """A job as one answer showed it (canonical status); `body` keeps the answer for anything else."""

    job_id: str | None
    status: str | None
    progress: float | None = None
    attempts: int | None = None
    completed_files: int | None = None
    total_files: int | None = None
    checksum: str | None = None
    download_url: str | None = None
    size: int | None = None
    error: Mapping[str, Any] | None = None
    next_poll_ms: float | None = None
    body: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def observed(self) -> Observed:
        seen: Observed = {}
        if self.job_id is not None:
            seen["job_id"] = self.job_id
        if self.status is not None:
            seen["status"] = self.status
        if self.progress is not None:
            seen["progress"] = self.progress
        if self.attempts is not None:
            seen["attempts"] = self.attempts
        return seen


@dataclass(frozen=True)
class Reply:
    """The answer to one request: outcome, HTTP status (None when no answer), latency, the job it showed."""

    outcome: Outcome
    http_status: int | None
    latency_s: float
    job: JobView | None = None
    error: str | None = None
    location: str | None = None

    @classmethod
    def absent_op(cls, op: str) -> Reply:
        """The answer for an operation the profile says the target lacks: nothing was sent."""
        return cls("fail", None, 0.0, error=f"absent: the profile declares no {op}")

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"

    @property
    def absent(self) -> bool:
        return self.error is not None and self.error.startswith("absent:")

    def retryable(self, *, idempotent: bool = True) -> bool:
        """The one rule for "may this request be sent again": never after success or a definite refusal (a 4xx
        other than 408/429); after no definite answer (timeout, reset, 5xx: the work may have been done) only when
        re-sending is safe (`idempotent`: a read, or a write with an idempotency key)."""
        if self.outcome == "ok":
            return False
        if self.outcome == "fail":
            return self.http_status is None or self.http_status in (408, 429)
        return idempotent

    @property
    def proxy_timeout(self) -> bool:
        """A front gave up waiting (502/504/524): what the async flow exists to avoid."""
        return self.http_status in PROXY_TIMEOUT_CODES


@dataclass(frozen=True)
class PollResult:
    """How polling ended: `ok` on a finished state, `fail` when the job is unknown, `info` at the deadline."""

    outcome: Outcome
    last: Reply
    polls: int

    @property
    def job(self) -> JobView | None:
        return self.last.job


@dataclass(frozen=True)
class DownloadResult:
    """A downloaded artifact: its size and sha256, and whether they match the status checksum."""

    outcome: Outcome
    http_status: int | None
    latency_s: float
    size: int = 0
    sha256: str | None = None
    expected: str | None = None
    checksum_ok: bool | None = None
    error: str | None = None


def classify_exception(exc: httpx.HTTPError) -> tuple[Outcome, str]:
    """Never sent (connect/pool) is a definite failure; anything after sending is indeterminate."""
    if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
        return "fail", "connect_timeout"
    if isinstance(exc, httpx.ConnectError):
        return "fail", "connect"
    if isinstance(exc, httpx.TimeoutException):
        return "info", "timeout"
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return "info", "disconnected"
    return "info", type(exc).__name__


def classify_status(code: int, expected: tuple[int, ...]) -> tuple[Outcome, str | None]:
    """A refusal (4xx) is definite; a 5xx may come after the work was done (a proxy gave up waiting)."""
    if code in expected:
        return "ok", None
    if code in PROXY_TIMEOUT_CODES:
        return "info", "proxy_timeout"
    return ("info" if code >= 500 else "fail"), f"http_{code}"
