"""One measurement each, behind one config: does the legacy start of a job this long get through, does a stream
with this heartbeat interval survive? Values are modelled seconds; each probe answers (passed, what it saw).

The SSE probe follows a job that stays queued (the stack's workers are stopped before it is initiated), so the
stream carries its snapshot and then heartbeats only, for as long as the probe needs. A stalled job would not
do: the worker's watchdog reclaims it after the stall timeout (30 s modelled) and the requeue event it writes
would reset the proxy's idle timer, hiding any boundary above 30 s. The heartbeat interval is the service's
variable its spec names (`heartbeat_env`; the reference's REFERENCE_HEARTBEAT_S), fixed when its API starts, so
every SSE probe boots a fresh stack. The legacy probe needs a service whose profile offers the legacy start and
the simulate control (a job of a chosen length); a service without them is refused before any boot.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import httpx

from harness.clients import ServiceClient
from harness.contract import V1, ContractProfile, Timeouts
from harness.core.errors import ConfigError, HarnessError
from harness.core.timescale import scaled
from harness.judge.history import PROXY_TIMEOUT_CODES
from harness.stack import Stack, StackConfig
from harness.stack.config import Backend
from harness.stack.service import ServiceSpec, load_service

Probe = Callable[[float], tuple[bool, str]]


@dataclass(frozen=True)
class ProbeSettings:
    """Where probes run: the front, the time scale, the backend, the service."""

    config: str
    time_scale: float
    backend: Backend = "local"
    service: str = "reference"

    def stack(self, **changes: object) -> StackConfig:
        config = StackConfig(
            backend=self.backend, proxy_config=self.config, time_scale=self.time_scale, service=self.service
        )
        return config.replace(**changes)

    def needs(self, flow: str) -> ServiceSpec:
        """The service's spec, once it is known to have what the flow's probe moves (else a ConfigError)."""
        spec = load_service(self.service)
        features = spec.contract().features
        if flow == "legacy" and not (features.legacy_start and features.simulate):
            raise ConfigError(
                f"service {spec.name!r} ({spec.path}): the legacy boundary needs the legacy start and the simulate "
                "control (a job of a chosen length) in its profile's [features]; search --flows sse instead"
            )
        if flow == "sse" and not spec.heartbeat_env:
            raise ConfigError(
                f"service {spec.name!r} ({spec.path}): the SSE boundary moves the heartbeat interval, and its spec "
                "names no [service].heartbeat_env (the env var that sets it, in modelled seconds)"
            )
        return spec


class LegacyProbe:
    """Legacy synchronous starts on one stack: `with LegacyProbe(settings) as probe: probe(58.0)`."""

    def __init__(self, settings: ProbeSettings) -> None:
        self.settings = settings
        self.shares: list[float] = []  # per answered start: how much longer than its job it took (modelled s)
        self.last_s = 0.0
        self.profile = settings.needs("legacy").contract()
        self._stack = Stack(settings.stack())

    def __enter__(self) -> Self:
        self._stack.__enter__()
        ok, _ = self(0.0)
        if not ok:
            self._stack.close()
            raise HarnessError(f"behind {self.settings.config}, a zero-length legacy start does not succeed")
        return self

    @property
    def overhead_s(self) -> float:
        """The service's own share of a synchronous start (queue pickup, progress writes, artifact, wake-up): the
        largest excess of an answered start over its job's length, in modelled seconds."""
        return max(self.shares, default=0.0)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stack.close()

    def __call__(self, length_s: float) -> tuple[bool, str]:
        """A job of `length_s` modelled seconds started synchronously: passed when it answers 200."""
        scale = self.settings.time_scale
        timeouts = Timeouts(legacy_s=scaled(length_s * 2 + 60, scale) + 5.0)
        with ServiceClient(self._stack.endpoints.edge_url, timeouts=timeouts, profile=self.profile) as client:
            started = time.monotonic()
            reply = client.legacy_start([40001], None, {"durationMs": round(length_s * 1000)})
            self.last_s = (time.monotonic() - started) / scale
        if reply.ok:
            self.shares.append(self.last_s - length_s)
            return True, f"200 after {self.last_s:.1f} s"
        if reply.http_status in PROXY_TIMEOUT_CODES:
            return False, f"{reply.http_status} after {self.last_s:.1f} s"
        return False, f"{reply.outcome} ({reply.http_status or reply.error}) after {self.last_s:.1f} s"


def sse_probe(settings: ProbeSettings) -> Probe:
    """A probe that boots a stack whose service beats every `heartbeat_s` and follows a queued job's stream."""

    spec = settings.needs("sse")
    env_var = spec.heartbeat_env or ""

    def probe(heartbeat_s: float) -> tuple[bool, str]:
        env = {env_var: f"{heartbeat_s:g}"}
        with Stack(settings.stack(workers=1, service_env=env)) as stack:
            for component in stack.components():
                if component.startswith("worker-"):
                    stack.stop(component)
            return watch_stream(stack.endpoints.edge_url, heartbeat_s, settings.time_scale, stack.profile)

    return probe


def watch_stream(edge_url: str, heartbeat_s: float, scale: float, profile: ContractProfile = V1) -> tuple[bool, str]:
    """Initiate a job and read its stream until the first heartbeat after the snapshot (passed), a cut, or 1.5
    heartbeat intervals of silence (failed). Bytes are timed as they arrive, before any parsing."""
    window = scaled(1.5 * heartbeat_s, scale) + 0.5
    with ServiceClient(edge_url, profile=profile) as service:
        reply = service.initiate([50001])
    if reply.job is None or reply.job.job_id is None:
        raise HarnessError(f"behind {edge_url}, the SSE probe's initiate was refused: {reply.outcome}")
    with httpx.Client(base_url=edge_url, timeout=httpx.Timeout(5.0)) as client:
        arrivals: list[float] = []
        started = time.monotonic()
        stream = profile.path("stream", reply.job.job_id)
        try:
            with client.stream("GET", stream, timeout=httpx.Timeout(window, connect=5.0)) as resp:
                for chunk in resp.iter_raw():
                    arrivals.append(time.monotonic())
                    if len(arrivals) >= 2 and b"event:" not in chunk:
                        gap = (arrivals[-1] - arrivals[-2]) / scale
                        return True, f"heartbeat after {gap:.1f} s"
            what = "closed"
        except httpx.ReadTimeout:
            what = "silent"
        except httpx.HTTPError as exc:
            what = f"cut ({type(exc).__name__})"
    since = (time.monotonic() - (arrivals[-1] if arrivals else started)) / scale
    seen = "after the snapshot" if arrivals else "with no byte at all"
    return False, f"{what} {since:.1f} s {seen}"
