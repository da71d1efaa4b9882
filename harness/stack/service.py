"""A service spec: the one description of how to run an implementation in the SUT slot, read by every backend.

    spec = load_service("reference")          # shipped (harness/stack/services/reference.toml, the template)
    spec = load_service("./my-service.toml")  # your own

It says how each role (the API, the workers) is started and when it is healthy, how the harness's values reach
it (placeholders such as `{port}`, `{redis_url}`, `{artifact_dir}`, `{time_scale}` in commands and env), how it
stops, which contract profile it speaks, and whether its durations follow the time scale. Every field is checked
when the file is read; a mistake names the field and the fix, before anything is started.
"""

from __future__ import annotations

import signal
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from harness.contract import ContractProfile
from harness.contract.profiles import load_profile
from harness.core.errors import ConfigError
from harness.core.tomlfile import read_toml

# What the harness assigns, by placeholder name; a spec may use any of these and no other.
PLACEHOLDERS = {
    "python": "this interpreter (sys.executable)",
    "host": "the address to listen on (127.0.0.1)",
    "port": "the API's port, chosen free",
    "redis_url": "redis://host:port/0 of the stack's Redis (through Toxiproxy)",
    "redis_host": "that Redis's host",
    "redis_port": "that Redis's port",
    "artifact_dir": "the directory the front serves artifacts from",
    "signing_secret": "the secret the front's secure_link checks download URLs with",
    "time_scale": "the run's time scale (1 when the service does not follow it)",
    "index": "a worker's index (0, 1, ...)",
    "concurrency": "jobs one worker runs at once",
    "spec_dir": "the directory of the spec file",
}
# Only in [containers].image and its build args: the harness's own Python image (the reference service's: Python
# with FastAPI, uvicorn and redis-py on PATH), the base a user's Dockerfile can build FROM offline.
IMAGE_PLACEHOLDERS = {"service_image": "the harness's service image (Python, FastAPI, uvicorn, redis-py)"}
ROLES = ("api", "worker")
Backend = Literal["local", "containers"]


@dataclass(frozen=True)
class Role:
    """How one role is started locally: its argv (placeholders filled per process), cwd, extra env."""

    command: tuple[str, ...]
    cwd: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    ready_log: str | None = None  # a line in its output that says it is ready (a worker has no port)


@dataclass(frozen=True)
class ContainerSpec:
    """How the containers backend runs it: an image already in the engine, or one built (offline) from a
    Dockerfile; the argv per role (it replaces the image's entrypoint); the API's port inside the container."""

    roles: Mapping[str, Role]
    image: str | None = None  # may be "{service_image}"
    context: Path | None = None  # build from this directory...
    dockerfile: str = "Dockerfile"  # ...with this Dockerfile (relative to the context)
    build_args: Mapping[str, str] = field(default_factory=dict)
    port: int = 8000

    def image_name(self, service_image: str) -> str | None:
        """The image to run when it is not built: `image` with {service_image} filled."""
        return None if self.image is None else self.image.format(service_image=service_image)


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    path: Path
    profile: str
    time_scale_env: str | None  # None: the service's durations do not follow the harness's time scale
    roles: Mapping[str, Role]
    env: Mapping[str, str]
    health_path: str = "/health"
    health_code: int = 200
    start_timeout_s: float = 15.0  # how long a role may take to be ready (healthy, or its ready_log printed)
    stop_signal: int = signal.SIGTERM
    stop_grace_s: float = 5.0
    jobs: Mapping[str, str] = field(default_factory=dict)
    containers: ContainerSpec | None = None
    heartbeat_env: str | None = None  # the env var that sets its SSE heartbeat interval (modelled s), if any

    def contract(self) -> ContractProfile:
        """The contract profile it speaks (a shipped name, or a file: relative paths are the spec's)."""
        return load_profile(self.profile)

    @property
    def scales(self) -> bool:
        return self.time_scale_env is not None

    def role(self, name: str, backend: Backend = "local") -> Role:
        if backend == "local":
            return self.roles[name]
        return self.container_spec().roles[name]

    def container_spec(self) -> ContainerSpec:
        if self.containers is None:
            raise ConfigError(
                f"service {self.name!r} ({self.path}) has no [containers] table, so the containers backend cannot "
                f"run it; add one (an image or a Dockerfile, and a command per role: see {_template()}) or run it "
                "as local processes (--backend local)"
            )
        return self.containers

    def fill(self, text: str, values: Mapping[str, object]) -> str:
        return text.format_map({"spec_dir": str(self.path.parent), **values})

    def argv(self, role: str, values: Mapping[str, object], backend: Backend = "local") -> list[str]:
        return [self.fill(part, values) for part in self.role(role, backend).command]

    def environment(self, role: str, values: Mapping[str, object], backend: Backend = "local") -> dict[str, str]:
        merged = {**self.env, **self.role(role, backend).env}
        out = {key: self.fill(value, values) for key, value in merged.items()}
        if self.time_scale_env:
            out[self.time_scale_env] = str(values["time_scale"])
        return out

    def cwd(self, role: str) -> str | None:
        cwd = self.roles[role].cwd
        return None if cwd is None else str((self.path.parent / self.fill(cwd, {})).resolve())


