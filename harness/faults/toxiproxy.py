"""A typed client for Toxiproxy's REST API (2.x), with immutable Proxy and Toxic values.

toxiproxy-python 0.1.1 keeps host and port in class globals (one server per interpreter), has no
PATCH and no /populate, and its errors drop the server's message; a stack runs its own server on a
free port, so this module talks to the REST API directly with httpx. Every failure raises
`ToxiproxyError` naming the call, the proxy or toxic, the server's answer and a way out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, Self

import httpx

from harness.core.errors import ConfigError, ToxiproxyError

Stream = Literal["upstream", "downstream"]
STREAMS: tuple[str, ...] = ("upstream", "downstream")
# Attribute names per toxic type, as Toxiproxy 2.12 spells them (durations in ms; slicer's delay in µs).
TOXIC_ATTRIBUTES: Mapping[str, tuple[str, ...]] = {
    "latency": ("latency", "jitter"),
    "bandwidth": ("rate",),
    "slow_close": ("delay",),
    "timeout": ("timeout",),
    "reset_peer": ("timeout",),
    "slicer": ("average_size", "size_variation", "delay"),
    "limit_data": ("bytes",),
}
_HINTS = {
    400: "check the toxic type, stream and attributes",
    404: "list what exists with proxies() / toxics(proxy)",
    409: "delete it first, pick another name, or use populate() to replace proxies",
    500: "a listen address that is already taken is the usual cause; see the server log",
}


def check_toxicity(toxicity: float) -> None:
    if not (isinstance(toxicity, int | float) and math.isfinite(toxicity) and 0.0 <= toxicity <= 1.0):
        raise ConfigError(f"toxicity {toxicity!r} is out of range; use a probability between 0.0 and 1.0")


def check_attribute(owner: str, key: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{owner}.{key}={value!r} is invalid; use an integer >= 0")


def check_toxic(toxic_type: str, stream: str, toxicity: float, attributes: Mapping[str, int]) -> None:
    """Refuse a toxic before it reaches the server, so the error names the bad value and the allowed range."""
    if toxic_type not in TOXIC_ATTRIBUTES:
        raise ConfigError(f"unknown toxic type {toxic_type!r}; use one of {sorted(TOXIC_ATTRIBUTES)}")
    if stream not in STREAMS:
        raise ConfigError(f"unknown toxic stream (direction) {stream!r}; use 'upstream' or 'downstream'")
    check_toxicity(toxicity)
    allowed = TOXIC_ATTRIBUTES[toxic_type]
    for key, value in attributes.items():
        if key not in allowed:
            raise ConfigError(f"{toxic_type} toxic has no attribute {key!r}; its attributes are {list(allowed)}")
        check_attribute(toxic_type, key, value)


@dataclass(frozen=True)
class Toxic:
    """One toxic as the server reports it; attributes are integers (ms, KB/s, bytes or µs by type)."""

    name: str
    type: str
    stream: str = "downstream"
    toxicity: float = 1.0
    attributes: Mapping[str, int] = field(default_factory=dict, hash=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Toxic:
        attrs = {str(k): int(v) for k, v in (data.get("attributes") or {}).items()}
        return cls(str(data["name"]), str(data["type"]), str(data["stream"]), float(data["toxicity"]), attrs)


@dataclass(frozen=True)
class Proxy:
    """One proxy: where it listens, where it forwards, whether it accepts connections, and its toxics."""

    name: str
    upstream: str
    listen: str = "127.0.0.1:0"
    enabled: bool = True
    toxics: tuple[Toxic, ...] = ()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Proxy:
        toxics = tuple(Toxic.from_json(t) for t in data.get("toxics") or ())
        return cls(str(data["name"]), str(data["upstream"]), str(data["listen"]), bool(data["enabled"]), toxics)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "upstream": self.upstream, "listen": self.listen, "enabled": self.enabled}

    @property
    def port(self) -> int:
        """The port the server actually bound (a proxy created with port 0 reports the real one)."""
        return int(self.listen.rsplit(":", 1)[1])


class ToxiproxyClient:
    """One Toxiproxy server's REST API; `timeout` (seconds) is the default, each call may override it."""

    def __init__(self, url: str, *, timeout: float = 5.0, transport: httpx.BaseTransport | None = None) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout, transport=transport)

    def __repr__(self) -> str:
        return f"ToxiproxyClient({self.url!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def _call(self, method: str, path: str, call: str, *, body: Any = None, timeout: float | None = None) -> Any:
        """Send one request; map every failure to a ToxiproxyError that names `call` and the server's answer."""
        extra: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
        try:
            response = self._http.request(method, path, json=body, **extra)
        except httpx.HTTPError as exc:
            raise ToxiproxyError(
                f"{call}: Toxiproxy at {self.url} did not answer ({type(exc).__name__}: {exc}); "
                "is toxiproxy-server running there? (ToxiproxyServer starts one; `harness install toxiproxy` builds it)"
            ) from exc
        if response.is_success:
            return response.json() if response.content else None
        try:
            answer = response.json()
            answer = answer.get("error", answer) if isinstance(answer, dict) else answer
        except ValueError:
            answer = response.text
        hint = _HINTS.get(response.status_code, "see the server log")
        raise ToxiproxyError(
            f"{call} failed: Toxiproxy at {self.url} answered HTTP {response.status_code} {answer!r} (hint: {hint})"
        )

    def version(self, *, timeout: float | None = None) -> str:
        data = self._call("GET", "/version", "version()", timeout=timeout)
        return str(data["version"]) if isinstance(data, Mapping) else str(data)

    def proxies(self, *, timeout: float | None = None) -> dict[str, Proxy]:
        data = self._call("GET", "/proxies", "proxies()", timeout=timeout)
        return {name: Proxy.from_json(p) for name, p in data.items()}

    def get_proxy(self, name: str, *, timeout: float | None = None) -> Proxy:
        return Proxy.from_json(self._call("GET", f"/proxies/{name}", f"get_proxy({name!r})", timeout=timeout))

    def create_proxy(
        self,
        name: str,
        upstream: str,
        listen: str = "127.0.0.1:0",
        *,
        enabled: bool = True,
        timeout: float | None = None,
    ) -> Proxy:
        """Create a proxy; the default listen address lets the server pick a free loopback port."""
        body = Proxy(name, upstream, listen, enabled).to_json()
        call = f"create_proxy({name!r}, upstream={upstream!r}, listen={listen!r})"
        return Proxy.from_json(self._call("POST", "/proxies", call, body=body, timeout=timeout))

    def update_proxy(
        self,
        name: str,
        *,
        enabled: bool | None = None,
        listen: str | None = None,
        upstream: str | None = None,
        timeout: float | None = None,
    ) -> Proxy:
        body = {k: v for k, v in {"enabled": enabled, "listen": listen, "upstream": upstream}.items() if v is not None}
        call = f"update_proxy({name!r}, {', '.join(f'{k}={v!r}' for k, v in body.items())})"
        return Proxy.from_json(self._call("PATCH", f"/proxies/{name}", call, body=body, timeout=timeout))

    def enable(self, name: str, *, timeout: float | None = None) -> Proxy:
        return self.update_proxy(name, enabled=True, timeout=timeout)

    def disable(self, name: str, *, timeout: float | None = None) -> Proxy:
        """Stop listening and drop every open connection of the proxy (clients then see ECONNREFUSED)."""
        return self.update_proxy(name, enabled=False, timeout=timeout)

    def delete_proxy(self, name: str, *, missing_ok: bool = False, timeout: float | None = None) -> None:
        if missing_ok and name not in self.proxies(timeout=timeout):
            return
        self._call("DELETE", f"/proxies/{name}", f"delete_proxy({name!r})", timeout=timeout)

    def populate(self, proxies: Iterable[Proxy], *, timeout: float | None = None) -> dict[str, Proxy]:
        """Create or replace proxies in one call (same-named proxies that differ are recreated, others kept)."""
        body = [p.to_json() for p in proxies]
        names = [p["name"] for p in body]
        data = self._call("POST", "/populate", f"populate({names!r})", body=body, timeout=timeout)
        return {p["name"]: Proxy.from_json(p) for p in data["proxies"]}

    def reset(self, *, timeout: float | None = None) -> None:
        """Re-enable every proxy and remove every toxic: the state a test expects to start from."""
        self._call("POST", "/reset", "reset()", timeout=timeout)

    def toxics(self, proxy: str, *, timeout: float | None = None) -> list[Toxic]:
        data = self._call("GET", f"/proxies/{proxy}/toxics", f"toxics({proxy!r})", timeout=timeout)
        return [Toxic.from_json(t) for t in data]

    def get_toxic(self, proxy: str, name: str, *, timeout: float | None = None) -> Toxic:
        call = f"get_toxic({proxy!r}, {name!r})"
        return Toxic.from_json(self._call("GET", f"/proxies/{proxy}/toxics/{name}", call, timeout=timeout))

    def add_toxic(
        self,
        proxy: str,
        toxic_type: str,
        attributes: Mapping[str, int] | None = None,
        *,
        name: str | None = None,
        stream: Stream = "downstream",
        toxicity: float = 1.0,
        timeout: float | None = None,
    ) -> Toxic:
        """Add a toxic (validated here first); the default name is Toxiproxy's own `<type>_<stream>`."""
        attrs = dict(attributes or {})
        check_toxic(toxic_type, stream, toxicity, attrs)
        toxic_name = name or f"{toxic_type}_{stream}"
        body = {"name": toxic_name, "type": toxic_type, "stream": stream, "toxicity": toxicity, "attributes": attrs}
        call = f"add_toxic({proxy!r}, {toxic_type!r}, {attrs!r}, name={toxic_name!r}, stream={stream!r})"
        return Toxic.from_json(self._call("POST", f"/proxies/{proxy}/toxics", call, body=body, timeout=timeout))

    def update_toxic(
        self,
        proxy: str,
        name: str,
        attributes: Mapping[str, int] | None = None,
        *,
        toxicity: float | None = None,
        timeout: float | None = None,
    ) -> Toxic:
        """Change a live toxic in place (PATCH; 2.12 also takes the deprecated POST); omitted values are kept."""
        body: dict[str, Any] = {"attributes": dict(attributes or {})}
        for key, value in body["attributes"].items():
            check_attribute(f"toxic {name!r}", key, value)
        if toxicity is not None:
            check_toxicity(toxicity)
            body["toxicity"] = toxicity
        call = f"update_toxic({proxy!r}, {name!r}, {body!r})"
        return Toxic.from_json(self._call("PATCH", f"/proxies/{proxy}/toxics/{name}", call, body=body, timeout=timeout))

    def remove_toxic(self, proxy: str, name: str, *, missing_ok: bool = False, timeout: float | None = None) -> None:
        """Remove a toxic; with `missing_ok`, a toxic already gone (removed, or wiped by reset()) is fine."""
        if missing_ok:
            known = self.proxies(timeout=timeout).get(proxy)
            if known is None or name not in {t.name for t in known.toxics}:
                return
        self._call("DELETE", f"/proxies/{proxy}/toxics/{name}", f"remove_toxic({proxy!r}, {name!r})", timeout=timeout)
