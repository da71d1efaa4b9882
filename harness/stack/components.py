"""How each local component is launched and when it counts as ready: Redis, the API, the workers."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from harness.core.errors import StackStartError
from harness.core.net import LOOPBACK, http_ok, redis_ping
from harness.core.processes import ManagedProcess
from harness.stack.service import Backend, ServiceSpec

AofProfile = Literal["always", "everysec", "off"]
AOF_PROFILES: tuple[AofProfile, ...] = ("always", "everysec", "off")


def which(program: str, *extra_dirs: str) -> str:
    found = shutil.which(program, path=os.pathsep.join([*extra_dirs, os.environ.get("PATH", ""), "/usr/sbin"]))
    if not found:
        raise StackStartError(
            f"{program!r} was not found on PATH or in {list(extra_dirs) or '/usr/sbin'}; "
            "`harness doctor` says what this machine lacks and how to install it (in a checkout: `make setup`)"
        )
    return found


def redis_process(port: int, workdir: Path, log_dir: Path, aof: AofProfile = "everysec") -> ManagedProcess:
    """Redis on loopback; AOF per profile ("off" is the lossy negative control), no RDB snapshots."""
    workdir.mkdir(parents=True, exist_ok=True)
    argv = [
        which("redis-server"),
        "--port",
        str(port),
        "--bind",
        LOOPBACK,
        "--dir",
        str(workdir),
        "--save",
        "",
        "--protected-mode",
        "no",
        "--daemonize",
        "no",
        "--loglevel",
        "warning",
        "--appendonly",
        "no" if aof == "off" else "yes",
    ]
    if aof != "off":
        argv += ["--appendfsync", aof]
    return ManagedProcess("redis", argv, log_dir / "redis.log", ready=redis_ping(port))


@dataclass(frozen=True)
class ServiceRun:
    """One implementation run by the harness: its spec and the stack-level values its placeholders take. Every
    backend starts the service's roles through this, the reference service included."""

    spec: ServiceSpec
    redis_url: str
    artifact_dir: str | Path
    secret: str
    time_scale: float
    extra_env: Mapping[str, str] = field(default_factory=dict)
    backend: Backend = "local"  # containers: the [containers] commands, and only these env vars (no inheritance)

    @property
    def service_scale(self) -> float:
        """The scale the service runs at: the run's, or 1 when its durations do not follow the time scale."""
        return self.time_scale if self.spec.scales else 1.0

    def values(self, **process: object) -> dict[str, object]:
        redis = urlsplit(self.redis_url)
        local = self.backend == "local"
        return {
            "python": sys.executable if local else "python3",
            "host": LOOPBACK if local else "0.0.0.0",
            "redis_url": self.redis_url,
            "redis_host": redis.hostname or "",
            "redis_port": redis.port or 6379,
            "artifact_dir": str(self.artifact_dir),
            "signing_secret": self.secret,
            "time_scale": repr(self.service_scale),
            **process,
        }

    def env(self, role: str = "api", **process: object) -> dict[str, str]:
        base = dict(os.environ) if self.backend == "local" else {}
        values = self.values(**process)
        return {**base, **self.spec.environment(role, values, self.backend), **self.extra_env}

    def argv(self, role: str, **process: object) -> list[str]:
        return self.spec.argv(role, self.values(**process), self.backend)

    def api(self, port: int, log_dir: Path, name: str = "api") -> ManagedProcess:
        health = f"http://{LOOPBACK}:{port}{self.spec.health_path}"
        proc = ManagedProcess(
            name,
            self.argv("api", port=port),
            log_dir / f"{name}.log",
            env=self.env("api", port=port),
            ready=http_ok(health, self.spec.health_code),
            cwd=self.spec.cwd("api"),
        )
        proc.start_timeout = self.spec.start_timeout_s
        return proc

    def worker(self, index: int, log_dir: Path, concurrency: int = 50) -> ManagedProcess:
        process = {"index": index, "concurrency": concurrency}
        name = f"worker-{index}"
        proc = ManagedProcess(
            name,
            self.argv("worker", **process),
            log_dir / f"{name}.log",
            env=self.env("worker", **process),
            cwd=self.spec.cwd("worker"),
        )
        proc.start_timeout = self.spec.start_timeout_s
        marker = self.spec.role("worker").ready_log
        proc.ready = _fresh_marker(proc, marker.encode()) if marker else None
        return proc


def _fresh_marker(proc: ManagedProcess, marker: bytes) -> Callable[[], bool]:
    """Ready when the marker appears after the latest start line (the log is appended across restarts)."""

    def ready() -> bool:
        try:
            data = proc.log_path.read_bytes()
        except OSError:
            return False
        return marker in data[data.rfind(b"--- start ") :]

    return ready