def available_services() -> list[str]:
    folder = resources.files(__package__).joinpath("services")
    return sorted(f.name.removesuffix(".toml") for f in folder.iterdir() if f.name.endswith(".toml"))


def load_service(name_or_path: str | Path | None = None) -> ServiceSpec:
    """A shipped spec by name, or a spec file by path (anything with a `/` or ending in .toml)."""
    spec = str(name_or_path or "reference")
    if isinstance(name_or_path, Path) or "/" in spec or spec.endswith(".toml"):
        path = Path(spec).expanduser()
        if not path.is_file():
            raise ConfigError(f"service spec {spec!r} does not exist; give a TOML file like {_template()}")
    else:
        path = Path(str(resources.files(__package__).joinpath("services", f"{spec}.toml")))
        if not path.is_file():
            raise ConfigError(f"service {spec!r} is not shipped ({', '.join(available_services())}); give a path")
    return parse_service(read_toml(path, str(path)), path.resolve())


def _template() -> str:
    return str(resources.files(__package__).joinpath("services", "reference.toml"))


def parse_service(data: Mapping[str, Any], path: Path) -> ServiceSpec:
    where = str(path)
    service = _table(data, "service", where)
    local = _table(data, "local", where)
    roles = {name: _role(_table(local, name, f"{where} [local]"), f"{where} [local.{name}]") for name in ROLES}
    health, stop = _table(data, "health", where, {}), _table(data, "stop", where, {})
    scale_env = _text(service.get("time_scale_env", "HARNESS_TIME_SCALE"), f"{where} [service].time_scale_env")
    spec = ServiceSpec(
        name=_text(service.get("name", path.stem), f"{where} [service].name"),
        path=path,
        profile=_profile(service.get("profile", "reference"), path, f"{where} [service].profile"),
        time_scale_env=scale_env or None,
        roles=roles,
        env=_env(data.get("env", {}), f"{where} [env]"),
        health_path=_text(health.get("path", "/health"), f"{where} [health].path"),
        health_code=_int(health.get("code", 200), f"{where} [health].code", 100, 599),
        start_timeout_s=float(_int(health.get("timeout_s", 15), f"{where} [health].timeout_s", 1, 600)),
        stop_signal=_signal(stop.get("signal", "SIGTERM"), f"{where} [stop].signal"),
        stop_grace_s=float(_int(stop.get("grace_s", 5), f"{where} [stop].grace_s", 0, 600)),
        jobs=_env(data.get("jobs", {}), f"{where} [jobs]"),
        containers=None if "containers" not in data else _containers(_table(data, "containers", where), path),
        heartbeat_env=_text(service.get("heartbeat_env", ""), f"{where} [service].heartbeat_env") or None,
    )
    if not spec.health_path.startswith("/"):
        raise ConfigError(f"{where} [health].path={spec.health_path!r}: give a path like /health")
    return spec


def _table(
    data: Mapping[str, Any], key: str, where: str, default: Mapping[str, Any] | None = None
) -> Mapping[str, Any]:
    value = data.get(key, default)
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: [{key}] is missing or not a table; see the template {_template()}")
    return value


