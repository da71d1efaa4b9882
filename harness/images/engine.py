"""The few Docker engine calls the image builds need: connect, look up, build with progress, import a rootfs."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

from harness.core.errors import HarnessError
from harness.core.extras import require

Progress = Callable[[str], None]
HASH_LABEL = "org.adc.content-hash"
HINT = "start one with scripts/ensure-docker.sh (installs docker.io and runs dockerd)"


class EngineUnavailable(HarnessError):
    """No Docker engine answers on DOCKER_HOST (or the default socket)."""


class ImageBuildError(HarnessError):
    """An image could not be built; notes carry the last lines of the build output."""


def docker_sdk() -> Any:
    """The docker SDK (the `containers` extra), imported when first needed."""
    return require("docker")


def connect() -> Any:
    """A docker SDK client that has answered a ping."""
    docker = docker_sdk()
    try:
        client = docker.from_env(timeout=600)
        client.ping()
    except (docker.errors.DockerException, OSError) as exc:
        raise EngineUnavailable(f"no Docker engine answers ({exc}); {HINT}") from exc
    return client


def local_image(client: Any, name: str) -> Any | None:
    """The engine's image called `name`, or None; never pulls."""
    try:
        return client.images.get(name)
    except docker_sdk().errors.ImageNotFound:
        return None


def image_label(client: Any, name: str, label: str) -> str | None:
    image = local_image(client, name)
    if image is None:
        return None
    labels = image.attrs.get("Config", {}).get("Labels") or {}
    return cast("str | None", labels.get(label))


def image_size_mb(client: Any, name: str) -> float:
    image = local_image(client, name)
    return 0.0 if image is None else float(image.attrs.get("Size", 0)) / 1e6


def build_context(
    client: Any,
    context: Path,
    tag: str,
    labels: Mapping[str, str],
    buildargs: Mapping[str, str],
    progress: Progress,
    dockerfile: str = "Dockerfile",
) -> None:
    """`docker build` with the classic builder, never pulling; one progress line per Dockerfile step."""
    started = time.monotonic()
    tail: list[str] = []
    stream = client.api.build(
        path=str(context), dockerfile=dockerfile, tag=tag, labels=dict(labels), buildargs=dict(buildargs),
        rm=True, forcerm=True, pull=False, decode=True,
    )  # fmt: skip
    for chunk in stream:
        line = str(chunk.get("stream", "")).rstrip()
        if line:
            tail = [*tail[-20:], line]
        if line.startswith("Step "):
            progress(f"    {time.monotonic() - started:6.1f} s  {_shorten(line)}")
        if "error" in chunk:
            exc = ImageBuildError(f"building {tag} from {context} failed: {chunk['error'].strip()}")
            exc.add_note("last build output:\n" + "\n".join(tail))
            raise exc


def _shorten(line: str, width: int = 100) -> str:
    line = " ".join(line.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def import_rootfs(rootfs: Path, tag: str, changes: Sequence[str]) -> None:
    """`tar -C rootfs -c . | docker import` (the CLI streams a large tar more simply than the SDK)."""
    argv = ["docker", "import", *(f"--change={c}" for c in changes), "-", tag]
    with subprocess.Popen(["tar", "-C", str(rootfs), "--numeric-owner", "-c", "."], stdout=subprocess.PIPE) as tar:
        result = subprocess.run(argv, stdin=tar.stdout, capture_output=True, text=True, check=False)
        if tar.stdout is not None:
            tar.stdout.close()
    if tar.returncode != 0 or result.returncode != 0:
        raise ImageBuildError(f"`docker import` of {rootfs} as {tag} failed: {result.stderr.strip() or 'tar failed'}")
