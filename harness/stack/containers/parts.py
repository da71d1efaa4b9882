"""The containers of a stack: how each component is specified, and one container's life (the ManagedProcess
of the containers backend): start and wait until ready, signal, stop, restart, and its log kept on removal.

Containers reach each other by alias on the stack's own network (`redis`, `api`, `toxiproxy`, `nginx`,
`edge-nginx`); the host reaches them only through ports published on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import docker.errors
from testcontainers.core.config import testcontainers_config
from testcontainers.core.container import DockerContainer
from testcontainers.core.network import Network

from harness.core.errors import StackStartError
from harness.core.net import LOOPBACK
from harness.stack.containers.engine import COMPONENT_LABEL
from harness.stack.containers.wait import ContainerExited, StackWait, WaitAbandoned, published_port

ARTIFACTS = "/artifacts"
REDIS_PORT, NGINX_PORT, TOXIPROXY_PORT = 6379, 8080, 8474
PROXY_PORTS = {"edge": 8666, "api": 8667, "redis": 8668}
# The image's log directory: error.log and access.log there are the container's stderr and stdout.
NGINX_PREFIX = "/var/log/nginx"
NGINX_CONF = "/etc/nginx/adc-harness.conf"
STOP_GRACE_S = 5
# Ryuk's image cannot be pulled without a registry; the harness removes its containers by label instead.
testcontainers_config.ryuk_disabled = True


@dataclass(frozen=True)
class StackPlace:
    """Where a stack's containers go: its id, network, artifact volume and labels."""

    stack_id: str
    network: Network
    volume: str
    labels: Mapping[str, str]

    def spec(
        self, image: str, component: str, ports: Mapping[int, int] | None = None, **kwargs: Any
    ) -> DockerContainer:
        """A container of this stack: named, labelled, on the network under its component alias, with an init
        process (fast stops, reaped children) and `ports` ({container port: host port, 0 = any}) on 127.0.0.1;
        `kwargs` go to the engine's create call (e.g. entrypoint)."""
        spec = DockerContainer(image, name=f"adc-{self.stack_id}-{component}", network=self.network)
        spec.with_network_aliases(component)
        spec.with_kwargs(init=True, labels={**self.labels, COMPONENT_LABEL: component}, **kwargs)
        bindings = cast("dict[str, Any]", spec.ports)
        for port, host_port in (ports or {}).items():
            bindings[f"{port}/tcp"] = (LOOPBACK, host_port) if host_port else (LOOPBACK,)
        return spec


def tail(text: bytes, lines: int = 25) -> str:
    return "\n".join(text.decode(errors="replace").splitlines()[-lines:]) or "(empty log)"


