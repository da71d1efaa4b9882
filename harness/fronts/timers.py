"""The timeout chain of a front configuration, read back from its rendered nginx.conf.

For each flow of the contract (poll, sse, download, legacy) the model finds the location that serves each
of the flow's routes on every nginx of the chain (the edge, then its origin), and keeps the smallest idle
(read) timer along the chain, the other timers, and whether the stream is held in nginx's buffers. The
checker compares measured byte gaps with these timers; the boundary search starts from the predicted limits.
Timers are in real (model) seconds: the rendered milliseconds divided by the time scale.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from harness.contract import V1, ContractProfile
from harness.core.errors import ConfigError
from harness.core.timescale import parse_time_scale
from harness.fronts.nginx import FLOWS, ProxyConfig, load_proxy_config, render
from harness.judge import CheckParams

_JOB = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
FLOW_OPS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "poll": ("initiate", "status", "cancel"),
        "sse": ("stream",),
        "download": ("download",),
        "legacy": ("legacy_start",),
    }
)


def flow_routes(profile: ContractProfile = V1) -> dict[str, tuple[str, ...]]:
    """Per flow, the request paths of `profile` that carry it (with a job id of its pattern's shape), and the
    signed artifact URL for downloads."""
    job = _example_id(profile.job_id_pattern)
    routes = {flow: tuple(profile.path(op, job) for op in ops) for flow, ops in FLOW_OPS.items()}
    routes["download"] += (f"/artifacts/{job}.bin",)
    return routes


def _example_id(pattern: str) -> str:
    """A job id the pattern accepts: the reference's shape when it fits, else a hex or word id that does."""
    for candidate in (_JOB, _JOB.replace("-", ""), "job1"):
        if re.fullmatch(pattern, candidate):
            return candidate
    raise ConfigError(f"job_id_pattern {pattern!r} accepts none of {_JOB!r}, a 32-hex id or 'job1'; widen it")


NGINX_DEFAULT_SECONDS = dict.fromkeys(
    ("proxy_read_timeout", "proxy_send_timeout", "proxy_connect_timeout", "send_timeout"), 60.0
)
_TOKEN = re.compile(r"""#[^\n]*|"((?:\\.|[^"\\])*)"|'((?:\\.|[^'\\])*)'|([{};])|([^\s{};"'#][^\s{};]*)""")
_UNESCAPE = re.compile(r"\\([\"'\\])")
_DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w|M|y)?")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "M": 2592000, "y": 31536000}


@dataclass(frozen=True)
class Directive:
    """One nginx directive; `children` is None for a simple directive and a tuple for a block."""

    name: str
    args: tuple[str, ...]
    children: tuple[Directive, ...] | None = None

    def blocks(self, name: str) -> Iterator[Directive]:
        return (d for d in self.children or () if d.name == name and d.children is not None)

    def own(self, name: str) -> tuple[str, ...] | None:
        return next((d.args for d in self.children or () if d.name == name and d.children is None), None)


def parse_nginx(text: str) -> Directive:
    """The rendered config as a tree under a root block (comments dropped, quotes removed)."""
    stack: list[tuple[str, tuple[str, ...], list[Directive]]] = [("", (), [])]
    words: list[str] = []
    for match in _TOKEN.finditer(text):
        quoted, single, punct, word = match.groups()
        if punct == ";":
            if words:
                stack[-1][2].append(Directive(words[0], tuple(words[1:])))
            words = []
        elif punct == "{":
            stack.append((words[0] if words else "", tuple(words[1:]), []))
            words = []
        elif punct == "}":
            if len(stack) == 1:
                raise ConfigError("unbalanced '}' in a rendered nginx config")
            name, args, children = stack.pop()
            stack[-1][2].append(Directive(name, args, tuple(children)))
        elif quoted is not None or single is not None or word is not None:
            words.append(_UNESCAPE.sub(r"\1", quoted if quoted is not None else single or word or ""))
    if len(stack) != 1 or words:
        raise ConfigError("a rendered nginx config ends inside a block or a directive")
    return Directive("", (), tuple(stack[0][2]))


