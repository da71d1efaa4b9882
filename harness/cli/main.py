"""`harness`: boot stacks, run workloads and faults, judge histories, build images and reports."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable

from harness.core.errors import HarnessError
from harness.core.extras import missing_extra

# Subcommands living in their own modules; each module offers register_cli(subparsers).
COMMAND_MODULES = (
    "harness.cli.up",
    "harness.cli.down",
    "harness.cli.check",
    "harness.cli.images",
    "harness.cli.conformance",
    "harness.cli.compare",
    "harness.cli.boundary",
    "harness.cli.report",
    "harness.cli.chaos",
    "harness.cli.locust",
    "harness.cli.doctor",
    "harness.cli.install",
    "harness.cli.init",
)


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("async-download-chaos")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        import harness

        return harness.__version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="harness", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        importlib.import_module(module).register_cli(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except ModuleNotFoundError as exc:
        missing = missing_extra(exc)
        if missing is None:
            raise
        print(f"harness {args.command}: {missing}", file=sys.stderr)
        return 2
    except HarnessError as exc:
        print(f"harness {args.command}: {exc}", file=sys.stderr)
        for note in getattr(exc, "__notes__", ()):
            print(note, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
