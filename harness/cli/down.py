"""`harness down`: remove what container stacks left behind. Ryuk cannot run without a registry, so the harness
reaps by label: by default the stacks whose owning process is gone (a killed `harness up` or test run);
with --all every container, network and volume labelled org.adc.harness=1, running stacks included."""

from __future__ import annotations

import argparse


def register_cli(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "down", help="remove containers, networks and volumes left by killed stacks", description=__doc__
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--all", action="store_true", help="remove every stack the harness labelled, even one still running"
    )
    which.add_argument("--stack", metavar="ID", help="remove one stack (its label org.adc.stack=ID)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from harness.images.engine import connect
    from harness.stack.containers.engine import find_stacks, reap

    client = connect()
    try:
        removed = reap(client, everything=args.all, stack_id=args.stack)
        running = find_stacks(client)
    finally:
        client.close()
    for leftover in removed:
        print(f"removed {leftover.describe()}")
    if not removed:
        print(f"nothing to remove{f' for stack {args.stack}' if args.stack else ''}")
    for leftover in running.values():
        print(f"left running: stack {leftover.stack} (owner {leftover.owner} is alive); --all removes it too")
    return 0
