"""The containers backend: the chain of the local backend, one container per component on the stack's own
Docker network, created with testcontainers; the host reaches it only through ports published on 127.0.0.1.

client -> toxiproxy[edge] -> nginx (named config) [-> origin nginx] -> toxiproxy[api] -> api
                                 api, workers -> toxiproxy[redis] -> redis; artifacts on the stack's volume

Ryuk cannot run here: every container, the network and the volume carry the stack's labels, teardown removes
them, and a stack whose owner was killed is reaped by the next boot or by `harness down`.
"""

from __future__ import annotations

import secrets
import sys
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from testcontainers.core.network import Network

from harness.core.errors import ConfigError, StackStartError
from harness.core.net import LOOPBACK, wait_healthy
from harness.faults.toxiproxy import Proxy, ToxiproxyClient
from harness.fronts.nginx import ProxyConfig, load_proxy_config
from harness.images import ImageSet
from harness.images.build import ensure_user_image
from harness.images.engine import local_image
from harness.stack.base import StackSurface
from harness.stack.components import ServiceRun
from harness.stack.config import Endpoints, StackConfig
from harness.stack.containers.components import (
    api_container,
    nginx_conf,
    nginx_container,
    redis_container,
    toxiproxy_container,
    worker_container,
)
from harness.stack.containers.engine import engine_with_images, reap, stack_labels
from harness.stack.containers.parts import (
    ARTIFACTS,
    NGINX_PORT,
    PROXY_PORTS,
    REDIS_PORT,
    TOXIPROXY_PORT,
    ManagedContainer,
    StackPlace,
    remove_all,
    start_all,
    tail,
)


def _stderr(line: str) -> None:
    print(f"harness: {line.strip()}", file=sys.stderr)


