"""The backend a stack-tier test runs on: the chain and fault tests run on local processes AND in containers.

`backend` is a module-scoped parameter (`local`, `containers`); the containers cases carry the `containers`
marker, so `-m "not containers"` leaves them out. They need a Docker engine and the offline images (built
once per session; seconds when up to date). Without an engine they FAIL under CI (CI=true) and are skipped
elsewhere, with the reason.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from harness.images import EngineUnavailable, ImageSet, build_images
from harness.images.engine import connect

BACKENDS = [
    pytest.param("local", id="local"),
    pytest.param("containers", id="containers", marks=pytest.mark.containers),
]


def require_engine() -> None:
    """Fail (under CI) or skip (elsewhere) when no Docker engine answers."""
    try:
        connect().close()
    except EngineUnavailable as exc:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI=true and the containers tier cannot run: {exc}", pytrace=False)
        pytest.skip(f"containers tier skipped: {exc}")


@pytest.fixture(scope="session")
def container_images() -> Iterator[ImageSet]:
    """The offline images, rebuilt if the service changed; stacks this session left behind are reaped."""
    require_engine()
    images = build_images(offline=True, progress=lambda line: None)
    yield images
    from harness.stack.containers.engine import find_stacks, owner_id, remove_leftover

    client = connect()
    try:
        for leftover in find_stacks(client).values():
            if leftover.owner == owner_id():
                remove_leftover(leftover)
    finally:
        client.close()


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    if name == "containers":
        request.getfixturevalue("container_images")
    return name