def nginx_seconds(value: str) -> float:
    """nginx time syntax (`750ms`, `60s`, `1m30s`, `60`) in seconds."""
    parts = list(_DURATION.finditer(value))
    if not parts or "".join(p.group(0) for p in parts) != value:
        raise ConfigError(f"{value!r} is not an nginx time (e.g. 750ms, 60s, 1m30s)")
    return sum(int(p.group(1)) * _UNIT_SECONDS[p.group(2) or ""] for p in parts)


def match_location(server: Directive, uri: str) -> Directive | None:
    """nginx's choice among a server's top-level locations: exact, then `^~` longest prefix, then the first
    matching regex, then the longest prefix. Nested locations are not modelled."""
    prefixes: list[tuple[str, Directive, bool]] = []
    for location in server.blocks("location"):
        modifier, pattern = location.args if len(location.args) == 2 else ("", location.args[0])
        if modifier == "=" and uri == pattern:
            return location
        if modifier in ("", "^~") and uri.startswith(pattern):
            prefixes.append((pattern, location, modifier == "^~"))
    longest = max(prefixes, key=lambda p: len(p[0]), default=None)
    if longest and longest[2]:
        return longest[1]
    for location in server.blocks("location"):
        if len(location.args) == 2 and location.args[0] in ("~", "~*"):
            flags = re.IGNORECASE if location.args[0] == "~*" else 0
            if re.search(location.args[1], uri, flags):
                return location
    return longest[1] if longest else None


@dataclass(frozen=True)
class HopTimers:
    """What one nginx of the chain applies to one route (real seconds; None when it does not proxy it)."""

    hop: str
    route: str
    location: str
    read_s: float | None
    send_s: float | None
    connect_s: float | None
    client_send_s: float
    buffered: bool


@dataclass(frozen=True)
class FlowTimers:
    """The chain as one flow sees it: its smallest timers (real seconds) and who sets the idle one."""

    flow: str
    idle_timeout_s: float
    send_timeout_s: float
    connect_timeout_s: float
    client_send_timeout_s: float
    buffered: bool
    limited_by: str
    hops: tuple[HopTimers, ...] = field(repr=False)


@dataclass(frozen=True)
class TimeoutChain:
    """Every flow's timers through a named config (and its origin, for an edge)."""

    config: str
    time_scale: float
    hops: tuple[str, ...]
    flows: Mapping[str, FlowTimers] = field(hash=False)

    def flow(self, name: str) -> FlowTimers:
        if name not in self.flows:
            raise ConfigError(f"unknown flow {name!r}; flows are {', '.join(FLOWS)}")
        return self.flows[name]

    def on_clock(self, seconds: float) -> float:
        """Real (model) seconds -> seconds on this machine's clock at the chain's time scale."""
        return seconds * self.time_scale

    def predicted_legacy_limit(self) -> float:
        """The job length (real seconds) from which the legacy synchronous start is cut by a proxy."""
        return self.flows["legacy"].idle_timeout_s

    def predicted_sse_heartbeat_limit(self) -> float:
        """The heartbeat interval (real seconds) from which the stream is cut; 0 when nginx buffers it (no
        heartbeat reaches the client, whatever the interval)."""
        sse = self.flows["sse"]
        return 0.0 if sse.buffered else sse.idle_timeout_s

    def predicted_verdicts(
        self, *, longest_job_s: float = 120.0, heartbeat_s: float = 15.0, request_s: float = 1.0
    ) -> dict[str, str]:
        """Pass/fail per flow for jobs up to longest_job_s, a heartbeat every heartbeat_s and short requests
        that answer within request_s; the shape of a config header's `expect:` line."""

        def short_ok(f: FlowTimers) -> bool:
            return min(f.idle_timeout_s, f.connect_timeout_s, f.client_send_timeout_s) > request_s

        passed = {
            "poll": short_ok(self.flows["poll"]),
            "download": short_ok(self.flows["download"]),
            "sse": heartbeat_s < self.predicted_sse_heartbeat_limit(),
            "legacy": longest_job_s < self.predicted_legacy_limit(),
        }
        return {flow: "pass" if passed[flow] else "fail" for flow in FLOWS}


