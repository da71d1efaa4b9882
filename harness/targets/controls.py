"""Control of a component the harness did not start: a container by name (docker SDK) or shell commands, and
the ProcessControl of a remote target made of them. A component without control makes its faults refuse."""

from __future__ import annotations

import dataclasses
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from harness.core.errors import ConfigError, FaultError
from harness.core.tomlfile import read_toml

READY_POLL_S = 0.2


class ComponentControl(Protocol):
    """How the harness acts on one component of a target (its Redis, one worker)."""

    def signal(self, sig: int) -> None: ...

    def restart(self, graceful: bool) -> None: ...

    def stop(self) -> None: ...

    def start(self) -> None: ...


def wait_back(what: str, ready: Callable[[], str | None], timeout_s: float) -> None:
    """Poll `ready` (None when the component answers, else what it saw) until it answers; a FaultError naming
    what did not come back, and the last thing seen, after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while (seen := ready()) is not None:
        if time.monotonic() >= deadline:
            raise FaultError(f"{what} did not come back within {timeout_s:g} s: {seen}")
        time.sleep(READY_POLL_S)


@dataclass(frozen=True)
class ShellControl:
    """Shell commands for one component; what a fault needs and is not given makes it refuse. `start_cmd` must
    be harmless on a running component (healing calls it on every one); without it `restart_cmd` starts.

    Every start and restart is verified: `ready_cmd` (required with a start or restart command) must exit 0
    within `ready_timeout_s`, or the fault raises saying the component did not come back. For example:

        ShellControl(kill_cmd="pkill -9 -f my-worker", start_cmd="./start-worker &", ready_cmd="pgrep -f my-worker")
    """

    restart_cmd: str | None = None
    kill_cmd: str | None = None
    stop_cmd: str | None = None
    start_cmd: str | None = None
    pause_cmd: str | None = None
    resume_cmd: str | None = None
    ready_cmd: str | None = None
    timeout_s: float = 60.0
    ready_timeout_s: float = 30.0

    def __post_init__(self) -> None:
        if (self.start_cmd or self.restart_cmd) and not self.ready_cmd:
            given = "start_cmd" if self.start_cmd else "restart_cmd"
            raise ConfigError(
                f"ShellControl({given}={self.start_cmd or self.restart_cmd!r}) needs ready_cmd=..., a command that "
                "exits 0 once the component is back (e.g. 'pgrep -f my-worker', 'redis-cli -p 6379 ping'), so "
                "that a restart which started nothing fails instead of passing for healed"
            )

    def _verify(self, what: str) -> None:
        command = self.ready_cmd
        assert command is not None  # __post_init__: a start or restart command comes with its ready command

        def ready() -> str | None:
            code, tail = self._exec(command, min(self.timeout_s, 10.0))
            return None if code == 0 else f"ready command {command!r} exited {code}: {tail or '(no output)'}"

        wait_back(f"the component ({what} done)", ready, self.ready_timeout_s)

    def _exec(self, command: str, timeout_s: float) -> tuple[int, str]:
        # Output goes to a file, not a pipe: a command that starts a process in the background (`./start-worker &`)
        # leaves it holding its stdout, and a pipe would then stay open, and this call hang, as long as it runs.
        with tempfile.TemporaryFile() as output:
            try:
                done = subprocess.run(
                    command, shell=True, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                    timeout=timeout_s, start_new_session=True,
                )  # fmt: skip
            except subprocess.TimeoutExpired:
                return -1, f"still running after {timeout_s:g} s"
            output.seek(0)
            return done.returncode, output.read().decode(errors="replace").strip()[-300:]

    def _run(self, what: str, *commands: str | None) -> None:
        command = next((c for c in commands if c), None)
        if command is None:
            raise FaultError(f"ShellControl has no command to {what}; give it one, e.g. ShellControl({what}_cmd=...)")
        code, tail = self._exec(command, self.timeout_s)
        if code == -1:
            raise FaultError(f"{what} command {command!r} {tail}")
        if code != 0:
            raise FaultError(f"{what} command {command!r} exited {code}: {tail or '(no output)'}")
        if what in ("start", "restart"):
            self._verify(what)

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

    def __init__(
        self,
        container: str,
        client: Any = None,
        stop_timeout_s: int = 10,
        ready_cmd: str | Sequence[str] | None = None,
        ready_timeout_s: float = 30.0,
    ) -> None:
        """`ready_cmd` runs inside the container after every start and restart (e.g. "redis-cli ping") and must
        exit 0 within `ready_timeout_s`; without one, the container must be running (and healthy, when its image
        has a healthcheck)."""
        self.name, self._client, self.stop_timeout_s = container, client, stop_timeout_s
        self.ready_cmd, self.ready_timeout_s = ready_cmd, ready_timeout_s

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
        self._verify("restart" if graceful else "kill and start")

    def stop(self) -> None:
        self._do("stop", lambda c: c.stop(timeout=self.stop_timeout_s))

    def start(self) -> None:
        """Bring it back whatever it is now: paused, exited (killed) or already running."""
        actions = {"paused": lambda c: c.unpause(), "running": lambda c: None}
        self._do("start", actions.get(self._container().status, lambda c: c.start()))
        self._verify("start")

    def _verify(self, what: str) -> None:
        def ready() -> str | None:
            container = self._container()
            state = (getattr(container, "attrs", None) or {}).get("State") or {}
            if container.status != "running":
                return f"status {container.status} (exit code {state.get('ExitCode', '?')})"
            health = (state.get("Health") or {}).get("Status")
            if health not in (None, "healthy"):
                return f"health {health}"
            if self.ready_cmd is not None:
                code, output = container.exec_run(self.ready_cmd)
                if code != 0:
                    text = bytes(output or b"").decode(errors="replace").strip()[-200:]
                    return f"ready command {self.ready_cmd!r} exited {code}: {text or '(no output)'}"
            return None

        wait_back(f"container {self.name!r} ({what} done)", ready, self.ready_timeout_s)


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


CONTROL_FORMS = (
    "docker:NAME (a container by name), or a TOML file of shell commands: kill_cmd, start_cmd, ready_cmd, "
    "stop_cmd, restart_cmd, pause_cmd, resume_cmd, timeout_s, ready_timeout_s (a container instead: "
    'container = "NAME", optional ready_cmd run inside it)'
)


def parse_control(text: str, what: str = "control") -> ComponentControl:
    """A control as a command line or an ini file gives it: `docker:NAME`, or a TOML file (see CONTROL_FORMS)."""
    if text.startswith("docker:") and text[7:]:
        return DockerControl(text[7:])
    path = Path(text).expanduser()
    if not path.is_file():
        raise ConfigError(f"{what} {text!r} is neither docker:NAME nor a file that exists; give {CONTROL_FORMS}")
    data = read_toml(path, f"{what} {path}")
    if "container" in data:
        extra = sorted(set(data) - {"container", "ready_cmd", "ready_timeout_s", "stop_timeout_s"})
        if extra:
            raise ConfigError(f"{what} {path}: {', '.join(extra)} do not go with container = ...; give {CONTROL_FORMS}")
        return DockerControl(str(data["container"]), **{k: v for k, v in data.items() if k != "container"})
    known = {f.name for f in dataclasses.fields(ShellControl)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(
            f"{what} {path}: unknown key(s) {', '.join(unknown)}; the keys are {', '.join(sorted(known))}"
        )
    bad = [k for k, v in data.items() if not isinstance(v, str if k.endswith("_cmd") else int | float)]
    if bad:
        raise ConfigError(f"{what} {path}: {', '.join(bad)} must be a string (commands) or a number (timeouts)")
    return ShellControl(**data)
