"""Which image each part of a stack runs: official images with a registry, local builds without one."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace

from harness.core.errors import ConfigError
from harness.images.engine import EngineUnavailable, connect, local_image

ROLES = ("redis", "nginx", "toxiproxy", "service")
OFFLINE_ENV = "HARNESS_IMAGES_OFFLINE"


@dataclass(frozen=True)
class ImageSet:
    """The four image names a stack runs; any of them may be overridden by env or CLI flag."""

    redis: str
    nginx: str
    toxiproxy: str
    service: str

    def items(self) -> list[tuple[str, str]]:
        return [(f.name, getattr(self, f.name)) for f in fields(self)]


REGISTRY_IMAGES = ImageSet(
    redis="redis:7",
    nginx="nginx:1.27",
    toxiproxy="ghcr.io/shopify/toxiproxy:2.12.0",
    service="adc/service:slim",
)
OFFLINE_IMAGES = ImageSet(redis="adc/redis", nginx="adc/nginx", toxiproxy="adc/toxiproxy", service="adc/service")


def env_var(role: str) -> str:
    return f"HARNESS_IMAGE_{role.upper()}"


def _flag(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{OFFLINE_ENV}={raw!r} is not a flag; use 1 (local images) or 0 (official images)")


def with_overrides(
    images: ImageSet, overrides: Mapping[str, str | None] | None = None, env: Mapping[str, str] | None = None
) -> ImageSet:
    """Apply HARNESS_IMAGE_<ROLE> from `env`, then explicit `overrides` (CLI flags) on top."""
    env = os.environ if env is None else env
    names = {role: env[env_var(role)] for role in ROLES if env.get(env_var(role))}
    names.update({role: name for role, name in (overrides or {}).items() if name})
    unknown = sorted(set(names) - set(ROLES))
    if unknown:
        raise ConfigError(f"unknown image role(s) {unknown}; the roles are {list(ROLES)}")
    return replace(images, **names)


def resolve_images(
    offline: bool | None = None,
    overrides: Mapping[str, str | None] | None = None,
    env: Mapping[str, str] | None = None,
) -> ImageSet:
    """The images a stack should run.

    `offline=None` decides from the environment: HARNESS_IMAGES_OFFLINE when set, otherwise the local
    images when all four are already in the engine (after `harness images build --offline`), else the
    official ones.
    """
    env = os.environ if env is None else env
    local = with_overrides(OFFLINE_IMAGES, overrides, env)
    if offline is None and env.get(OFFLINE_ENV):
        offline = _flag(env[OFFLINE_ENV])
    if offline is None:
        offline = images_present(local)
    return local if offline else with_overrides(REGISTRY_IMAGES, overrides, env)


def images_present(images: ImageSet) -> bool:
    """True when the engine holds every image of the set (False too when no engine answers)."""
    try:
        client = connect()
    except EngineUnavailable:
        return False
    try:
        return all(local_image(client, name) is not None for _, name in images.items())
    finally:
        client.close()
