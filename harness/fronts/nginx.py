"""Named nginx front configurations: find them, read their headers, render them into a runnable nginx.conf.

A named config is a Jinja2 template `proxies/<name>.conf.j2` holding the http-level part of an nginx.conf
(upstreams and one server). Its leading comment block says what it models and, machine-readably, which
flows are expected to pass behind it (`# expect: poll=pass sse=pass download=pass legacy=fail`) and, for an
edge emulation, which named config is its origin (`# origin: recommended`). The renderer wraps it in
`proxies/_main.conf.j2` (process, paths under the prefix, nginx's default timers). Every timer in a template
is written in real seconds through the `t` filter, which multiplies it by the time scale: `{{ 60 | t }}` ->
`3000ms` at 0.05.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType

import jinja2

from harness.contract import V1, ContractProfile
from harness.core.errors import ConfigError
from harness.core.net import LOOPBACK
from harness.core.timescale import parse_time_scale, scaled

# The named fronts ship inside the package (in a checkout, `harness/fronts/proxies` is a link to `proxies/`).
PROXIES_DIR = Path(str(resources.files("harness.fronts").joinpath("proxies")))
TEMPLATE_SUFFIX = ".conf.j2"
MAIN_TEMPLATE = "_main.conf.j2"
FLOWS = ("poll", "sse", "download", "legacy")
VERDICTS = ("pass", "fail")

_HEADER_KEY = re.compile(r"^(expect|origin):\s*(.*)$")
_UPSTREAM = re.compile(r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$")
_UNSAFE = re.compile(r'["\\$\x00-\x1f]')


@dataclass(frozen=True)
class ProxyConfig:
    """One named front configuration: where its template is and what its header promises."""

    name: str
    path: Path
    description: str
    expectations: Mapping[str, str] = field(hash=False)
    origin: str | None = None

    @property
    def is_edge(self) -> bool:
        """An edge emulation sits in front of an origin nginx (its `origin`)."""
        return self.origin is not None


def available_configs(proxies_dir: Path = PROXIES_DIR) -> list[str]:
    """The named configs shipped in proxies/ (templates whose name starts with `_` are building blocks)."""
    names = (p.name.removesuffix(TEMPLATE_SUFFIX) for p in proxies_dir.glob(f"*{TEMPLATE_SUFFIX}"))
    return sorted(n for n in names if not n.startswith("_"))


def _looks_like_path(value: str) -> bool:
    return os.sep in value or "/" in value or value.startswith(("~", ".")) or value.endswith((".j2", ".conf"))


def load_proxy_config(name_or_path: str | os.PathLike[str], *, proxies_dir: Path = PROXIES_DIR) -> ProxyConfig:
    """A named config (`recommended`) or the path of a user's own template, with its header parsed."""
    raw = os.fspath(name_or_path)
    if isinstance(name_or_path, os.PathLike) or _looks_like_path(raw):
        path = Path(raw).expanduser()
        if not path.is_file():
            raise ConfigError(
                f"proxy config template {raw!r} does not exist or is not a file; pass a path to a "
                f"{TEMPLATE_SUFFIX} template or one of: {', '.join(available_configs(proxies_dir))}"
            )
        name = path.name.removesuffix(TEMPLATE_SUFFIX).removesuffix(".j2")
    else:
        path = proxies_dir / f"{raw}{TEMPLATE_SUFFIX}"
        if raw.startswith("_") or not path.is_file():
            raise ConfigError(
                f"unknown proxy config {raw!r}; available: {', '.join(available_configs(proxies_dir))} "
                f"(or pass a path to your own {TEMPLATE_SUFFIX} template)"
            )
        name = raw
    config = _from_header(name, path.resolve(), path.read_text(encoding="utf-8"))
    if config.origin is not None:
        origin = load_proxy_config(config.origin, proxies_dir=proxies_dir)
        if origin.origin is not None:
            raise ConfigError(
                f"proxy config {name!r}: its origin {config.origin!r} is itself an edge (origin: {origin.origin!r}); "
                "a chain has at most one edge in front of one origin"
            )
    return config


