"""`harness up`: boot a stack, print where it listens, run until SIGINT/SIGTERM, then tear it down."""

from __future__ import annotations

import argparse
import json
import signal
import threading
from types import FrameType

from harness.stack import Stack
from harness.stack.flags import add_stack_flags, stack_config


def register_cli(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("up", help="boot a stack and keep it running until Ctrl-C", description=__doc__)
    add_stack_flags(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object with the URLs")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    config = stack_config(args)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    with Stack(config) as stack:
        ep = stack.endpoints
        if args.json:
            print(
                json.dumps(
                    {
                        **ep.as_dict(),
                        "proxy_config": config.proxy_config,
                        "time_scale": config.time_scale,
                        "components": stack.components(),
                        "pids": stack.pids(),
                    }
                ),
                flush=True,
            )
        else:
            print(
                f"stack up in {stack.boot_seconds:.2f} s  (front: {config.proxy_config}, "
                f"time scale {config.time_scale:g}, {config.workers} workers)"
            )
            for label, value in [
                ("edge (clients)", ep.edge_url),
                ("front nginx", ep.front_url),
                ("origin nginx", ep.origin_url),
                ("API", ep.api_url),
                ("Toxiproxy API", ep.toxiproxy_url),
                ("Redis", ep.redis_url),
                ("logs", ep.log_dir),
            ]:
                print(f"  {label:<15} {value}")
            print("Ctrl-C to stop.", flush=True)
        stop.wait()
    if not args.json:
        print("stack stopped; nothing left running.")
    return 0
