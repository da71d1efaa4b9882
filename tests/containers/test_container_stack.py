"""The containers backend's own behaviour: which backend `auto` picks, process control on containers, and
endpoints (and the Toxiproxy client) that follow a restarted container to its new published port."""

from __future__ import annotations

import signal
import socket
from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest

from harness.core.errors import ConfigError, StackStartError
from harness.images import ImageSet
from harness.stack import Stack, StackConfig
from harness.stack.containers import ContainerStack
from harness.stack.local import LocalStack
from tests.conftest import wait_until
from tests.stack.conftest import require_engine

pytestmark = [pytest.mark.containers, pytest.mark.timeout(300)]


@pytest.fixture(scope="session", autouse=True)
def engine_required() -> None:
    """Before the images fixture (which skips): under CI, no engine is a failure."""
    require_engine()


@pytest.fixture(scope="module")
def stack(offline_images: ImageSet, time_scale: float) -> Iterator[ContainerStack]:
    with ContainerStack(StackConfig(backend="containers", time_scale=time_scale, workers=1), offline_images) as s:
        yield s


def health(stack: Any) -> int:
    return httpx.get(f"{stack.endpoints.edge_url}/health", timeout=10).status_code


def redis_ping(url: str) -> bool:
    parsed = urlparse(url)
    with socket.create_connection((parsed.hostname or "", parsed.port or 0), timeout=2) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(64).startswith(b"+PONG")


def test_auto_picks_containers_when_the_engine_and_images_are_there(offline_images, capsys):
    assert isinstance(Stack(StackConfig(backend="auto")), ContainerStack)
    assert "backend auto -> containers" in capsys.readouterr().err


def test_auto_falls_back_to_local_without_an_engine(monkeypatch, capsys):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    assert isinstance(Stack(StackConfig(backend="auto")), LocalStack)
    err = capsys.readouterr().err
    assert "backend auto -> local" in err and "no Docker engine answers" in err


def test_missing_images_are_named_never_pulled(offline_images):
    images = replace(offline_images, redis="adc/not-built-here")
    with pytest.raises(StackStartError, match=r"adc/not-built-here.*harness images build --offline"):
        ContainerStack(StackConfig(backend="containers"), images).__enter__()


def test_endpoints_and_toxiproxy_follow_restarted_containers(stack):
    before = stack.endpoints
    stack.restart("redis", graceful=False)
    stack.restart("api")
    after = stack.endpoints
    assert (after.redis_url, after.api_url) != (before.redis_url, before.api_url)
    assert redis_ping(after.redis_url)
    assert httpx.get(f"{after.api_url}/health").status_code == 200
    assert set(stack.toxiproxy.proxies()) == {"edge", "api", "redis"}
    assert health(stack) == 200


def test_sigstop_freezes_redis_and_sigcont_thaws_it(stack):
    stack.signal("redis", signal.SIGSTOP)
    try:
        assert stack._proc("redis").status == "paused"
        assert health(stack) == 503
    finally:
        stack.signal("redis", signal.SIGCONT)
    wait_until(lambda: health(stack) == 200, 10, "the API to see Redis again")


def test_a_killed_worker_starts_again(stack):
    stack.signal("worker-0", signal.SIGKILL)
    wait_until(lambda: not stack._proc("worker-0").alive, 5, "worker-0 to die")
    stack.start("worker-0")  # waits for "worker ready" of this run, not of the first one
    assert stack._proc("worker-0").status == "running"
    stack.stop("worker-0")
    assert stack._proc("worker-0").status == "exited"
    stack.start("worker-0")


def test_unknown_component_is_refused_with_the_known_ones(stack):
    with pytest.raises(ConfigError, match="redis, api, worker-0, nginx"):
        stack.signal("toxiproxy", signal.SIGKILL)
