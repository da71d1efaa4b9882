"""Chaos and load against a service the harness did not start, by URL.

    with RemoteTarget("http://127.0.0.1:8000", load_profile("my-service.toml"), time_scale=0.05,
                      redis_control=DockerControl("my-redis"),
                      worker_control=ShellControl(kill_cmd="pkill -9 -f my-worker", start_cmd="./start-worker &",
                                                  ready_cmd="pgrep -f my-worker")) as t:
        with Latency("edge", ms=2000).on(t): ...          # the same Fault objects as on a Stack
        with ServiceClient(t.endpoints.edge_url, profile=t.profile) as client: ...

By default the harness puts its own Toxiproxy `edge` proxy between itself and the target, so client-side faults
always work. `toxiproxy_url=` uses the user's own Toxiproxy instead (its proxies named as faults name them:
"edge", "api", "redis"); `edge_proxy=False` without one means no network faults at all (they refuse, saying
why). Redis and worker faults work when the user hands over control of those components (see `controls`); every
restart through a control is verified (the component answers again within a bound) or the fault raises.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Self
from urllib.parse import urlsplit

from harness.contract import V1, ContractProfile
from harness.core.closing import Closing
from harness.core.errors import ConfigError, FaultError
from harness.core.net import LOOPBACK
from harness.faults.base import FaultWindow
from harness.faults.toxiproxy import ToxiproxyClient
from harness.faults.toxiproxy_server import ToxiproxyServer
from harness.stack.config import Endpoints
from harness.targets.controls import ComponentControl, DockerControl, RemoteProcesses, ShellControl, controls_of

__all__ = ["ComponentControl", "DockerControl", "RemoteTarget", "ShellControl"]


class RemoteTarget(Closing):
    """A Target for a service at `url`: `.toxiproxy`, `.processes`, `.fault_listener`, `.time_scale`,
    `.endpoints.edge_url` (where clients go), `.profile`."""

    def __init__(
        self,
        url: str,
        profile: ContractProfile = V1,
        *,
        toxiproxy_url: str | None = None,
        edge_proxy: bool = True,
        redis_control: ComponentControl | None = None,
        worker_control: ComponentControl | Sequence[ComponentControl] | None = None,
        time_scale: float = 1.0,
        workdir: Path | None = None,
    ) -> None:
        parts = urlsplit(url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"target {url!r} is not a URL; give http://host:port of the service")
        if parts.scheme != "http" and edge_proxy and toxiproxy_url is None:
            raise ConfigError(
                f"target {url!r}: the edge proxy carries plain HTTP; give http://host:port (TLS to the target would "
                "not match the edge's address; terminate it in front of the harness or use the origin's plain URL), "
                "or pass edge_proxy=False"
            )
        self.url, self.profile, self._time_scale = url.rstrip("/"), profile, time_scale
        self._upstream = f"{parts.hostname}:{parts.port or 80}"
        self._prefix = parts.path
        self._toxiproxy_url, self._edge_proxy = toxiproxy_url, edge_proxy
        self._workdir, self._own_workdir = workdir, workdir is None
        self.processes = RemoteProcesses(controls_of(redis_control, worker_control), self.url)
        self.fault_listener: Callable[[FaultWindow], object] | None = None
        self._server: ToxiproxyServer | None = None
        self._client: ToxiproxyClient | None = None
        self._endpoints: Endpoints | None = None

    def __repr__(self) -> str:
        return f"RemoteTarget({self.url!r}, profile={self.profile.name!r})"

    def start(self) -> Self:
        """Reach the target: through the user's Toxiproxy, the harness's own `edge` proxy, or directly. Whatever
        started is stopped if a step fails."""
        workdir = self._workdir or Path(tempfile.mkdtemp(prefix="harness-remote-"))
        self._workdir, edge_url, toxiproxy_url = workdir, self.url, self._toxiproxy_url or ""
        try:
            if self._toxiproxy_url is not None:
                self._client = ToxiproxyClient(self._toxiproxy_url)
            elif self._edge_proxy:
                self._server = ToxiproxyServer(workdir / "toxiproxy.log").start()
                self._client = self._server.client()
                edge = self._client.create_proxy("edge", upstream=self._upstream)
                edge_url, toxiproxy_url = f"http://{LOOPBACK}:{edge.port}{self._prefix}", self._server.url
                print(f"harness: edge proxy {edge_url} -> {self.url} (toxiproxy {toxiproxy_url})", flush=True)
        except BaseException:
            self.close()
            raise
        self._endpoints = Endpoints(edge_url, self.url, self.url, self.url, toxiproxy_url, "", str(workdir))
        return self

    def __enter__(self) -> Self:
        return self.start()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        if self._server is not None:
            self._server.stop()
        self._client = self._server = self._endpoints = None
        if self._own_workdir and self._workdir is not None:
            with contextlib.suppress(OSError):
                shutil.rmtree(self._workdir)
            self._workdir = None

    @property
    def has_toxiproxy(self) -> bool:
        return self._toxiproxy_url is not None or self._edge_proxy

    @property
    def toxiproxy(self) -> ToxiproxyClient:
        if not self.has_toxiproxy:
            raise FaultError(
                f"network faults need a Toxiproxy in front of {self.url}; pass RemoteTarget(toxiproxy_url=URL) "
                "(pytest: --harness-toxiproxy URL), its proxies named as your faults name them ('edge', 'api', "
                "'redis'), or let the harness put its own edge proxy in front (edge_proxy=True)"
            )
        if self._client is None:
            raise FaultError(f"{self!r} is not started; use `with RemoteTarget(...) as target:`")
        return self._client

    @property
    def endpoints(self) -> Endpoints:
        if self._endpoints is None:
            raise FaultError(f"{self!r} is not started; use `with RemoteTarget(...) as target:`")
        return self._endpoints

    @property
    def time_scale(self) -> float:
        return self._time_scale
