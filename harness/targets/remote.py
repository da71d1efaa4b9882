"""Chaos and load against a service the harness did not start, by URL.

    with RemoteTarget("http://127.0.0.1:8000", load_profile("my-service.toml"), time_scale=0.05,
                      redis_control=DockerControl("my-redis"),
                      worker_control=ShellControl(kill_cmd="pkill -9 -f my-worker", start_cmd="./start-worker &")) as t:
        with Latency("edge", ms=2000).on(t): ...          # the same Fault objects as on a Stack
        with ServiceClient(t.endpoints.edge_url, profile=t.profile) as client: ...

The harness puts its own Toxiproxy `edge` proxy between itself and the target (client-side faults always work);
Redis and worker faults work when the user hands over control of those components: a container by name (docker
SDK: kill, pause, restart) or shell commands. A component without control makes its faults refuse, saying why.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, Self
from urllib.parse import urlsplit

from harness.contract import V1, ContractProfile
from harness.core.closing import Closing
from harness.core.errors import ConfigError, FaultError
from harness.faults.base import FaultWindow
from harness.faults.toxiproxy import ToxiproxyClient
from harness.faults.toxiproxy_server import ToxiproxyServer
from harness.stack.config import Endpoints


class ComponentControl(Protocol):
    """How the harness acts on one component of a target (its Redis, one worker)."""

    def signal(self, sig: int) -> None: ...

    def restart(self, graceful: bool) -> None: ...

    def stop(self) -> None: ...

    def start(self) -> None: ...


@dataclass(frozen=True)
class ShellControl:
    """Shell commands for one component; what a fault needs and is not given makes it refuse. `start_cmd` must
    be harmless on a running component (healing calls it on every one); without it `restart_cmd` starts."""

    restart_cmd: str | None = None
    kill_cmd: str | None = None
    stop_cmd: str | None = None
    start_cmd: str | None = None
    pause_cmd: str | None = None
    resume_cmd: str | None = None
    timeout_s: float = 60.0

    def _run(self, what: str, *commands: str | None) -> None:
        command = next((c for c in commands if c), None)
        if command is None:
            raise FaultError(f"ShellControl has no command to {what}; give it one, e.g. ShellControl({what}_cmd=...)")
        try:
            done = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            raise FaultError(f"{what} command {command!r} still running after {self.timeout_s:g} s") from None
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip()[-300:]
            raise FaultError(f"{what} command {command!r} exited {done.returncode}: {tail or '(no output)'}")

    def signal(self, sig: int) -> None:
        if sig == signal.SIGCONT and not self.resume_cmd:
            return  # nothing was paused that we could have paused
        names = {signal.SIGKILL: "kill", signal.SIGSTOP: "pause", signal.SIGCONT: "resume", signal.SIGTERM: "stop"}
        if sig not in names:
            raise FaultError(f"ShellControl cannot send signal {signal.Signals(sig).name}; it runs commands only")
        what = names[signal.Signals(sig)]
        self._run(what, getattr(self, f"{what}_cmd"))

    def restart(self, graceful: bool) -> None:
        if graceful and self.restart_cmd:
            self._run("restart", self.restart_cmd)
            return
        self._run("stop" if graceful else "kill", self.stop_cmd if graceful else self.kill_cmd)
        self._run("start", self.start_cmd, self.restart_cmd)

    def stop(self) -> None:
        self._run("stop", self.stop_cmd, self.kill_cmd)

    def start(self) -> None:
        self._run("start", self.start_cmd, self.restart_cmd)


class DockerControl:
    """A container by name through the docker SDK (the `containers` extra): pause for SIGSTOP, kill, restart."""

    def __init__(self, container: str, client: Any = None, stop_timeout_s: int = 10) -> None:
        self.name, self._client, self.stop_timeout_s = container, client, stop_timeout_s

    def __repr__(self) -> str:
        return f"DockerControl({self.name!r})"

    def _container(self) -> Any:
        try:
            if self._client is None:
                import docker

                self._client = docker.from_env()
            container = self._client.containers.get(self.name)
            container.reload()
            return container
        except Exception as exc:  # docker's errors, or no engine at all
            raise FaultError(
                f"container {self.name!r}: {exc}; is the engine up and the name right (docker ps)?"
            ) from exc

    def _do(self, what: str, action: Callable[[Any], object]) -> None:
        container = self._container()
        try:
            action(container)
        except Exception as exc:
            raise FaultError(f"{what} container {self.name!r} failed: {exc}") from exc

    def signal(self, sig: int) -> None:
        if sig == signal.SIGSTOP:
            self._do("pause", lambda c: c.pause())
        elif sig == signal.SIGCONT:
            self._do("unpause", lambda c: c.unpause() if c.status == "paused" else None)
        else:
            self._do(f"signal {signal.Signals(sig).name} to", lambda c: c.kill(signal=signal.Signals(sig).name))

    def restart(self, graceful: bool) -> None:
        if graceful:
            self._do("restart", lambda c: c.restart(timeout=self.stop_timeout_s))
        else:
            self._do("kill", lambda c: c.kill())
            self._do("start", lambda c: c.start())

    def stop(self) -> None:
        self._do("stop", lambda c: c.stop(timeout=self.stop_timeout_s))

    def start(self) -> None:
        """Bring it back whatever it is now: paused, exited (killed) or already running."""
        actions = {"paused": lambda c: c.unpause(), "running": lambda c: None}
        self._do("start", actions.get(self._container().status, lambda c: c.start()))


class RemoteProcesses:
    """The ProcessControl of a remote target: components are the ones the user gave control of."""

    def __init__(self, controls: Mapping[str, ComponentControl], url: str) -> None:
        self.controls, self.url = dict(controls), url

    def _get(self, component: str) -> ComponentControl:
        if component not in self.controls:
            given = ", ".join(self.controls) or "none"
            raise FaultError(
                f"no control of {component!r} of {self.url} (given: {given}); pass RemoteTarget(redis_control=..., "
                "worker_control=...) as DockerControl('container') or ShellControl(kill_cmd=..., start_cmd=...)"
            )
        return self.controls[component]

    def signal(self, component: str, sig: int) -> None:
        self._get(component).signal(sig)

    def restart(self, component: str, *, graceful: bool = True) -> None:
        self._get(component).restart(graceful)

    def stop(self, component: str) -> None:
        self._get(component).stop()

    def start(self, component: str) -> None:
        self._get(component).start()

    def components(self) -> list[str]:
        return list(self.controls)


def _controls(
    redis: ComponentControl | None, workers: ComponentControl | Sequence[ComponentControl] | None
) -> dict[str, ComponentControl]:
    listed = [] if workers is None else [workers] if not isinstance(workers, Sequence) else list(workers)
    controls = {f"worker-{i}": control for i, control in enumerate(listed)}
    return {"redis": redis, **controls} if redis is not None else controls


class RemoteTarget(Closing):
    """A FaultTarget (and chaos stack) for a service at `url`: `.toxiproxy` (its own server, proxy `edge`),
    `.processes`, `.fault_listener`, `.time_scale`, `.endpoints.edge_url` (where clients go), `.profile`."""

    def __init__(
        self,
        url: str,
        profile: ContractProfile = V1,
        *,
        redis_control: ComponentControl | None = None,
        worker_control: ComponentControl | Sequence[ComponentControl] | None = None,
        time_scale: float = 1.0,
        workdir: Path | None = None,
    ) -> None:
        parts = urlsplit(url.rstrip("/"))
        if parts.scheme != "http" or not parts.hostname:
            raise ConfigError(
                f"target {url!r}: the edge proxy carries plain HTTP; give http://host:port (TLS to the target would "
                "not match the edge's address; terminate it in front of the harness or use the origin's plain URL)"
            )
        self.url, self.profile, self._time_scale = url.rstrip("/"), profile, time_scale
        self._upstream = f"{parts.hostname}:{parts.port or 80}"
        self._prefix = parts.path
        self._workdir, self._own_workdir = workdir, workdir is None
        self.processes = RemoteProcesses(_controls(redis_control, worker_control), self.url)
        self.fault_listener: Callable[[FaultWindow], object] | None = None
        self._server: ToxiproxyServer | None = None
        self._client: ToxiproxyClient | None = None
        self._endpoints: Endpoints | None = None

    def __repr__(self) -> str:
        return f"RemoteTarget({self.url!r}, profile={self.profile.name!r})"

    def start(self) -> Self:
        """Start Toxiproxy and the `edge` proxy to the target; whatever started is stopped if a step fails."""
        workdir = self._workdir or Path(tempfile.mkdtemp(prefix="harness-remote-"))
        self._workdir = workdir
        try:
            self._server = ToxiproxyServer(workdir / "toxiproxy.log").start()
            self._client = self._server.client()
            edge = self._client.create_proxy("edge", upstream=self._upstream)
        except BaseException:
            self.close()
            raise
        edge_url = f"http://127.0.0.1:{edge.port}{self._prefix}"
        self._endpoints = Endpoints(edge_url, self.url, self.url, self.url, self._server.url, "", str(workdir))
        print(f"harness: edge proxy {edge_url} -> {self.url} (toxiproxy {self._server.url})", flush=True)
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
    def toxiproxy(self) -> ToxiproxyClient:
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
