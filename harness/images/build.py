"""Build the images a stack runs, each only when the content hash of its inputs has changed."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.core.cache import exclusive, user_cache_dir
from harness.images.base import ensure_base
from harness.images.engine import (
    HASH_LABEL,
    ImageBuildError,
    Progress,
    build_context,
    connect,
    docker_sdk,
    image_label,
    image_size_mb,
    local_image,
)
from harness.images.names import ImageSet, resolve_images
from harness.images.recipes import (
    Context,
    registry_service_context,
    service_context,
    simple_context,
    toxiproxy_context,
    tree_hash,
)


def build_images(offline: bool, progress: Progress = print, images: ImageSet | None = None) -> ImageSet:
    """Build (or confirm up to date) every image the set needs; never `docker pull`s anything.

    Offline: a Debian base from debootstrap, then redis, nginx, toxiproxy and the service on it.
    With a registry: only the service (reference_service/Dockerfile; the engine fetches its
    python:3.11-slim base); the official redis, nginx and toxiproxy images are left for the engine
    to fetch when a stack first runs them.
    """
    names = images or resolve_images(offline)
    started = time.monotonic()
    client = connect()
    try:
        with exclusive(user_cache_dir() / "images.lock"):  # one build at a time (parallel test workers, terminals)
            _build(client, names, offline, progress)
    finally:
        client.close()
    progress(f"[images] done in {time.monotonic() - started:.1f} s")
    return names


def _build(client: Any, names: ImageSet, offline: bool, progress: Progress) -> None:
    if offline:
        _build_offline(client, names, progress)
    else:
        for role, name in names.items():
            if role != "service":
                progress(f"[images] {role:10} {name:34} official image: fetched by the engine on first use")
        _build_registry_service(client, names, progress)


def _build_registry_service(client: Any, names: ImageSet, progress: Progress) -> None:
    try:
        ensure_image(client, names.service, registry_service_context, {}, progress)
    except ImageBuildError as exc:
        exc.add_note(
            "reference_service/Dockerfile needs python:3.11-slim from a registry; without one, "
            "build local images with `harness images build --offline`"
        )
        raise


def _build_offline(client: Any, names: ImageSet, progress: Progress) -> None:
    base = ensure_base(client, progress)
    args = {"BASE": base}
    ensure_image(client, names.redis, lambda: simple_context("redis", base), args, progress)
    ensure_image(client, names.nginx, lambda: simple_context("nginx", base), args, progress)
    ensure_image(client, names.toxiproxy, lambda: toxiproxy_context(progress), {}, progress)
    ensure_image(client, names.service, lambda: service_context(base, progress), args, progress)


def ensure_image(
    client: Any,
    tag: str,
    make_context: Callable[[], Context],
    buildargs: dict[str, str],
    progress: Progress,
    dockerfile: str = "Dockerfile",
) -> bool:
    """Build `tag` from the context unless an image of that name already carries its hash; True if built."""
    started = time.monotonic()
    context = make_context()
    short = context.content_hash[:12]
    if image_label(client, tag, HASH_LABEL) == context.content_hash:
        progress(f"[images] {context.role:10} {tag:34} up to date ({short}, {time.monotonic() - started:.1f} s)")
        return False
    progress(f"[images] {context.role:10} {tag:34} building ({short})")
    previous = local_image(client, tag)
    build_context(client, context.path, tag, {HASH_LABEL: context.content_hash}, buildargs, progress, dockerfile)
    _drop_if_dangling(client, previous)
    elapsed, size = time.monotonic() - started, image_size_mb(client, tag)
    progress(f"[images] {context.role:10} {tag:34} built in {elapsed:.1f} s, {size:.0f} MB")
    return True


def _drop_if_dangling(client: Any, image: Any | None) -> None:
    """Remove the image a rebuild replaced, unless a container or another tag still uses it."""
    if image is None:
        return
    image.reload()
    if not image.tags:
        with contextlib.suppress(docker_sdk().errors.APIError):
            client.images.remove(image.id, noprune=False)


def ensure_user_image(
    client: Any, name: str, context: Path, dockerfile: str, buildargs: dict[str, str], progress: Progress
) -> str:
    """A service's own image, built from its Dockerfile (never pulling: FROM an image the engine holds, such as the
    harness's service image) unless the content hash of its context, Dockerfile and build args is unchanged."""
    tag = "adc/user-" + re.sub(r"[^a-z0-9_.-]+", "-", name.lower()).strip("-.")
    salt = (dockerfile, *(f"{k}={v}" for k, v in sorted(buildargs.items())))
    with exclusive(user_cache_dir() / "images.lock"):
        ensure_image(
            client, tag, lambda: Context(name, context, tree_hash(context, *salt)), buildargs, progress, dockerfile
        )
    return tag