class ManagedContainer:
    """One container: created on first start, then stopped, killed and started again like a process."""

    def __init__(self, name: str, spec: DockerContainer, log_path: Path, ready: StackWait | None, ports: Sequence[int]):
        self.name = name
        self.spec = spec
        self.log_path = log_path
        self.ready = ready
        self.ports = tuple(ports)
        self.host_ports: dict[int, int] = {}
        self._container: Any | None = None

    def __repr__(self) -> str:
        return f"ManagedContainer({self.name!r}, {self.spec.image!r})"

    def _state(self) -> dict[str, Any]:
        if self._container is None:
            return {}
        try:
            self._container.reload()
        except docker.errors.NotFound:
            return {}
        return cast("dict[str, Any]", self._container.attrs["State"])

    @property
    def status(self) -> str:
        """The engine's status (running, paused, exited...), or "absent" before the start or after removal."""
        return str(self._state().get("Status", "absent"))

    @property
    def alive(self) -> bool:
        return self.status in ("running", "paused", "restarting")

    @property
    def pid(self) -> int | None:
        """The host pid of the container's init process while it runs."""
        return int(self._state().get("Pid") or 0) or None

    def start(self, timeout: float = 30.0) -> None:
        """Create and start it (the first time) or start it again; wait until ready; re-read its ports."""
        if self._container is None:
            self.spec.start()
            self._container = self.spec.get_wrapped_container()
        else:
            self._container.start()
        self.wait_ready(timeout)
        self._container.reload()
        self.host_ports = {p: published_port(self._container, p) or 0 for p in self.ports}

    def wait_ready(self, timeout: float) -> None:
        if self.ready is None:
            return
        try:
            self.ready.with_startup_timeout(int(timeout) or 1).wait_until_ready(self.spec)
        except ContainerExited as exc:
            raise self._error(f"{exc} before it was ready") from None
        except TimeoutError:
            raise self._error(f"not ready after {timeout:.1f} s ({self.ready!r})") from None

    def abandon(self) -> None:
        """Call off the wait of a start in progress or to come (from another thread); only a failed boot does
        this, and the stack is then torn down, so the flag is never cleared."""
        if self.ready is not None:
            self.ready.abandoned.set()

    def logs(self) -> bytes:
        if self._container is None:
            return b""
        try:
            return bytes(self._container.logs(stdout=True, stderr=True))
        except docker.errors.NotFound:
            return b""

    def _error(self, what: str) -> StackStartError:
        exc = StackStartError(f"{self.name} {what} (image {self.spec.image}; log: {self.log_path})")
        exc.add_note(f"last lines of {self.name}'s container log:\n{tail(self.logs())}")
        return exc

    def signal(self, sig: int) -> None:
        """SIGSTOP/SIGCONT freeze and thaw the container (its init would not pass SIGSTOP on); others are sent
        to its init, which forwards them to the component (SIGKILL kills the init, and so the whole container)."""
        status = self.status
        if sig == signal.SIGSTOP and status == "running":
            self._wrapped.pause()
        elif sig == signal.SIGCONT and status == "paused":
            self._wrapped.unpause()
        elif sig not in (signal.SIGSTOP, signal.SIGCONT) and status in ("running", "paused"):
            with contextlib.suppress(docker.errors.APIError):  # it exited meanwhile
                self._wrapped.kill(signal=int(sig))

    @property
    def _wrapped(self) -> Any:
        if self._container is None:
            raise StackStartError(f"{self.name} was never started")
        return self._container

    def stop(self, timeout: float = STOP_GRACE_S) -> None:
        """Its stop signal, then SIGKILL after `timeout`; a paused container is thawed first."""
        if self.status == "paused":
            self._wrapped.unpause()
        if self.alive:
            self._wrapped.stop(timeout=int(timeout))

    def kill(self) -> None:
        if self.alive:
            with contextlib.suppress(docker.errors.APIError):
                self._wrapped.kill()
            self._wrapped.wait(timeout=10)

    def restart(self, *, graceful: bool = True, timeout: float = 30.0) -> None:
        if graceful:
            self.stop()
        else:
            self.kill()
        self.start(timeout)

    def remove(self) -> None:
        """Copy its log to `log_path`, then remove it with its anonymous volumes."""
        if self._container is None:
            return
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path.write_bytes(self.logs())
        with contextlib.suppress(docker.errors.NotFound):
            self._container.remove(force=True, v=True)
        self.spec.get_docker_client().client.close()


def start_all(parts: Sequence[ManagedContainer]) -> None:
    """Start containers side by side; at the first failure the other waits are called off, and the first real
    failure (in the given order) is raised once all have ended."""
    with ThreadPoolExecutor(len(parts), thread_name_prefix="stack-start") as pool:
        futures = [pool.submit(part.start) for part in parts]
        wait(futures, return_when=FIRST_EXCEPTION)
        if any(future.done() and future.exception() for future in futures):
            for part in parts:
                part.abandon()
        errors = [future.exception() for future in futures]
    real = [error for error in errors if error is not None and not isinstance(error, WaitAbandoned)]
    if real:
        raise real[0]


def remove_all(parts: Sequence[ManagedContainer]) -> None:
    """Remove containers side by side, each whatever happens to the others (a label sweep follows)."""
    if parts:
        with ThreadPoolExecutor(len(parts), thread_name_prefix="stack-remove") as pool:
            for future in [pool.submit(part.remove) for part in parts]:
                with contextlib.suppress(Exception):
                    future.result()
