"""`python -m other_impl api --host H --port P` or `python -m other_impl worker --index N [--concurrency C]`.

The environment: REDIS_URL and ARTIFACT_DIR (required), OTHER_TIME_SCALE (default 1), OTHER_DEFECTS (see
defects.py; unset means racy_idempotency, `none` a clean implementation), OTHER_HEARTBEAT_S (default 5).
"""

from __future__ import annotations

import argparse
import sys

from . import defects
from .config import from_env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="other_impl", description=__doc__)
    roles = parser.add_subparsers(dest="role", required=True)
    api = roles.add_parser("api", help="the HTTP API")
    api.add_argument("--host", default="127.0.0.1")
    api.add_argument("--port", type=int, required=True)
    worker = roles.add_parser("worker", help="a worker")
    worker.add_argument("--index", type=int, required=True)
    worker.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args(argv)
    try:
        active = defects.active()
    except defects.UnknownDefect as exc:
        print(f"other_impl: {exc}", file=sys.stderr)
        return 2
    config = from_env()
    print(f"other_impl {args.role}: defects {', '.join(sorted(active)) or 'none'}", file=sys.stderr, flush=True)
    if args.role == "api":
        import uvicorn

        from .api import create_app

        uvicorn.run(
            create_app(config), host=args.host, port=args.port, log_level="warning", timeout_graceful_shutdown=2
        )
        return 0
    from .worker import run

    return run(config, args.index, args.concurrency)


if __name__ == "__main__":
    sys.exit(main())
