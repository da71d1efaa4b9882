"""What ties a container stack to the engine: its labels, which backend `auto` picks, and reaping leftovers.

Ryuk (testcontainers' reaper) cannot run without a registry, so the harness cleans up after itself by
label: every container, network and volume of a stack carries `org.adc.harness=1`, `org.adc.stack=<id>`
and `org.adc.owner=<host>:<pid>` (the process that booted it). A stack whose owner is gone is a leftover
of a killed run; `harness down` removes those, `harness down --all` everything the harness labelled.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.core.errors import StackStartError
from harness.images import EngineUnavailable, ImageSet, images_present, resolve_images
from harness.images.engine import connect, docker_sdk, local_image

HARNESS_LABEL = "org.adc.harness"
STACK_LABEL = "org.adc.stack"
OWNER_LABEL = "org.adc.owner"
COMPONENT_LABEL = "org.adc.component"


def owner_id(pid: int | None = None) -> str:
    return f"{socket.gethostname()}:{os.getpid() if pid is None else pid}"


def stack_labels(stack_id: str) -> dict[str, str]:
    return {HARNESS_LABEL: "1", STACK_LABEL: stack_id, OWNER_LABEL: owner_id()}


def owner_alive(owner: str) -> bool:
    """True while the owning process runs; an owner on another host is assumed alive (its pid means nothing here)."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed owner nobody has reaped yet is a zombie: gone all the same
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def choose_backend() -> tuple[str, str]:
    """`auto`: containers when an engine answers and the stack's images are in it, else local; and why."""
    try:
        connect().close()
    except EngineUnavailable as exc:
        return "local", f"{exc}"
    images = resolve_images()
    if not images_present(images):
        names = ", ".join(name for _, name in images.items())
        return "local", f"the engine lacks some of {names}; build them with `harness images build --offline`"
    return "containers", f"a Docker engine answers and {', '.join(n for _, n in images.items())} are present"


def engine_with_images(images: ImageSet | None = None) -> tuple[Any, ImageSet]:
    """A client of an engine that holds every image of the stack (a stack never pulls one), once the leftovers
    of killed runs are reaped (said on stderr)."""
    try:
        client = connect()
    except EngineUnavailable as exc:
        raise StackStartError(f"the containers backend needs a Docker engine: {exc}") from None
    images = images or resolve_images()
    missing = [name for _, name in images.items() if local_image(client, name) is None]
    if missing:
        client.close()
        raise StackStartError(
            f"image(s) {', '.join(missing)} are not in the engine and a stack never pulls; build them with "
            "`harness images build --offline` (or `docker pull` them where a registry answers)"
        )
    for leftover in reap(client):
        print(f"harness: removed the leftovers of a killed run: {leftover.describe()}", file=sys.stderr)
    return client, images


@dataclass
class Leftover:
    """Everything the engine holds for one stack id."""

    stack: str
    owner: str = "?"
    containers: list[Any] = field(default_factory=list)
    networks: list[Any] = field(default_factory=list)
    volumes: list[Any] = field(default_factory=list)

    def describe(self) -> str:
        parts = [f"{len(self.containers)} container(s)", f"{len(self.networks)} network(s)"]
        parts.append(f"{len(self.volumes)} volume(s)")
        names = [c.name for c in self.containers] + [n.name for n in self.networks] + [v.name for v in self.volumes]
        return f"stack {self.stack} (owner {self.owner}): {', '.join(parts)}: {' '.join(names)}"


def _labels(obj: Any) -> dict[str, str]:
    attrs = obj.attrs
    labels = attrs.get("Labels") if "Labels" in attrs else (attrs.get("Config") or {}).get("Labels")
    return dict(labels or {})


def find_stacks(client: Any, stack_id: str | None = None) -> dict[str, Leftover]:
    """Every labelled resource grouped by stack id (one stack only with `stack_id`)."""
    selector = [f"{HARNESS_LABEL}=1"] + ([f"{STACK_LABEL}={stack_id}"] if stack_id else [])
    found: dict[str, Leftover] = {}

    def add(kind: str, items: Iterable[Any]) -> None:
        for item in items:
            labels = _labels(item)
            entry = found.setdefault(labels.get(STACK_LABEL, "?"), Leftover(labels.get(STACK_LABEL, "?")))
            entry.owner = labels.get(OWNER_LABEL, entry.owner)
            getattr(entry, kind).append(item)

    add("containers", client.containers.list(all=True, filters={"label": selector}))
    add("networks", client.networks.list(filters={"label": selector}))
    add("volumes", client.volumes.list(filters={"label": selector}))
    return found


def remove_leftover(leftover: Leftover) -> None:
    """Containers first (with their anonymous volumes), then the volumes and networks they used."""
    for container in leftover.containers:
        with contextlib.suppress(docker_sdk().errors.NotFound):
            container.remove(force=True, v=True)
    for item in [*leftover.volumes, *leftover.networks]:
        with contextlib.suppress(docker_sdk().errors.NotFound):
            item.remove()


def reap(client: Any, *, everything: bool = False, stack_id: str | None = None) -> list[Leftover]:
    """Remove the stacks of dead owners (all labelled stacks with `everything`, or one stack); what was removed."""
    removed = []
    for leftover in find_stacks(client, stack_id).values():
        if everything or stack_id or not owner_alive(leftover.owner):
            remove_leftover(leftover)
            removed.append(leftover)
    return removed