class ContainerStack(StackSurface):
    """A whole chain as containers; the same surface as LocalStack. A failed start removes what did start."""

    def __init__(self, config: StackConfig, images: ImageSet | None = None) -> None:
        self.config = config
        self.service = config.service_spec()
        self.service.container_spec()  # a spec without [containers] fails here, before anything starts
        self.front: ProxyConfig = load_proxy_config(config.proxy_config)
        self.origin: ProxyConfig | None = load_proxy_config(self.front.origin) if self.front.origin else None
        self.fault_listener: Callable[[Any], None] | None = None
        self.stack_id = secrets.token_hex(4)
        self.images = images
        self._parts: dict[str, ManagedContainer] = {}
        self._exit = ExitStack()
        self._client: Any = None
        self.workdir = Path(config.workdir or tempfile.mkdtemp(prefix="harness-containers-"))
        self.log_dir = self.workdir / "logs"
        self.secret = secrets.token_urlsafe(18)
        self._toxiproxy: ToxiproxyClient | None = None
        self._endpoints: Endpoints | None = None
        self.boot_seconds = 0.0

    def __repr__(self) -> str:
        return f"ContainerStack({self.stack_id!r}, proxy_config={self.config.proxy_config!r})"

    # --- what faults and clients use -------------------------------------------------------------
    # --- ProcessControl ----------------------------------------------------------------------------
    def components(self) -> list[str]:
        """Like the local backend: Redis, the API, the workers and the nginx fronts (not Toxiproxy itself)."""
        return [name for name in self._parts if name != "toxiproxy"]

    def _proc(self, component: str) -> ManagedContainer:
        if component not in self.components():
            raise ConfigError(f"no component {component!r}; this stack has {', '.join(self.components())}")
        return self._parts[component]

    def pids(self) -> dict[str, int]:
        """The host pid of each running container's init process (Toxiproxy's too), for diagnosis."""
        found = {name: part.pid for name, part in self._parts.items()}
        return {name: pid for name, pid in found.items() if pid is not None}

    # --- lifecycle ---------------------------------------------------------------------------------
    def _boot(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        images, place = self._prepare()
        toxiproxy = toxiproxy_container(place, images, self.log_dir, self.config.toxiproxy_port, self.config.edge_port)
        self._start_all([redis_container(place, images, self.log_dir, self.config.aof), toxiproxy])
        self._follow()
        front_host = "edge-nginx" if self.origin else "nginx"
        self.toxiproxy.populate(
            [
                Proxy("redis", f"redis:{REDIS_PORT}", f"0.0.0.0:{PROXY_PORTS['redis']}"),
                Proxy("api", f"api:{self.service.container_spec().port}", f"0.0.0.0:{PROXY_PORTS['api']}"),
                Proxy("edge", f"{front_host}:{NGINX_PORT}", f"0.0.0.0:{PROXY_PORTS['edge']}"),
            ]
        )
        redis_url = f"redis://toxiproxy:{PROXY_PORTS['redis']}/0"
        run = ServiceRun(
            self.service, redis_url, ARTIFACTS, self.secret, self.time_scale, self.config.service_env, "containers"
        )
        image = self._service_image(images)
        parts = [api_container(place, image, self.log_dir, run)]
        parts += [
            worker_container(place, image, self.log_dir, run, i, self.config.worker_concurrency)
            for i in range(self.config.workers)
        ]
        origin_conf = self._nginx_conf("nginx", self.origin or self.front, f"toxiproxy:{PROXY_PORTS['api']}")
        health = self.service.health_path
        self._start_all([*parts, nginx_container(place, images, self.log_dir, "nginx", origin_conf, health)])
        if self.origin:
            edge_conf = self._nginx_conf("edge-nginx", self.front, f"nginx:{NGINX_PORT}")
            self._start_all([nginx_container(place, images, self.log_dir, "edge-nginx", edge_conf, health)])
        self._follow()
        self._wait_for_chain()

    def _prepare(self) -> tuple[ImageSet, StackPlace]:
        """The engine and the images, then the stack's network and volume, each removed on close."""
        client, images = engine_with_images(self.images)
        self._client = client
        self._exit.callback(client.close)
        labels = stack_labels(self.stack_id)
        self._exit.callback(reap, client, stack_id=self.stack_id)  # last: the network, the volume, any straggler
        network = Network(docker_network_kw={"labels": labels})
        network.name = f"adc-{self.stack_id}"
        network.create()
        volume = client.volumes.create(name=f"adc-{self.stack_id}-artifacts", labels=labels)
        self._exit.callback(self._close_toxiproxy)
        self._exit.callback(self._remove_parts)
        return images, StackPlace(self.stack_id, network, str(volume.name), labels)

    def _service_image(self, images: ImageSet) -> str:
        """The image the service's roles run: its spec's, built offline from its Dockerfile when it has one."""
        spec = self.service.container_spec()
        client = self._client
        if spec.context is not None:
            args = {key: value.format(service_image=images.service) for key, value in spec.build_args.items()}
            args.setdefault("HARNESS_SERVICE_IMAGE", images.service)
            return ensure_user_image(client, self.service.name, spec.context, spec.dockerfile, args, _stderr)
        name = spec.image_name(images.service) or images.service
        if local_image(client, name) is None:
            raise StackStartError(
                f"{self.service.path} [containers].image={name!r} is not in the engine and a stack never pulls; "
                f"build or load it first (docker build -t {name} ... / docker load), or give build = {{ context = "
                '".", dockerfile = "Dockerfile" }} to have the harness build it'
            )
        return name

    def _start_all(self, parts: list[ManagedContainer]) -> None:
        for part in parts:
            self._parts[part.name] = part
        start_all(parts)

    def _remove_parts(self) -> None:
        remove_all(list(self._parts.values()))

    def _close_toxiproxy(self) -> None:
        if self._toxiproxy is not None:
            self._toxiproxy.close()
            self._toxiproxy = None

    def _nginx_conf(self, name: str, config: ProxyConfig, upstream: str) -> str:
        text = nginx_conf(config, upstream, self.secret, self.time_scale, self.profile)
        (self.workdir / f"{name}.conf").write_text(text)
        return text

    def _follow(self) -> None:
        """Point the endpoints and the Toxiproxy client at the ports published now (a restart may move them)."""
        url = f"http://{LOOPBACK}:{self._parts['toxiproxy'].host_ports[TOXIPROXY_PORT]}"
        if self._toxiproxy is None or self._toxiproxy.url != url:
            self._close_toxiproxy()
            self._toxiproxy = ToxiproxyClient(url)
        if "nginx" not in self._parts:
            return

        def url_of(name: str, port: int, scheme: str = "http") -> str:
            return f"{scheme}://{LOOPBACK}:{self._parts[name].host_ports[port]}"

        self._endpoints = Endpoints(
            edge_url=url_of("toxiproxy", PROXY_PORTS["edge"]),
            front_url=url_of("edge-nginx" if self.origin else "nginx", NGINX_PORT),
            origin_url=url_of("nginx", NGINX_PORT),
            api_url=url_of("api", self.service.container_spec().port),
            toxiproxy_url=url,
            redis_url=url_of("redis", REDIS_PORT, "redis") + "/0",
            log_dir=str(self.log_dir),
        )

    def _wait_for_chain(self, timeout: float = 10.0) -> None:
        try:
            health = f"{self.endpoints.edge_url}{self.service.health_path}"
            wait_healthy(health, timeout, "the chain (edge -> front -> API)")
        except StackStartError as exc:
            for name, part in self._parts.items():
                exc.add_note(f"last lines of {name}'s container log:\n{tail(part.logs(), 10)}")
            raise
