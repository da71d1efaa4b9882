"""`harness install toxiproxy`: build the pinned Toxiproxy into the per-user cache (idempotent)."""

from __future__ import annotations

import argparse

from harness.faults.toxiproxy_install import VERSION, install


def register_cli(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("install", help="build a tool the harness needs and PyPI does not ship (Toxiproxy)")
    parser.add_argument("tool", choices=("toxiproxy",), help="what to install")
    parser.add_argument("--version", dest="tool_version", default=VERSION, help=f"the tag to build (default {VERSION})")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    built = install(args.tool_version, progress=lambda line: print(f"harness install: {line}", flush=True))
    print(built.server)
    return 0
