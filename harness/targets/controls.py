"""Control of a component the harness did not start: a container by name (docker SDK) or shell commands, and
the ProcessControl of a remote target made of them. A component without control makes its faults refuse."""

from __future__ import annotations

import signal
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from harness.core.errors import FaultError


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
        # Output goes to a file, not a pipe: a command that starts a process in the background (`./start-worker &`)
        # leaves it holding its stdout, and a pipe would then stay open, and this call hang, as long as it runs.
        with tempfile.TemporaryFile() as output:
            try:
                done = subprocess.run(
                    command, shell=True, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                    timeout=self.timeout_s, start_new_session=True,
                )  # fmt: skip
            except subprocess.TimeoutExpired:
                raise FaultError(f"{what} command {command!r} still running after {self.timeout_s:g} s") from None
            output.seek(0)
            tail = output.read().decode(errors="replace").strip()[-300:]
        if done.returncode != 0:
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
        self.hint = (
            f"{url} is a service the harness did not start: process faults need a stack the harness started, or "
            "control of the component: RemoteTarget(redis_control=DockerControl('redis'), "
            "worker_control=ShellControl(kill_cmd=..., start_cmd=...))"
        )

    def _get(self, component: str) -> ComponentControl:
        if component not in self.controls:
            given = ", ".join(self.controls) or "none"
            raise FaultError(f"no control of {component!r} (given: {given}); {self.hint}")
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


def controls_of(
    redis: ComponentControl | None, workers: ComponentControl | Sequence[ComponentControl] | None
) -> dict[str, ComponentControl]:
    """Component names as process faults name them: "redis", "worker-0", "worker-1", ..."""
    listed = [] if workers is None else [workers] if not isinstance(workers, Sequence) else list(workers)
    controls = {f"worker-{i}": control for i, control in enumerate(listed)}
    return {"redis": redis, **controls} if redis is not None else controls
