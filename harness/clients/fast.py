"""The shared protocol client with FastHttpUser's engine (geventhttpclient) carrying its plain requests.

Why two engines under one client. Per status poll, measured on this machine's load generator: httpx ~475 us of
CPU, a FastHttpUser request ~140 us, geventhttpclient alone ~110 us. Polls and initiates are nearly all the
requests of a run, so they go through geventhttpclient; not through FastHttpSession, whose own reporting,
cookie jar and redirect handling are cost without use here (the harness reports every operation itself, once).
SSE streams, artifact downloads and the legacy start stay on httpx: they are few and long, and need what it does
well (chunk-by-chunk reads for byte-gap timing, streaming hashes, per-request timeouts of minutes). Both engines
sit under the same `ServiceClient._call`, so protocol rules, history lines and Locust rows are the same whichever
one carried a request (`bench/locust_overhead.py` measures the cost of all that against a bare FastHttpUser).
"""

from __future__ import annotations

import functools
import json
import socket
import ssl
from typing import Any
from urllib.parse import urlsplit

import httpx
from geventhttpclient import HTTPClient
from geventhttpclient.response import HTTPParseError

from harness.clients.service import Answer, ServiceClient

_JSON = {"Content-Type": "application/json", "Accept": "application/json"}


class FastServiceClient(ServiceClient):
    """A `ServiceClient` whose initiate/status/cancel/302 exchanges go through one keep-alive geventhttpclient
    connection; `network_timeout` bounds each socket operation (the per-request budget of those requests)."""

    def __init__(self, base_url: str, *, network_timeout: float, connection_timeout: float, **kwargs: Any) -> None:
        kwargs.setdefault("transport", httpx.HTTPTransport(verify=_tls_context()))
        super().__init__(base_url, **kwargs)
        self._prefix = urlsplit(base_url).path.rstrip("/")
        self._fast = HTTPClient.from_url(
            base_url, concurrency=1, network_timeout=network_timeout, connection_timeout=connection_timeout
        )

    def close(self) -> None:
        self._fast.close()
        super().close()

    def _send(self, method: str, url: str, body: dict[str, Any] | None, timeout: httpx.Timeout | None) -> Answer:
        if timeout is not None:  # a request with its own (long) bound: the legacy start
            return super()._send(method, url, body, timeout)
        payload = None if body is None else json.dumps(body).encode()
        try:
            resp = self._fast.request(method, self._prefix + url, body=payload, headers=_JSON if payload else None)
            content = resp.read()
        except (OSError, HTTPParseError) as exc:
            raise as_httpx_error(exc, method, url) from exc
        location = resp.get("location")
        retry_after = resp.get("retry-after") is not None
        return Answer(resp.status_code, content, None if location is None else str(location), retry_after)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One TLS context per process: httpx builds one per client otherwise (~20 ms of CPU and ~1 MB each, which
    thousands of users pay at spawn)."""
    return ssl.create_default_context()


def as_httpx_error(error: BaseException, method: str, url: str) -> httpx.HTTPError:
    """geventhttpclient's failures in httpx's terms, so `classify_exception` judges both engines alike.

    A socket timeout may have hit the connect or the read: it is indeterminate (the request may have left)."""
    request = httpx.Request(method, url)
    message = f"{type(error).__name__}: {error}"
    if isinstance(error, ConnectionRefusedError):
        return httpx.ConnectError(message, request=request)
    if isinstance(error, socket.timeout | TimeoutError):
        return httpx.ReadTimeout(message, request=request)
    if isinstance(error, ConnectionError | HTTPParseError):
        return httpx.RemoteProtocolError(message, request=request)
    return httpx.ReadError(message, request=request)