def _from_header(name: str, path: Path, text: str) -> ProxyConfig:
    lines = []
    for line in text.lstrip("\n").splitlines():
        if not line.startswith("#"):
            break
        lines.append(line[1:].strip())
    expectations: dict[str, str] = {}
    origin: str | None = None
    paragraph: list[str] = []
    first_paragraph_done = False
    for line in lines:
        key = _HEADER_KEY.match(line)
        if key and key.group(1) == "expect":
            expectations.update(_parse_expect(name, path, key.group(2)))
        elif key:
            origin = _resolve_origin(key.group(2).strip(), path)
        elif line and not first_paragraph_done:
            paragraph.append(line)
        elif paragraph:
            first_paragraph_done = True
    missing = [flow for flow in FLOWS if flow not in expectations]
    if missing:
        raise ConfigError(
            f"proxy config {name!r} ({path}): its header has no expectation for {', '.join(missing)}; "
            f"add a line like '# expect: {' '.join(f + '=pass' for f in FLOWS)}'"
        )
    description = " ".join(paragraph).removeprefix(f"{name}:").strip()
    return ProxyConfig(name, path, description, MappingProxyType(expectations), origin)


def _parse_expect(name: str, path: Path, value: str) -> dict[str, str]:
    result: dict[str, str] = {}
    for item in value.split():
        flow, _, verdict = item.partition("=")
        if flow not in FLOWS or verdict not in VERDICTS:
            raise ConfigError(
                f"proxy config {name!r} ({path}): expectation {item!r} is not <flow>=<verdict> with flow in "
                f"{', '.join(FLOWS)} and verdict in {', '.join(VERDICTS)}"
            )
        result[flow] = verdict
    return result


def _resolve_origin(value: str, template: Path) -> str:
    """An origin is a config name, or a template path relative to the edge's own template."""
    if not _looks_like_path(value):
        return value
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else (template.parent / path).resolve())


def route_locations(profile: ContractProfile = V1) -> dict[str, str]:
    """The location arguments that select the stream and the download routes of `profile`: a prefix location
    when the path ends in its job id and no other path shares that prefix, else a regex with the profile's job
    id pattern (so "/v1/download/{job_id}" does not catch /v1/download/initiate)."""
    others = [path.partition("{job_id}")[0] for op, path in profile.paths.items() if op not in ("stream", "download")]
    out = {}
    for op in ("stream", "download"):
        head, _, tail = profile.paths[op].partition("{job_id}")
        if not tail and head.endswith("/") and not any(o.startswith(head) for o in others):
            out[f"{op}_location"] = head
        else:
            out[f"{op}_location"] = f'~ "^{_regex(head)}{profile.job_id_pattern}{_regex(tail)}$"'
    return out


def _regex(literal: str) -> str:
    """A path literal as an nginx (PCRE) regex: metacharacters escaped, `/` left as it is."""
    return re.sub(r"([.^$*+?()\[\]{}|\\])", r"\\\1", literal)


def _environment(time_scale: float) -> jinja2.Environment:
    """A Jinja2 environment whose `t` filter renders real seconds x time scale as nginx milliseconds."""

    def to_clock(seconds: float) -> str:
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not seconds > 0:
            raise ConfigError(f"timer {seconds!r} in a proxy template is not a positive number of seconds")
        return f"{max(1, round(scaled(seconds, time_scale) * 1000))}ms"

    env = jinja2.Environment(
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True, trim_blocks=True, autoescape=False
    )
    env.filters["t"] = to_clock
    return env


def _literal(value: str | os.PathLike[str], what: str) -> str:
    text = os.fspath(value)
    if not text or _UNSAFE.search(text):
        raise ConfigError(f"{what} {text!r} is empty or holds a quote, backslash, '$' or control character")
    return text


