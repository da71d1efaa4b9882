"""Fixtures shared by every tier: a local reference service (Redis AOF + API + workers) on free ports."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from harness.core.net import free_port
from harness.core.processes import ManagedProcess
from harness.core.timescale import time_scale_from_env
from harness.stack.components import ServiceRun, redis_process
from harness.stack.service import load_service

T = TypeVar("T")
os.environ.setdefault("HARNESS_TIME_SCALE", "0.05")


def wait_until(probe: Callable[[], T | None], timeout: float, what: str, interval: float = 0.05) -> T:
    """Poll `probe` until it returns something truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.1f} s waiting for {what}")
        time.sleep(interval)


@dataclass
class LocalService:
    """The service as local processes; tests kill and restart its parts and must leave it whole."""

    root: Path
    time_scale: float
    secret: str
    redis: ManagedProcess
    api: ManagedProcess
    workers: list[ManagedProcess]
    api_port: int
    redis_port: int
    extra: list[ManagedProcess] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    def run(self, **overrides: str) -> ServiceRun:
        """The reference service through its shipped spec, as every stack runs it, with env overrides."""
        spec = load_service("reference")
        return ServiceRun(spec, self.redis_url, self.root / "artifacts", self.secret, self.time_scale, overrides)

    def env(self, **overrides: str) -> dict[str, str]:
        return self.run(**overrides).env()

    def client(self, **kw: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=kw.pop("timeout", 10.0), **kw)

    def extra_api(self, **env: str) -> str:
        """Another API process on the same Redis with different settings; stopped at session end."""
        port = free_port()
        proc = self.run(**env).api(port, self.root / "logs", name=f"api-{port}")
        proc.start()
        self.extra.append(proc)
        return f"http://127.0.0.1:{port}"

    def wait_status(self, job_id: str, statuses: set[str], timeout: float) -> dict[str, Any]:
        with self.client() as c:

            def probe() -> dict[str, Any] | None:
                try:
                    body: dict[str, Any] = c.get(f"/v1/download/status/{job_id}").json()
                except (httpx.HTTPError, ValueError):
                    return None
                return body if body.get("status") in statuses else None

            return wait_until(probe, timeout, f"job {job_id} to reach {sorted(statuses)}")

    def stop(self) -> None:
        for proc in [*self.extra, *self.workers, self.api, self.redis]:
            proc.stop()


@pytest.fixture(scope="session")
def time_scale() -> float:
    return time_scale_from_env()


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory, time_scale: float) -> Iterator[LocalService]:
    root = tmp_path_factory.mktemp("service")
    redis_port, api_port = free_port(), free_port()
    redis = redis_process(redis_port, root / "redis", root / "logs", aof="always")
    svc = LocalService(root, time_scale, secrets.token_urlsafe(16), redis, None, [], api_port, redis_port)  # type: ignore[arg-type]
    svc.api = svc.run().api(api_port, root / "logs")
    svc.workers = [svc.run().worker(i, root / "logs", concurrency=20) for i in range(2)]
    try:
        for proc in [redis, svc.api, *svc.workers]:
            proc.start()
        yield svc
    finally:
        svc.stop()


def job_timeout(time_scale: float, modelled_seconds: float) -> float:
    """A generous wall-clock bound for something that takes `modelled_seconds` of modelled time."""
    return max(10.0, modelled_seconds * time_scale * 3 + 5)