def _hop_timers(hop: str, http: Directive, server: Directive, route: str, scale: float) -> HopTimers:
    location = match_location(server, route)
    scopes = [s for s in (location, server, http) if s is not None]

    def value(name: str) -> tuple[str, ...] | None:
        return next((v for s in scopes if (v := s.own(name)) is not None), None)

    def seconds(name: str) -> float:
        raw = value(name)
        wall = nginx_seconds(raw[0]) if raw else NGINX_DEFAULT_SECONDS[name]
        return round(wall / scale, 3)

    proxied = location is not None and location.own("proxy_pass") is not None
    buffering = (value("proxy_buffering") or ("on",))[0] == "on"
    ignored = {h.lower() for h in value("proxy_ignore_headers") or ()}
    where = f"location {' '.join(location.args)}" if location else "no location"
    names = ("proxy_read_timeout", "proxy_send_timeout", "proxy_connect_timeout")
    read, send, connect = (seconds(n) if proxied else None for n in names)
    buffered = proxied and buffering and "x-accel-buffering" in ignored
    return HopTimers(hop, route, where, read, send, connect, seconds("send_timeout"), buffered)


def _flow_timers(flow: str, hops: tuple[HopTimers, ...]) -> FlowTimers:
    def smallest(attr: str) -> float:
        return min((v for h in hops if (v := getattr(h, attr)) is not None), default=math.inf)

    limiting = min((h for h in hops if h.read_s is not None), key=lambda h: h.read_s or 0.0, default=None)
    where = f"{limiting.hop}: {limiting.location}" if limiting else "no proxied hop"
    timers = (smallest("read_s"), smallest("send_s"), smallest("connect_s"), smallest("client_send_s"))
    return FlowTimers(flow, *timers, buffered=any(h.buffered for h in hops), limited_by=where, hops=hops)


def _server(config: ProxyConfig, scale: float, profile: ContractProfile) -> tuple[str, Directive, Directive]:
    placeholders = {"artifact_dir": "/nonexistent/artifacts", "prefix_dir": "/nonexistent/prefix"}
    rendered = render(config, listen_port=1, upstream="127.0.0.1:1", signing_secret="model", time_scale=scale,
                      worker_user="", profile=profile, **placeholders)  # fmt: skip
    http = next(parse_nginx(rendered).blocks("http"), None)
    server = next(http.blocks("server"), None) if http else None
    if http is None or server is None:
        raise ConfigError(f"proxy config {config.name!r} ({config.path}) renders no http server block")
    return config.name, http, server


def chain_timers(config: ProxyConfig, time_scale: float, profile: ContractProfile = V1) -> TimeoutChain:
    """The timeout chain through `config` (edge first, then its origin) at `time_scale`, for the routes of the
    service `profile` describes."""
    scale = parse_time_scale(time_scale)
    chain = [config] + ([load_proxy_config(config.origin)] if config.origin else [])
    parsed = [_server(c, scale, profile) for c in chain]
    flows = {
        flow: _flow_timers(flow, tuple(_hop_timers(*hop, route, scale) for hop in parsed for route in routes))
        for flow, routes in flow_routes(profile).items()
    }
    return TimeoutChain(config.name, scale, tuple(c.name for c in chain), MappingProxyType(flows))


def check_params(
    proxy_config: str | ProxyConfig | None, time_scale: float, profile: ContractProfile = V1
) -> CheckParams:
    """The checker's parameters at `time_scale` behind a front: the SSE idle timer is the front's own (None: the
    modelled default, a 60 s proxy), on the stream route of the service `profile` describes; the stall bound is
    the stall recovery the profile declares."""
    stall_s = profile.stall_recovery_on_clock(time_scale)
    if proxy_config is None:
        return CheckParams.for_scale(time_scale, stall_s=stall_s)
    config = proxy_config if isinstance(proxy_config, ProxyConfig) else load_proxy_config(proxy_config)
    chain = chain_timers(config, time_scale, profile)
    idle_s = chain.on_clock(chain.flow("sse").idle_timeout_s)
    return CheckParams.for_scale(time_scale, idle_timer_s=idle_s, stall_s=stall_s)
