"""The shared protocol client with Locust's FastHttpSession (geventhttpclient) carrying its plain requests.

Why two engines under one client. A status poll through `httpx` costs ~0.7 ms of load-generator CPU here, through
FastHttpSession ~0.14 ms (measured; the figure Locust gives is ~6x): polls and initiates are nearly all the
requests of a run, so they take the cheap engine. SSE streams, artifact downloads and the legacy start stay on
httpx: they are few, long, and need what it does well (chunk-by-chunk reads for byte-gap timing, streaming
hashes, per-request timeouts of minutes). Both engines sit under the same `ServiceClient._call`, so the
protocol rules, the history lines and the Locust rows are the same whichever one carried a request.
"""

from __future__ import annotations

import socket
from typing import Any

import httpx
from geventhttpclient.response import HTTPConnectionClosed, HTTPParseError
from locust.contrib.fasthttp import FastHttpSession, LocustBadStatusCode
from locust.event import EventHook

from harness.clients import ServiceClient

_SILENT: EventHook = EventHook()  # type: ignore[no-untyped-call] # the session's own per-request event: the harness reports each operation once, itself


class FastServiceClient(ServiceClient):
    """A `ServiceClient` whose initiate/status/cancel/302 exchanges go through a FastHttpSession."""

    def __init__(self, session: FastHttpSession, base_url: str, **kwargs: Any) -> None:
        super().__init__(base_url, **kwargs)
        session.request_event = _SILENT
        self._session = session

    def _send(
        self, method: str, url: str, body: dict[str, Any] | None, timeout: httpx.Timeout | None
    ) -> httpx.Response:
        if timeout is not None:  # a request with its own (long) bound: the legacy start
            return super()._send(method, url, body, timeout)
        resp = self._session.request(method, url, json=body, allow_redirects=False)
        error = getattr(resp, "error", None)
        if resp.status_code == 0 or (error is not None and not isinstance(error, LocustBadStatusCode)):
            raise as_httpx_error(error, method, url)
        location = resp.headers.get("location") if resp.headers is not None else None
        headers = [("location", str(location))] if location else None
        return httpx.Response(resp.status_code, headers=headers, content=resp.content or b"")


def as_httpx_error(error: object, method: str, url: str) -> httpx.HTTPError:
    """geventhttpclient's failures in httpx's terms, so `classify_exception` judges both engines alike.

    A socket timeout may have hit the connect or the read: it is indeterminate (the request may have left)."""
    request = httpx.Request(method, url)
    message = f"{type(error).__name__}: {error}"
    if isinstance(error, ConnectionRefusedError):
        return httpx.ConnectError(message, request=request)
    if isinstance(error, socket.timeout | TimeoutError):
        return httpx.ReadTimeout(message, request=request)
    if isinstance(error, ConnectionError | HTTPConnectionClosed | HTTPParseError):
        return httpx.RemoteProtocolError(message, request=request)
    return httpx.ReadError(message, request=request)
