"""How each local component is launched and when it counts as ready: Redis, the API, the workers."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal

from harness.core.errors import StackStartError
from harness.core.net import LOOPBACK, http_ok, redis_ping
from harness.core.processes import ManagedProcess

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


def service_env(
    redis_url: str,
    artifact_dir: str | Path,
    secret: str,
    time_scale: float,
    extra: Mapping[str, str] | None = None,
    *,
    inherit: bool = True,
) -> dict[str, str]:
    """The service's environment, for every backend: where Redis and the artifacts are, the signing secret shared
    with the front, the time scale, test controls on. `inherit`: start from this process's environment (local
    processes); a container gets only these."""
    env = dict(os.environ) if inherit else {}
    env.update(
        {
            "REDIS_URL": redis_url,
            "ARTIFACT_DIR": str(artifact_dir),
            "SIGNING_SECRET": secret,
            "HARNESS_TIME_SCALE": repr(time_scale),
            "REFERENCE_TEST_CONTROLS": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra or {})
    return env


def _service_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "reference_service.cli", *args]


def api_process(port: int, env: Mapping[str, str], log_dir: Path, name: str = "api") -> ManagedProcess:
    return ManagedProcess(
        name,
        _service_argv("api", "--host", LOOPBACK, "--port", str(port)),
        log_dir / f"{name}.log",
        env=env,
        ready=http_ok(f"http://{LOOPBACK}:{port}/health"),
    )


def worker_process(index: int, env: Mapping[str, str], log_dir: Path, concurrency: int = 50) -> ManagedProcess:
    log = log_dir / f"worker-{index}.log"
    proc = ManagedProcess(f"worker-{index}", _service_argv("worker", "--concurrency", str(concurrency)), log, env=env)
    proc.ready = _fresh_marker(proc, b"worker ready")
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
