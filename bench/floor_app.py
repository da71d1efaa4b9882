"""The floor: the least a FastAPI endpoint on this stack can do for a status read.

One route, one Redis HGETALL of a pre-created hash, the hash returned as JSON; served by uvicorn with the
options the reference API uses (uvloop, httptools, no access log). The bench compares the service's status
endpoint with it, so the gap is the service's own work, not the framework's or Redis's.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import AsyncIterator

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from redis.asyncio import Redis


def create_app(redis_url: str, prefix: str) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.redis = Redis.from_url(redis_url, decode_responses=True, max_connections=512)
        try:
            yield
        finally:
            await app.state.redis.aclose()

    app = FastAPI(title="floor", lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/floor/{item}")
    async def floor(item: str, request: Request) -> JSONResponse:
        return JSONResponse(await request.app.state.redis.hgetall(prefix + item))

    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="floor_app", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--prefix", default="floor:", help="GET /floor/{item} reads the hash <prefix><item>")
    args = parser.parse_args(argv)
    uvicorn.run(
        create_app(args.redis_url, args.prefix),
        host=args.host,
        port=args.port,
        log_level="warning",
        timeout_graceful_shutdown=1,
        access_log=False,
        loop="uvloop",
        http="httptools",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
