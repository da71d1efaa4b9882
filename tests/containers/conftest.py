"""Fixtures for the Docker tier: an engine client, the offline images, containers removed on teardown.

Every container or network a test creates carries the label org.adc.test=<pid of the session>; whatever survives a
test (a crash, an interrupted run) is swept by label at the end of the session.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import docker.errors
import pytest

from harness.images import EngineUnavailable, ImageSet, build_images
from harness.images.engine import connect

TEST_LABEL = {"org.adc.test": str(os.getpid())}  # this session's own: parallel sessions never sweep each other's
# Ryuk's image cannot be pulled here (cleanup is by label instead); the engine is reached on the host.
os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
os.environ.setdefault("TESTCONTAINERS_CONNECTION_MODE", "docker_host")


def _sweep(client: Any) -> None:
    mine = {"label": f"org.adc.test={TEST_LABEL['org.adc.test']}"}
    for container in client.containers.list(all=True, filters=mine):
        container.remove(force=True)
    for network in client.networks.list(filters=mine):
        network.remove()


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    try:
        client = connect()
    except EngineUnavailable as exc:
        pytest.skip(f"{exc}")
    try:
        yield client
    finally:
        _sweep(client)
        client.close()


@pytest.fixture(scope="session")
def build_log() -> list[str]:
    """The progress lines of the session's first offline build (asserted on by the image tests)."""
    return []


@pytest.fixture(scope="session")
def offline_images(docker_client: Any, build_log: list[str]) -> ImageSet:
    """The local images, built once per session (seconds when nothing changed, ~80 s the first time)."""
    return build_images(offline=True, progress=build_log.append)


@pytest.fixture
def containers(docker_client: Any) -> Iterator[Callable[..., Any]]:
    """`containers(image, command, **run_kwargs)`: a detached, labelled container removed at teardown."""
    started: list[Any] = []

    def run(image: str, command: list[str] | None = None, **kwargs: Any) -> Any:
        labels = {**kwargs.pop("labels", {}), **TEST_LABEL}
        container = docker_client.containers.run(image, command, detach=True, labels=labels, **kwargs)
        started.append(container)
        return container

    yield run
    for container in reversed(started):
        with contextlib.suppress(docker.errors.NotFound):  # the `network` fixture may have removed it
            container.remove(force=True)


@pytest.fixture
def network(docker_client: Any) -> Iterator[Any]:
    """A user-defined bridge network (containers reach each other by name), removed at teardown with its
    containers (whichever of this and `containers` is torn down first)."""
    net = docker_client.networks.create(f"adc-test-{os.getpid()}-{time.monotonic_ns()}", labels=TEST_LABEL)
    yield net
    net.reload()
    for container in net.containers:
        container.remove(force=True)
    net.remove()
