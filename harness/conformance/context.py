"""What every conformance check shares: the configuration, the clients, the clock and the jobs it started.

Two protocol clients: `flow` records what it sees in the run's history (the checker judges it at the end),
`probe` records nothing (bad inputs, unknown ids: answers the checker would rightly call anomalies when they
come from a probe that asked for them). The idempotency probes are recorded (`client(recorded=True)`): a retried
initiate that made a second job is the checker's `duplicate_job` too. Raw requests go through `http`.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from harness.clients import ServiceClient
from harness.contract import ContractProfile, Reply, StreamOptions, Timeouts
from harness.core.closing import Closing
from harness.core.errors import ConfigError
from harness.core.timescale import parse_time_scale, scaled
from harness.judge.history import Recorder

SHORT_JOB_S = 20.0  # modelled seconds of the jobs followed to their end (with the `simulate` test controls)
LONG_JOB_S = 120.0  # modelled seconds of the job that must still be running while probed
SHORT_JOB_FILES = 2  # file ids of a job followed to its end (fewer when the profile has fewer valid ids)
LONG_JOB_FILES = 12  # a dozen files: the longest job where duration follows size


@dataclass(frozen=True)
class ConformanceConfig:
    """One run: where, under which profile, how fast jobs go (`time_scale`, a hint), within what budget."""

    target: str
    profile: ContractProfile
    time_scale: float = 1.0
    budget_s: float = 120.0
    request_s: float = 5.0
    retries: int = 8
    rounds: int = 3
    latency_samples: int = 20

    def __post_init__(self) -> None:
        if not self.target.startswith(("http://", "https://")):
            raise ConfigError(f"--target {self.target!r} is not an http(s) URL; e.g. http://127.0.0.1:8000")
        object.__setattr__(self, "time_scale", parse_time_scale(self.time_scale))
        if not 10 <= self.budget_s <= 3600:
            raise ConfigError(f"budget {self.budget_s:g} s is out of range; use 10-3600 s (default 120)")
        if not 2 <= self.retries <= 64 or not 1 <= self.rounds <= 10 or not 1 <= self.latency_samples <= 500:
            raise ConfigError("retries 2-64, rounds 1-10 and latency samples 1-500 keep a run bounded")

    @property
    def heartbeat_wall_s(self) -> float | None:
        hb = self.profile.features.heartbeat_s
        return None if hb is None else scaled(hb, self.time_scale)

    def timeouts(self) -> Timeouts:
        """The stream's read timeout stays above the declared heartbeat, so a silence is measured, not cut early."""
        hb = self.heartbeat_wall_s
        silence = scaled(60.0, self.time_scale) if hb is None else 2 * hb  # two heartbeats missed must be seen
        stream = StreamOptions.outlasting(silence, self.time_scale)
        return Timeouts(request_s=self.request_s, legacy_s=self.budget_s, stream=stream)


@dataclass
class Run(Closing):
    """The live state of one run; `remaining()` is what is left of the budget, in seconds."""

    config: ConformanceConfig
    history: Recorder
    started: float = field(default_factory=time.monotonic)
    jobs: dict[str, str] = field(default_factory=dict)
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _clients: Iterator[int] = field(default_factory=itertools.count)

    def __post_init__(self) -> None:
        cfg = self.config
        self.profile = cfg.profile
        ids = self.profile.file_ids  # the ids the profile says make a valid job, taken in order
        self.short_files = ids.first(min(SHORT_JOB_FILES, len(ids)))
        self.long_files = ids.first(min(LONG_JOB_FILES, len(ids)))
        self.flow = ServiceClient(
            cfg.target, self.history, "conformance", timeouts=cfg.timeouts(), profile=self.profile
        )
        self.probe = self.client()
        self.http = httpx.Client(base_url=cfg.target, timeout=cfg.request_s, follow_redirects=False)

    def client(self, recorded: bool = False) -> ServiceClient:
        """A new client (its own connections), e.g. one per concurrent retry; unrecorded unless `recorded`."""
        cfg = self.config
        if not recorded:
            return ServiceClient(cfg.target, timeouts=cfg.timeouts(), profile=self.profile)
        name = f"conformance-{next(self._clients)}"
        return ServiceClient(cfg.target, self.history, name, timeouts=cfg.timeouts(), profile=self.profile)

    def close(self) -> None:
        for closable in (self.flow, self.probe, self.http):
            closable.close()

    def remaining(self, reserve: float = 0.0) -> float:
        return max(0.0, self.config.budget_s - (time.monotonic() - self.started) - reserve)

    def note(self, kind: str, reply: Reply) -> Reply:
        """Keep a successful request's latency for the latency points."""
        if reply.ok:
            with self._lock:
                self.latencies[kind].append(reply.latency_s)
        return reply

    def simulate(self, modelled_s: float) -> Mapping[str, int] | None:
        """The v1 test controls for a job of this length, when the profile says the target takes them."""
        return {"durationMs": round(modelled_s * 1000)} if self.profile.features.simulate else None

    def initiate(self, role: str, files: tuple[int, ...], modelled_s: float, key: str | None = None) -> Reply:
        reply = self.note("initiate", self.flow.initiate(files, key, self.simulate(modelled_s)))
        if reply.ok and reply.job is not None and reply.job.job_id:
            self.jobs[role] = reply.job.job_id
        return reply

    def unknown_id(self) -> str:
        """A well-formed id that names no job (a UUID, the common shape of job ids)."""
        return str(uuid.uuid4())


def elapsed_ms(since: float) -> float:
    return (time.monotonic() - since) * 1000


def short_text(value: Any, limit: int = 80) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