def _directory(value: str | os.PathLike[str], what: str) -> str:
    return os.path.abspath(_literal(value, what)).rstrip("/") or "/"


def _worker_user(*dirs: str) -> str | None:
    """As root, nginx's workers would run as `nobody`, who cannot read a private artifact directory nor write
    temp files under a private prefix: run them as the owner of the first directory that exists."""
    if os.geteuid() != 0:
        return None
    owner = next((os.stat(d) for d in dirs if os.path.isdir(d)), None)
    uid, gid = (owner.st_uid, owner.st_gid) if owner else (0, 0)
    user = pwd.getpwuid(uid).pw_name
    return None if user == "nobody" else f"{user} {grp.getgrgid(gid).gr_name}"


def render(
    config: ProxyConfig,
    *,
    listen_port: int,
    upstream: str,
    artifact_dir: str | os.PathLike[str],
    signing_secret: str,
    time_scale: float,
    prefix_dir: str | os.PathLike[str],
    listen_host: str = LOOPBACK,
    worker_user: str | None = None,
    profile: ContractProfile = V1,
) -> str:
    """A complete nginx.conf for `nginx -p PREFIX -c CONF -g 'daemon off;'`: one worker, every path under
    prefix_dir. `upstream` is host:port of the API hop (the origin nginx for an edge); `worker_user`
    overrides the user the workers run as when nginx starts as root (default: the artifact dir's owner).
    `profile` says where the service's routes are: templates write `location {{ stream_location }}` and
    `location {{ download_location }}` for the stream and the download, whatever the implementation's paths."""
    if isinstance(listen_port, bool) or not isinstance(listen_port, int) or not 0 < listen_port < 65536:
        raise ConfigError(f"listen_port {listen_port!r} is not a TCP port (1-65535)")
    match = _UPSTREAM.match(upstream)
    if not match or not 0 < int(match.group(1)) < 65536:
        raise ConfigError(f"upstream {upstream!r} is not host:port (e.g. 127.0.0.1:8474)")
    scale = parse_time_scale(time_scale)
    prefix = _directory(prefix_dir, "prefix_dir")
    artifacts = _directory(artifact_dir, "artifact_dir")
    env = _environment(scale)
    env.loader = jinja2.FileSystemLoader([str(config.path.parent), str(PROXIES_DIR)])
    values = {
        "listen": f"{_literal(listen_host, 'listen_host')}:{listen_port}",
        "listen_port": listen_port,
        "upstream": upstream,
        "artifact_dir": artifacts,
        "signing_secret": _literal(signing_secret, "signing_secret"),
        "time_scale": scale,
        "prefix_dir": prefix,
        **route_locations(profile),
    }
    user = worker_user if worker_user is not None else _worker_user(artifacts, prefix)
    try:
        body = env.from_string(config.path.read_text(encoding="utf-8")).render(values)
        main = env.from_string((PROXIES_DIR / MAIN_TEMPLATE).read_text(encoding="utf-8"))
        return main.render(values, body=body.strip("\n"), source=str(config.path), worker_user=user)
    except (jinja2.TemplateError, ConfigError) as exc:
        raise ConfigError(f"proxy config {config.name!r} ({config.path}) does not render: {exc}") from exc


def nginx_binary() -> str:
    """The nginx executable: on PATH, else Debian's /usr/sbin/nginx (not on a non-root user's PATH)."""
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        raise ConfigError(
            "nginx is not installed (looked on PATH and in /usr/sbin); `harness doctor` says how to install it"
        )
    return found


def nginx_argv(
    conf_path: str | os.PathLike[str], prefix_dir: str | os.PathLike[str], *, test: bool = False
) -> list[str]:
    """The command that runs (or, with test=True, checks) a rendered config in the foreground."""
    check = ["-t", "-q"] if test else []
    prefix = os.path.abspath(prefix_dir)
    return [nginx_binary(), *check, "-p", prefix, "-c", os.path.abspath(conf_path), "-g", "daemon off;"]