def _role(table: Mapping[str, Any], where: str) -> Role:
    command = table.get("command")
    if isinstance(command, str) or not isinstance(command, Sequence) or not command:
        raise ConfigError(f'{where}.command must be a list of strings (an argv), e.g. ["{{python}}", "-m", ...]')
    parts = tuple(_text(part, f"{where}.command[{i}]") for i, part in enumerate(command))
    for i, part in enumerate(parts):
        _check_placeholders(part, f"{where}.command[{i}]")
    cwd = table.get("cwd")
    ready = table.get("ready_log")
    return Role(
        parts,
        None if cwd is None else _text(cwd, f"{where}.cwd"),
        _env(table.get("env", {}), f"{where}.env"),
        None if ready is None else _text(ready, f"{where}.ready_log"),
    )


def _profile(value: object, path: Path, where: str) -> str:
    """A shipped profile's name as it is; a profile file resolved against the spec's directory, and checked."""
    text = _text(value, where)
    if "/" not in text and not text.endswith(".toml"):
        return text
    resolved = (path.parent / Path(text).expanduser()).resolve()
    if not resolved.is_file():
        raise ConfigError(f"{where}={text!r}: {resolved} does not exist; give a shipped profile's name or a file")
    return str(resolved)


def _containers(table: Mapping[str, Any], path: Path) -> ContainerSpec:
    where = f"{path} [containers]"
    image, build = table.get("image"), table.get("build")
    if (image is None) == (build is None):
        raise ConfigError(
            f'{where}: give either image = "name:tag" (already in the engine, or "{{service_image}}") or '
            'build = {{ context = ".", dockerfile = "Dockerfile" }} (built offline when a stack boots)'
        )
    context, dockerfile, args = None, "Dockerfile", {}
    if image is not None:
        _check_placeholders(_text(image, f"{where}.image"), f"{where}.image", IMAGE_PLACEHOLDERS)
    else:
        build = _table(table, "build", where)
        context = (path.parent / _text(build.get("context", "."), f"{where}.build.context")).resolve()
        dockerfile = _text(build.get("dockerfile", "Dockerfile"), f"{where}.build.dockerfile")
        if not (context / dockerfile).is_file():
            raise ConfigError(f"{where}.build: {context / dockerfile} does not exist; point context/dockerfile at it")
        args = _env(build.get("args", {}), f"{where}.build.args", IMAGE_PLACEHOLDERS)
    roles = {name: _role(_table(table, name, where), f"{where}.{name}") for name in ROLES}
    port = _int(table.get("port", 8000), f"{where}.port", 1, 65535)
    return ContainerSpec(roles, None if image is None else str(image), context, dockerfile, args, port)


def _env(value: object, where: str, placeholders: Mapping[str, str] = PLACEHOLDERS) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ConfigError(f'{where} must be a table of NAME = "value"')
    out = {}
    for key, item in value.items():
        text = str(item) if isinstance(item, int | float) and not isinstance(item, bool) else item
        out[str(key)] = _text(text, f"{where}.{key}")
        _check_placeholders(out[str(key)], f"{where}.{key}", placeholders)
    return out


def _check_placeholders(text: str, where: str, placeholders: Mapping[str, str] = PLACEHOLDERS) -> None:
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    except ValueError as exc:
        raise ConfigError(f"{where}={text!r}: {exc}; write a literal brace as {{{{ or }}}}") from None
    for name in names:
        if name not in placeholders:
            known = ", ".join(f"{{{p}}}" for p in placeholders)
            raise ConfigError(f"{where}={text!r}: unknown placeholder {{{name}}}; the harness fills {known}")


def _text(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{where}={value!r} must be a string")
    return value


def _int(value: object, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ConfigError(f"{where}={value!r} is out of range; use a number from {low} to {high}")
    return int(value)


def _signal(value: object, where: str) -> int:
    name = _text(value, where).upper()
    try:
        return int(signal.Signals[name if name.startswith("SIG") else f"SIG{name}"])
    except KeyError:
        raise ConfigError(f"{where}={value!r} is not a signal name; use e.g. SIGTERM or SIGINT") from None
