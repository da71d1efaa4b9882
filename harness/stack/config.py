"""The one frozen configuration of a stack, built once (from flags or the environment) and passed down."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

from harness.core.errors import ConfigError
from harness.core.timescale import parse_time_scale
from harness.stack.components import AOF_PROFILES, AofProfile
from harness.stack.service import ServiceSpec, load_service

Backend = Literal["local", "containers", "auto"]
BACKENDS: tuple[str, ...] = get_args(Backend)


@dataclass(frozen=True)
class StackConfig:
    """What a stack is: backend, front config, time scale, workers, persistence, fixed ports (0 = free)."""

    backend: Backend = "local"
    proxy_config: str = "recommended"
    time_scale: float = 1.0
    workers: int = 2
    worker_concurrency: int = 50
    aof: AofProfile = "everysec"
    edge_port: int = 0
    toxiproxy_port: int = 0
    workdir: Path | None = None
    service_env: Mapping[str, str] = field(default_factory=dict, hash=False)
    service: str | Path = "reference"  # the implementation in the SUT slot: a shipped spec's name or a spec file

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ConfigError(f"backend {self.backend!r} is unknown; use one of {', '.join(BACKENDS)}")
        object.__setattr__(self, "time_scale", parse_time_scale(self.time_scale))
        if not 1 <= self.workers <= 32:
            raise ConfigError(f"workers={self.workers} is out of range; use 1 to 32")
        if not 1 <= self.worker_concurrency <= 1000:
            raise ConfigError(f"worker_concurrency={self.worker_concurrency} is out of range; use 1 to 1000")
        if self.aof not in AOF_PROFILES:
            raise ConfigError(f"aof={self.aof!r} is unknown; use one of {', '.join(AOF_PROFILES)}")
        for name in ("edge_port", "toxiproxy_port"):
            port = getattr(self, name)
            if not 0 <= port < 65536:
                raise ConfigError(f"{name}={port} is not a TCP port; use 1-65535, or 0 for a free one")

    def service_spec(self) -> ServiceSpec:
        """The spec of the service this stack runs (read and checked now: a bad spec fails before any start)."""
        return load_service(self.service)

    def replace(self, **changes: object) -> StackConfig:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> StackConfig:
        """HARNESS_BACKEND, HARNESS_PROXY_CONFIG, HARNESS_TIME_SCALE, HARNESS_WORKERS, HARNESS_AOF,
        HARNESS_EDGE_PORT, HARNESS_TOXIPROXY_PORT, HARNESS_SERVICE; explicit overrides win."""
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for key, attr, conv in [
            ("HARNESS_BACKEND", "backend", str),
            ("HARNESS_PROXY_CONFIG", "proxy_config", str),
            ("HARNESS_TIME_SCALE", "time_scale", str),
            ("HARNESS_WORKERS", "workers", int),
            ("HARNESS_AOF", "aof", str),
            ("HARNESS_EDGE_PORT", "edge_port", int),
            ("HARNESS_TOXIPROXY_PORT", "toxiproxy_port", int),
            ("HARNESS_SERVICE", "service", str),
        ]:
            raw = env.get(key)
            if raw:
                try:
                    values[attr] = conv(raw)
                except ValueError:
                    raise ConfigError(f"{key}={raw!r} is not a whole number") from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Endpoints:
    """Where a running stack listens. Clients use `edge_url`; the others are for diagnosis and faults."""

    edge_url: str
    front_url: str
    origin_url: str
    api_url: str
    toxiproxy_url: str
    redis_url: str
    log_dir: str

    def as_dict(self) -> dict[str, str]:
        return dataclasses.asdict(self)
