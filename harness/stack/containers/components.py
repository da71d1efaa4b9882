"""Each component of a container stack as a ManagedContainer: the same processes, flags and readiness checks
as the local backend (harness.stack.components), run from the stack's images instead of the host's binaries."""

from __future__ import annotations

from pathlib import Path

from testcontainers.core.container import DockerContainer

from harness.contract import ContractProfile
from harness.fronts.nginx import ProxyConfig, render
from harness.images import ImageSet
from harness.stack.components import AofProfile, ServiceRun
from harness.stack.containers.parts import (
    ARTIFACTS,
    NGINX_CONF,
    NGINX_PORT,
    NGINX_PREFIX,
    PROXY_PORTS,
    REDIS_PORT,
    TOXIPROXY_PORT,
    ManagedContainer,
    StackPlace,
)
from harness.stack.containers.wait import FreshLogLine, HttpOk, RedisPing


def redis_container(place: StackPlace, images: ImageSet, log_dir: Path, aof: AofProfile) -> ManagedContainer:
    """Redis with AOF per profile in the container's /data (kept across restarts), no RDB snapshots."""
    argv = ["redis-server", "--protected-mode", "no", "--dir", "/data", "--save", "", "--loglevel", "warning"]
    argv += ["--appendonly", "no"] if aof == "off" else ["--appendonly", "yes", "--appendfsync", aof]
    spec = place.spec(images.redis, "redis", {REDIS_PORT: 0}).with_command(argv)
    return ManagedContainer("redis", spec, log_dir / "redis.log", RedisPing(REDIS_PORT), [REDIS_PORT])


def toxiproxy_container(
    place: StackPlace, images: ImageSet, log_dir: Path, api_port: int = 0, edge_port: int = 0
) -> ManagedContainer:
    """The Toxiproxy server; its API and the edge proxy are published (fixed host ports when asked)."""
    ports = {TOXIPROXY_PORT: api_port, PROXY_PORTS["edge"]: edge_port}
    spec = place.spec(images.toxiproxy, "toxiproxy", ports).with_command(["-host=0.0.0.0"])
    ready = HttpOk(TOXIPROXY_PORT, "/version")
    return ManagedContainer("toxiproxy", spec, log_dir / "toxiproxy.log", ready, list(ports))


def _service_part(
    place: StackPlace, image: str, name: str, run: ServiceRun, ports: dict[int, int], **process: object
) -> DockerContainer:
    """A role of the service under test: its spec's argv in place of the image's entrypoint, only its env."""
    role = name.partition("-")[0]
    argv = run.argv(role, **process)
    spec = place.spec(image, name, ports, entrypoint=argv[:1]).with_command(argv[1:])
    return spec.with_envs(**run.env(role, **process)).with_volume_mapping(place.volume, ARTIFACTS, "rw")


def api_container(place: StackPlace, image: str, log_dir: Path, run: ServiceRun) -> ManagedContainer:
    port = run.spec.container_spec().port
    spec = _service_part(place, image, "api", run, {port: 0}, port=port)
    ready = HttpOk(port, run.spec.health_path, run.spec.health_code)
    return ManagedContainer("api", spec, log_dir / "api.log", ready, [port])


def worker_container(
    place: StackPlace, image: str, log_dir: Path, run: ServiceRun, index: int, concurrency: int
) -> ManagedContainer:
    name = f"worker-{index}"
    spec = _service_part(place, image, name, run, {}, index=index, concurrency=concurrency)
    marker = run.spec.role("worker", "containers").ready_log or run.spec.role("worker").ready_log
    return ManagedContainer(name, spec, log_dir / f"{name}.log", FreshLogLine(marker) if marker else None, [])


def nginx_container(
    place: StackPlace, images: ImageSet, log_dir: Path, name: str, conf: str, health: str
) -> ManagedContainer:
    """nginx running a config rendered by harness.fronts.nginx.render (listening on 0.0.0.0:8080, paths under
    the image's log directory, artifacts read-only from the stack's volume)."""
    spec = place.spec(images.nginx, name, {NGINX_PORT: 0})
    spec.with_command(["nginx", "-p", NGINX_PREFIX, "-c", NGINX_CONF, "-g", "daemon off;"])
    spec.with_volume_mapping(place.volume, ARTIFACTS, "ro").with_copy_into_container(conf.encode(), NGINX_CONF)
    return ManagedContainer(name, spec, log_dir / f"{name}.log", HttpOk(NGINX_PORT, health), [NGINX_PORT])


def nginx_conf(config: ProxyConfig, upstream: str, secret: str, time_scale: float, profile: ContractProfile) -> str:
    """A named front rendered for the nginx image, as the local backend renders it for the host's nginx."""
    return render(
        config,
        listen_port=NGINX_PORT,
        upstream=upstream,
        artifact_dir=ARTIFACTS,
        signing_secret=secret,
        time_scale=time_scale,
        prefix_dir=NGINX_PREFIX,
        listen_host="0.0.0.0",
        worker_user="",  # the image's default worker user
        profile=profile,
    )
