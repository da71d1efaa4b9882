"""Each component of a container stack as a ManagedContainer: the same processes, flags and readiness checks
as the local backend (harness.stack.components), run from the stack's images instead of the host's binaries."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from harness.fronts.nginx import ProxyConfig, render
from harness.images import ImageSet
from harness.stack.components import AofProfile
from harness.stack.containers.parts import (
    API_PORT,
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


def api_container(place: StackPlace, images: ImageSet, log_dir: Path, env: Mapping[str, str]) -> ManagedContainer:
    spec = place.spec(images.service, "api", {API_PORT: 0})
    spec.with_command(["api", "--host", "0.0.0.0", "--port", str(API_PORT)]).with_envs(**env)
    spec.with_volume_mapping(place.volume, ARTIFACTS, "rw")
    return ManagedContainer("api", spec, log_dir / "api.log", HttpOk(API_PORT, "/health"), [API_PORT])


def worker_container(
    place: StackPlace, images: ImageSet, log_dir: Path, env: Mapping[str, str], index: int, concurrency: int
) -> ManagedContainer:
    name = f"worker-{index}"
    spec = place.spec(images.service, name).with_command(["worker", "--concurrency", str(concurrency)])
    spec.with_envs(**env).with_volume_mapping(place.volume, ARTIFACTS, "rw")
    return ManagedContainer(name, spec, log_dir / f"{name}.log", FreshLogLine("worker ready"), [])


def nginx_container(place: StackPlace, images: ImageSet, log_dir: Path, name: str, conf: str) -> ManagedContainer:
    """nginx running a config rendered by harness.fronts.nginx.render (listening on 0.0.0.0:8080, paths under
    the image's log directory, artifacts read-only from the stack's volume)."""
    spec = place.spec(images.nginx, name, {NGINX_PORT: 0})
    spec.with_command(["nginx", "-p", NGINX_PREFIX, "-c", NGINX_CONF, "-g", "daemon off;"])
    spec.with_volume_mapping(place.volume, ARTIFACTS, "ro").with_copy_into_container(conf.encode(), NGINX_CONF)
    return ManagedContainer(name, spec, log_dir / f"{name}.log", HttpOk(NGINX_PORT, "/health"), [NGINX_PORT])


def nginx_conf(config: ProxyConfig, upstream: str, secret: str, time_scale: float) -> str:
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
    )
