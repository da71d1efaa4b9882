"""The local-process backend: Redis, API, workers, nginx front(s) and a real Toxiproxy on free loopback ports.

client -> toxiproxy[edge] -> nginx (named config) [-> origin nginx] -> toxiproxy[api] -> API
                                                     API, workers -> toxiproxy[redis] -> Redis
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from harness.core.errors import ConfigError, StackStartError, ToxiproxyError
from harness.core.net import LOOPBACK, free_port, http_ok, wait_healthy
from harness.core.processes import ManagedProcess
from harness.faults.toxiproxy import Proxy, ToxiproxyClient
from harness.faults.toxiproxy_server import ToxiproxyServer
from harness.fronts.nginx import ProxyConfig, load_proxy_config, nginx_argv, render
from harness.stack.base import StackSurface
from harness.stack.components import ServiceRun, redis_process
from harness.stack.config import Endpoints, StackConfig


class LocalStack(StackSurface):
    """A whole chain as child processes. A context manager: a failed start tears down what did start."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.service = config.service_spec()
        self.front: ProxyConfig = load_proxy_config(config.proxy_config)
        self.origin: ProxyConfig | None = load_proxy_config(self.front.origin) if self.front.origin else None
        self.fault_listener: Callable[[Any], None] | None = None
        self._procs: dict[str, ManagedProcess] = {}
        self._exit = ExitStack()
        self._own_workdir = config.workdir is None
        self._keep_logs = False
        self.workdir = Path(config.workdir or tempfile.mkdtemp(prefix="harness-stack-"))
        self.log_dir = self.workdir / "logs"
        self.secret = secrets.token_urlsafe(18)
        self._toxiproxy: ToxiproxyClient | None = None
        self._server_pid: int | None = None
        self._endpoints: Endpoints | None = None
        self.boot_seconds = 0.0

    # --- what faults and clients use -------------------------------------------------------------
    # --- ProcessControl ----------------------------------------------------------------------------
    def components(self) -> list[str]:
        return list(self._procs)

    def _proc(self, component: str) -> ManagedProcess:
        try:
            return self._procs[component]
        except KeyError:
            raise ConfigError(f"no component {component!r}; this stack has {', '.join(self._procs)}") from None

    def pids(self) -> dict[str, int]:
        """Every child process by component (and the Toxiproxy server), for diagnosis and teardown checks."""
        out = {name: proc.pid for name, proc in self._procs.items() if proc.pid is not None}
        if self._server_pid is not None:
            out["toxiproxy"] = self._server_pid
        return out

    # --- lifecycle ---------------------------------------------------------------------------------
    def _abandon_boot(self) -> None:
        self._keep_logs = True  # the error points at them
        super()._abandon_boot()

    def _launch(self, proc: ManagedProcess) -> ManagedProcess:
        self._procs[proc.name] = proc
        self._exit.callback(proc.stop)
        proc.start()
        return proc

    def _boot(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._exit.callback(self._remove_workdir)
        server = ToxiproxyServer(self.log_dir / "toxiproxy.log", port=self.config.toxiproxy_port or None)
        self._exit.enter_context(server)
        self._server_pid = server.pid
        self._toxiproxy = self._exit.enter_context(server.client())
        ports = {name: free_port() for name in ("redis", "api", "front", "origin", "p_redis", "p_api")}
        ports["p_edge"] = self.config.edge_port or free_port()
        self._launch(redis_process(ports["redis"], self.workdir / "redis", self.log_dir, self.config.aof))
        self._populate(ports)
        run = ServiceRun(
            self.service,
            f"redis://{LOOPBACK}:{ports['p_redis']}/0",
            self.workdir / "artifacts",
            self.secret,
            self.config.time_scale,
            self.config.service_env,
        )
        (self.workdir / "artifacts").mkdir(parents=True, exist_ok=True)
        with self._spec_fields("api"):
            self._launch(run.api(ports["api"], self.log_dir))
        with self._spec_fields("worker"):
            for i in range(self.config.workers):
                self._launch(run.worker(i, self.log_dir, self.config.worker_concurrency))
        origin_port = ports["origin"] if self.origin else ports["front"]
        self._nginx("nginx", self.origin or self.front, origin_port, f"{LOOPBACK}:{ports['p_api']}")
        if self.origin:
            self._nginx("edge-nginx", self.front, ports["front"], f"{LOOPBACK}:{ports['origin']}")
        self._endpoints = Endpoints(
            edge_url=f"http://{LOOPBACK}:{ports['p_edge']}",
            front_url=f"http://{LOOPBACK}:{ports['front']}",
            origin_url=f"http://{LOOPBACK}:{origin_port}",
            api_url=f"http://{LOOPBACK}:{ports['api']}",
            toxiproxy_url=server.url,
            redis_url=f"redis://{LOOPBACK}:{ports['redis']}/0",
            log_dir=str(self.log_dir),
        )
        health = self.service.health_path
        wait_healthy(f"{self._endpoints.edge_url}{health}", 10.0, "the chain (edge -> front -> API)")

    def _populate(self, ports: dict[str, int], tries: int = 5) -> None:
        """The three proxies on the free ports chosen; a port taken meanwhile (by another process's outgoing
        connection: free ports come from the ephemeral range) is chosen again, a few times at most."""
        for attempt in range(tries):
            try:
                self.toxiproxy.populate(
                    [
                        Proxy("redis", f"{LOOPBACK}:{ports['redis']}", f"{LOOPBACK}:{ports['p_redis']}", True),
                        Proxy("api", f"{LOOPBACK}:{ports['api']}", f"{LOOPBACK}:{ports['p_api']}", True),
                        Proxy("edge", f"{LOOPBACK}:{ports['front']}", f"{LOOPBACK}:{ports['p_edge']}", True),
                    ]
                )
                return
            except ToxiproxyError as exc:
                if "address already in use" not in str(exc) or attempt == tries - 1:
                    raise
                fixed = {"p_edge"} if self.config.edge_port else set()
                ports.update({name: free_port() for name in ("p_redis", "p_api", "p_edge") if name not in fixed})

    @contextlib.contextmanager
    def _spec_fields(self, role: str) -> Iterator[None]:
        """A role that does not start names the fields of its spec that decide it."""
        try:
            yield
        except StackStartError as exc:
            spec, ready = self.service, "[health].path and .code" if role == "api" else f"[local.{role}].ready_log"
            exc.add_note(
                f"service spec {spec.path}: check [local.{role}].command, .cwd and .env (how it starts) and {ready} "
                "(when it counts as ready); its log is named above"
            )
            raise

    def _remove_workdir(self) -> None:
        if self._own_workdir and not self._keep_logs:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _nginx(self, name: str, config: ProxyConfig, port: int, upstream: str) -> None:
        prefix = self.workdir / name
        (prefix / "logs").mkdir(parents=True, exist_ok=True)
        conf = prefix / "nginx.conf"
        conf.write_text(
            render(
                config,
                listen_port=port,
                upstream=upstream,
                artifact_dir=self.workdir / "artifacts",
                signing_secret=self.secret,
                time_scale=self.time_scale,
                prefix_dir=prefix,
                profile=self.profile,
            )
        )
        self._launch(
            ManagedProcess(
                name,
                nginx_argv(conf, prefix),
                self.log_dir / f"{name}.log",
                ready=http_ok(f"http://{LOOPBACK}:{port}{self.service.health_path}", self.service.health_code),
            )
        )
