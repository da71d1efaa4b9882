"""Flags shared by every command that boots a stack, and the StackConfig they build."""

from __future__ import annotations

import argparse
from typing import Any

from harness.fronts.nginx import available_configs
from harness.stack.config import BACKENDS, StackConfig
from harness.stack.service import available_services

SERVICE_HELP = f"the service in the SUT slot: a spec file, or {' / '.join(available_services())} (the default)"


def add_stack_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--proxy-config", default=None, help=f"a named front ({', '.join(available_configs())}) or a path to a template"
    )
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default=None,
        help="where the stack runs: local processes (default), containers (Docker, after `harness images build "
        "--offline`), or auto (containers when the engine and images are there)",
    )
    parser.add_argument("--time-scale", default=None, help="multiply every duration (e.g. 0.05); default 1")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default 2)")
    parser.add_argument("--aof", choices=("always", "everysec", "off"), default=None, help="Redis persistence")
    parser.add_argument(
        "--service",
        default=None,
        metavar="SPEC",
        help=SERVICE_HELP,
    )


def stack_config(args: argparse.Namespace | Any) -> StackConfig:
    """The StackConfig of parsed stack flags (argparse's, or Locust's parsed options): flags over HARNESS_* env."""
    return StackConfig.from_env(
        proxy_config=args.proxy_config,
        backend=args.backend,
        time_scale=args.time_scale,
        workers=args.workers,
        aof=args.aof,
        service=getattr(args, "service", None),
    )
