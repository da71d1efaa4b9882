"""A profile: one implementation's paths, fields, codes, status and event names and the optional features it
offers, mapped onto the canonical (v1) contract. The v1 reference service is the default profile (`V1`); another
implementation is tested by giving the clients its profile (`harness.contract.load_profile` reads one from TOML).
A feature a profile declares absent is never exercised: the clients answer `Reply.absent_op(...)` unsent.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from httpx_sse import ServerSentEvent

from harness.contract.views import JobView, _int, _num, _str
from harness.core.errors import ConfigError
from harness.judge.history import UNKNOWN_JOB, Observed
from harness.judge.params import stall_bound

V1_PATHS = {
    "initiate": "/v1/download/initiate",
    "status": "/v1/download/status/{job_id}",
    "stream": "/v1/download/stream/{job_id}",
    "download": "/v1/download/{job_id}",
    "cancel": "/v1/download/cancel/{job_id}",
    "legacy_start": "/v1/download/start",
    "health": "/health",
}
V1_FIELDS = {
    "file_ids": "fileIds",
    "client_request_id": "clientRequestId",
    "priority": "priority",
    "simulate": "simulate",
    "job_id": "jobId",
    "status": "status",
    "progress": "progress",
    "attempts": "attempts",
    "completed_files": "completedFiles",
    "total_files": "totalFiles",
    "checksum": "checksum",
    "download_url": "downloadUrl",
    "size": "size",
    "error": "error",
    "next_poll_ms": "nextPollInMs",
}
V1_CODES = {
    "initiate": (200, 201, 202),
    "status": (200,),
    "download": (301, 302, 303, 307),
    "artifact": (200,),
    "cancel": (200, 202),
    "legacy_start": (200,),
    "not_ready": (409,),
    "unknown": (404,),
    "expired": (410,),
    "bad_input": (400, 413, 415, 422),
}
STATES = ("queued", "running", "processing_artifacts", "completed", "failed", "cancelled", "expired")
EVENTS = ("snapshot", "progress", "completed", "failed", "cancelled")
Idempotency = Literal["field", "header", "none"]
DownloadMode = Literal["redirect", "direct"]
LIMITS = {"initiate_p99_ms": 500.0, "status_p99_ms": 500.0, "first_event_ms": 1000.0}
UUID_PATTERN = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"


@dataclass(frozen=True)
class Features:
    """The optional parts of the contract, as the reference offers them; durations are modelled seconds.

    `idempotency`: where the client request id goes: the `client_request_id` field, the `idempotency_header`
    header, or nowhere. `heartbeat_s`: the declared SSE comment interval (None = no heartbeats promised).
    `download`: `redirect` (3xx to a signed URL) or `direct` (the download answer carries the bytes).
    `stall_recovery_s`: how soon a running attempt whose worker died is taken over (the reference: a 30 s job lock
    checked every 15 s), and `stall_recovery_floor_s` the least it takes in real seconds however small the time
    scale (the reference's lock is never under 2 s, checked at least every 1 s). `job_s_per_file`: how long a job
    lasts per file id when no simulate control says (None: unknown). Together they give each job the longest it
    may show a running attempt with no visible change (see `expected_job_s` and the checker's stall rule)."""

    cancel: bool = True
    legacy_start: bool = True
    idempotency: Idempotency = "field"
    idempotency_header: str = "Idempotency-Key"
    resume: bool = True
    heartbeat_s: float | None = 15.0
    download: DownloadMode = "redirect"
    problem_json: bool = True
    no_store: bool = True
    simulate: bool = True
    health: bool = True
    stall_recovery_s: float = 60.0
    stall_recovery_floor_s: float = 3.0
    job_s_per_file: float | None = None


@dataclass(frozen=True)
class FileIds:
    """The file ids that make a valid job: an explicit list (`values`) or the inclusive range `start`..`stop` every
    `step`. Every client draws its jobs' ids from here: `pick` at random (a workload, Locust), `first` in order
    (conformance, the Hypothesis machine). The default, 10001..19999, is what the reference service accepts."""

    values: tuple[int, ...] | None = None
    start: int | None = None
    stop: int | None = None
    step: int = 1
    _ids: Sequence[int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.values is not None:
            values = tuple(self.values)
            if self.start is not None or self.stop is not None or self.step != 1:
                raise ConfigError(f"file ids {values!r} with a range: give either values or start/stop/step")
            if not values or not all(is_positive_int(v) for v in values) or len(set(values)) != len(values):
                raise ConfigError(f"file ids {values!r}: give distinct positive integers, at least one")
            object.__setattr__(self, "values", values)
            object.__setattr__(self, "_ids", values)
            return
        start, stop, step = self.start, self.stop, self.step
        if start is None or stop is None:
            raise ConfigError("file ids: give values, or both start and stop of a range")
        if not all(is_positive_int(v) for v in (start, stop, step)) or stop < start:
            raise ConfigError(f"file ids {start}..{stop} step {step}: give positive integers with start <= stop")
        object.__setattr__(self, "_ids", range(start, stop + 1, step))

    def pick(self, rng: random.Random, count: int) -> tuple[int, ...]:
        """`count` ids drawn at random (repeats possible); on a step-1 range the draws are `rng.randint(start,
        stop)`, so a seeded workload plans the jobs it always planned."""
        if self.values is not None:
            return tuple(rng.choice(self.values) for _ in range(count))
        start, stop, step = cast(int, self.start), cast(int, self.stop), self.step
        if step == 1:
            return tuple(rng.randint(start, stop) for _ in range(count))
        return tuple(start + step * rng.randint(0, (stop - start) // step) for _ in range(count))

    def first(self, count: int) -> tuple[int, ...]:
        """The first `count` valid ids, in order (the list's order, or the range's)."""
        if count > len(self):
            raise ConfigError(
                f"file ids {self.describe()}: {count} distinct ids wanted, only {len(self)} valid; "
                "give the profile's file_ids more ids"
            )
        return tuple(self._ids[: max(0, count)])

    def describe(self) -> str:
        if self.values is not None:
            shown = ", ".join(map(str, self.values[:5])) + (", ..." if len(self.values) > 5 else "")
            return f"[{shown}] ({len(self.values)} ids)"
        return f"{self.start}..{self.stop}" + (f" step {self.step}" if self.step != 1 else "")

    def __contains__(self, item: object) -> bool:
        return is_positive_int(item) and item in self._ids

    def __len__(self) -> int:
        return len(self._ids)


def is_positive_int(value: object) -> bool:
    """An int above 0, not a bool (TOML and JSON booleans are ints to Python)."""
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


DEFAULT_FILE_IDS = FileIds(start=10001, stop=19999)


@dataclass(frozen=True)
class ContractProfile:
    """Every name the clients send or read, keyed by canonical (v1) name; statuses and events map the
    implementation's names to canonical ones (absent = same name). A profile states only what differs:
    paths, fields and codes complete the v1 ones."""

    name: str = "v1"
    paths: Mapping[str, str] = field(default_factory=dict)
    fields: Mapping[str, str] = field(default_factory=dict)
    codes: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    statuses: Mapping[str, str] = field(default_factory=dict)
    events: Mapping[str, str] = field(default_factory=dict)
    checksum_prefix: str = "sha256:"
    job_id_pattern: str = UUID_PATTERN  # a regex of the job ids it issues: how a front's locations tell them apart
    features: Features = field(default_factory=Features)
    file_ids: FileIds = DEFAULT_FILE_IDS  # the ids a valid job may name: every client draws its jobs' ids from them
    limits: Mapping[str, float] = field(default_factory=dict)
    description: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        for name, v1 in (("paths", V1_PATHS), ("fields", V1_FIELDS), ("codes", V1_CODES), ("limits", LIMITS)):
            object.__setattr__(self, name, {**v1, **getattr(self, name)})

    def path(self, op: str, job_id: str = "") -> str:
        return self.paths[op].format(job_id=job_id)

    def offers(self, op: str) -> bool:
        """Whether the target has this optional operation (cancel, legacy_start, health, idempotency, resume)."""
        f = self.features
        known = {"cancel": f.cancel, "legacy_start": f.legacy_start, "health": f.health, "resume": f.resume}
        return f.idempotency != "none" if op == "idempotency" else known.get(op, True)

    def refusal(self, op: str, code: int) -> str | None:
        """What a definite refusal means for the checker: `unknown_job` when `code` can only say the job does not
        exist, `not_ready` when a download is refused because the job has not finished. A profile whose not-ready
        code is also its unknown code (404 for both) makes a download refusal `not_ready`: the status and stream
        answers still tell an unknown job apart."""
        if op == "download" and code in self.codes["not_ready"]:
            return "not_ready"
        return UNKNOWN_JOB if code in self.codes["unknown"] else None

    def expected_job_s(self, file_ids: Sequence[int], simulate: Mapping[str, Any] | None) -> float | None:
        """How long the job these file ids (and simulate control) make should work, in modelled seconds."""
        duration_ms = simulate.get("durationMs") if simulate is not None and self.features.simulate else None
        if isinstance(duration_ms, int | float) and not isinstance(duration_ms, bool):
            return duration_ms / 1000.0
        per_file = self.features.job_s_per_file
        return None if per_file is None else per_file * len(file_ids)

    def stall_recovery_on_clock(self, time_scale: float) -> float:
        """The declared stall recovery in seconds on this machine's clock at `time_scale` (never under its floor)."""
        return stall_bound(self.features.stall_recovery_s, self.features.stall_recovery_floor_s, time_scale)

    def idempotency_headers(self, client_request_id: str | None) -> dict[str, str]:
        """The header that carries the client request id, when the profile puts it in one."""
        if client_request_id is None or self.features.idempotency != "header":
            return {}
        return {self.features.idempotency_header: client_request_id}

    def view(self, body: Mapping[str, Any]) -> JobView:
        """A status-like body (status endpoint, SSE event data, initiate answer) in canonical terms."""
        f = self.fields
        raw_status = body.get(f["status"])
        return JobView(
            job_id=_str(body.get(f["job_id"])),
            status=self.statuses.get(raw_status, raw_status) if isinstance(raw_status, str) else None,
            progress=_num(body.get(f["progress"])),
            attempts=_int(body.get(f["attempts"])),
            completed_files=_int(body.get(f["completed_files"])),
            total_files=_int(body.get(f["total_files"])),
            checksum=_str(body.get(f["checksum"])),
            download_url=_str(body.get(f["download_url"])),
            size=_int(body.get(f["size"])),
            error=body.get(f["error"]) if isinstance(body.get(f["error"]), Mapping) else None,
            next_poll_ms=_num(body.get(f["next_poll_ms"])),
            body=body,
        )

    def observe_event(self, event: ServerSentEvent) -> Observed:
        """An SSE event as recorded in the history: canonical name, integer id, the job fields of its data."""
        seen: Observed = {"event": self.events.get(event.event, event.event)}
        if event.id.isdigit():
            seen["event_id"] = int(event.id)
        try:
            data = json.loads(event.data) if event.data else None
        except ValueError:
            data = None
        if isinstance(data, Mapping):
            seen.update(self.view(data).observed())
        return seen


V1 = ContractProfile()
