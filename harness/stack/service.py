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
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from harness.core.errors import ConfigError

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
ROLES = ("api", "worker")


@dataclass(frozen=True)
class Role:
    """How one role is started locally: its argv (placeholders filled per process), cwd, extra env."""

    command: tuple[str, ...]
    cwd: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    ready_log: str | None = None  # a line in its output that says it is ready (a worker has no port)


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
    stop_signal: int = signal.SIGTERM
    stop_grace_s: float = 5.0
    jobs: Mapping[str, str] = field(default_factory=dict)

    @property
    def scales(self) -> bool:
        return self.time_scale_env is not None

    def role(self, name: str) -> Role:
        return self.roles[name]

    def fill(self, text: str, values: Mapping[str, object]) -> str:
        return text.format_map({"spec_dir": str(self.path.parent), **values})

    def argv(self, role: str, values: Mapping[str, object]) -> list[str]:
        return [self.fill(part, values) for part in self.roles[role].command]

    def environment(self, role: str, values: Mapping[str, object]) -> dict[str, str]:
        merged = {**self.env, **self.roles[role].env}
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
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    return parse_service(data, path.resolve())


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
        profile=_text(service.get("profile", "reference"), f"{where} [service].profile"),
        time_scale_env=scale_env or None,
        roles=roles,
        env=_env(data.get("env", {}), f"{where} [env]"),
        health_path=_text(health.get("path", "/health"), f"{where} [health].path"),
        health_code=_int(health.get("code", 200), f"{where} [health].code", 100, 599),
        stop_signal=_signal(stop.get("signal", "SIGTERM"), f"{where} [stop].signal"),
        stop_grace_s=float(_int(stop.get("grace_s", 5), f"{where} [stop].grace_s", 0, 600)),
        jobs=_env(data.get("jobs", {}), f"{where} [jobs]"),
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


def _env(value: object, where: str) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ConfigError(f'{where} must be a table of NAME = "value"')
    out = {}
    for key, item in value.items():
        text = str(item) if isinstance(item, int | float) and not isinstance(item, bool) else item
        out[str(key)] = _text(text, f"{where}.{key}")
        _check_placeholders(out[str(key)], f"{where}.{key}")
    return out


def _check_placeholders(text: str, where: str) -> None:
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    except ValueError as exc:
        raise ConfigError(f"{where}={text!r}: {exc}; write a literal brace as {{{{ or }}}}") from None
    for name in names:
        if name not in PLACEHOLDERS:
            known = ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)
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
