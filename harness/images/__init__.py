"""Container images of a stack: official ones with a registry, local equivalents built offline.

images = resolve_images(offline=None)      # names a stack should run (env/flags override)
if not images_present(images):
    images = build_images(offline=True)    # cached by content hash; seconds when nothing changed
"""

from __future__ import annotations

from harness.images.build import build_images
from harness.images.engine import HASH_LABEL, EngineUnavailable, ImageBuildError
from harness.images.names import OFFLINE_IMAGES, REGISTRY_IMAGES, ImageSet, images_present, resolve_images

__all__ = [
    "HASH_LABEL",
    "OFFLINE_IMAGES",
    "REGISTRY_IMAGES",
    "EngineUnavailable",
    "ImageBuildError",
    "ImageSet",
    "build_images",
    "images_present",
    "resolve_images",
]
