"""`harness images build|list`: make the stack's images, show which ones a stack would run."""

from __future__ import annotations

import argparse

from harness.images.build import build_images
from harness.images.engine import HASH_LABEL, connect, local_image
from harness.images.names import ROLES, ImageSet, env_var, resolve_images


def register_cli(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `images build` and `images list`; each sets `handler(args) -> int` (HarnessError propagates)."""
    images = subparsers.add_parser("images", help="build or list the container images of a stack")
    commands = images.add_subparsers(dest="images_command", required=True)
    build = commands.add_parser("build", help="build the images (cached by content hash; nothing is pulled)")
    build.add_argument("--offline", action="store_true", help="build local equivalents from Debian packages")
    _name_flags(build)
    build.set_defaults(handler=_build)
    listing = commands.add_parser("list", help="show the images a stack would run and whether they are present")
    mode = listing.add_mutually_exclusive_group()
    mode.add_argument("--offline", action="store_true", default=None, help="the local images")
    mode.add_argument("--registry", dest="offline", action="store_false", help="the official images")
    _name_flags(listing)
    listing.set_defaults(handler=_list)


def _name_flags(parser: argparse.ArgumentParser) -> None:
    for role in ROLES:
        parser.add_argument(f"--{role}", metavar="NAME", help=f"image name for {role} (env {env_var(role)})")


def _chosen(args: argparse.Namespace) -> ImageSet:
    return resolve_images(args.offline, {role: getattr(args, role) for role in ROLES})


def _build(args: argparse.Namespace) -> int:
    build_images(bool(args.offline), progress=lambda line: print(line, flush=True), images=_chosen(args))
    return 0


def _list(args: argparse.Namespace) -> int:
    images, client = _chosen(args), connect()
    try:
        print(f"{'role':10} {'image':34} {'present':8} {'size':>8}  content hash")
        for role, name in images.items():
            image = local_image(client, name)
            if image is None:
                print(f"{role:10} {name:34} {'no':8} {'-':>8}  -")
                continue
            labels = image.attrs.get("Config", {}).get("Labels") or {}
            size = float(image.attrs.get("Size", 0)) / 1e6
            print(f"{role:10} {name:34} {'yes':8} {size:6.0f} MB  {str(labels.get(HASH_LABEL, '-'))[:12]}")
    finally:
        client.close()
    return 0
