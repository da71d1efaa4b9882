"""A second implementation of the async-download pattern, different from the reference on purpose.

It spells everything its own way (`/api/jobs`, `file_ids`, `id`, `state`: pending/processing/done/error, 200 on
initiate, 404 while not ready, SSE events `connected`/`progress`/`done`, a `request_id` header for idempotency,
bytes served by the download endpoint itself, plain JSON errors) and lacks cancel and the legacy start. Its
store is a dict, its workers one background task loop. It has ONE defect, the kind code review misses: the
idempotency check and the insert are separated by an await (the store round trip), so concurrent retries with
one request_id each create a job. Sequential retries are fine.

    python -m tests.conformance.other_impl --port 8123 [--time-scale 0.05]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

SECONDS_PER_FILE = 10.0  # modelled; a job lasts 10 s per file, 10-120 s
HEARTBEAT_S = 5.0  # modelled seconds between keep-alive comments on an idle stream
STORE_RTT_S = 0.1  # real seconds: the store write that the idempotency check does not cover
TERMINAL = ("done", "error")


@dataclass
class Job:
    id: str
    file_ids: list[int]
    duration_s: float
    created: float = field(default_factory=time.monotonic)
    state: str = "pending"
    percent: float = 0.0
    tries: int = 0
    sha256: str | None = None
    size: int | None = None
    log: list[tuple[int, str, str]] = field(default_factory=list)

    def body(self) -> dict[str, Any]:
        done = self.state == "done"
        return {
            "id": self.id,
            "state": self.state,
            "percent": round(self.percent, 1),
            "tries": self.tries,
            "file_count": len(self.file_ids),
            "files_done": int(len(self.file_ids) * self.percent / 100),
            "sha256": self.sha256,
            "bytes": self.size,
            "url": f"/api/jobs/{self.id}/file" if done else None,
            "failure": None,
            "poll_after_ms": None if self.state in TERMINAL else 500,
        }


def artifact(file_ids: list[int]) -> bytes:
    return b"".join(hashlib.sha512(f"other:{fid}".encode()).digest() * 8 for fid in file_ids)


class Store:
    """Jobs in memory; `changed` is set (and replaced) whenever any job moves, waking every open stream."""

    def __init__(self, scale: float) -> None:
        self.scale = scale
        self.jobs: dict[str, Job] = {}
        self.by_request: dict[str, str] = {}
        self.changed = asyncio.Event()

    async def create(self, file_ids: list[int], request_id: str | None) -> Job:
        if request_id and request_id in self.by_request:
            return self.jobs[self.by_request[request_id]]
        duration = min(120.0, SECONDS_PER_FILE * len(file_ids)) * self.scale
        job = Job(uuid.uuid4().hex, file_ids, duration)
        await asyncio.sleep(STORE_RTT_S)  # persisting the job; other requests run meanwhile
        self.jobs[job.id] = job
        if request_id:
            self.by_request[request_id] = job.id
        await self.emit(job, "progress")
        return job

    async def emit(self, job: Job, name: str) -> None:
        seq = len(job.log) + 1
        job.log.append((seq, name, json.dumps(job.body())))
        changed, self.changed = self.changed, asyncio.Event()
        changed.set()

    async def run(self) -> None:
        """The workers: one loop that moves every unfinished job on, a tick at a time."""
        tick = max(0.02, 0.5 * self.scale)
        while True:
            await asyncio.sleep(tick)
            for job in list(self.jobs.values()):
                await self.advance(job)

    async def advance(self, job: Job) -> None:
        if job.state in TERMINAL:
            return
        elapsed = time.monotonic() - job.created
        if job.state == "pending":
            job.state, job.tries = "processing", 1
        job.percent = min(100.0, 100 * elapsed / job.duration_s)
        if job.percent < 100:
            await self.emit(job, "progress")
            return
        data = artifact(job.file_ids)
        job.state, job.sha256, job.size = "done", hashlib.sha256(data).hexdigest(), len(data)
        await self.emit(job, "done")


def error(code: int, what: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": what, "message": message, **extra}, status_code=code)


def parse_file_ids(raw: bytes) -> list[int] | JSONResponse:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return error(400, "invalid_json", "the body is not JSON")
    ids = data.get("file_ids") if isinstance(data, dict) else None
    if not isinstance(ids, list) or not 1 <= len(ids) <= 500:
        return error(422, "invalid", "file_ids must be a list of 1-500 ids", field="file_ids")
    if not all(isinstance(i, int) and not isinstance(i, bool) and i >= 1 for i in ids):
        return error(422, "invalid", "every file id is a positive integer", field="file_ids")
    return ids


def create_app(scale: float) -> FastAPI:
    store = Store(scale)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loop = asyncio.create_task(store.run())
        try:
            yield
        finally:
            loop.cancel()

    app = FastAPI(lifespan=lifespan)
    app.state.store = store
    _routes(app, store)
    return app


def _routes(app: FastAPI, store: Store) -> None:
    @app.post("/api/jobs")
    async def initiate(request: Request) -> Response:
        ids = parse_file_ids(await request.body())
        if isinstance(ids, JSONResponse):
            return ids
        job = await store.create(ids, request.headers.get("request_id"))
        return JSONResponse(job.body())

    @app.get("/api/jobs/{job_id}")
    async def status(job_id: str) -> Response:
        job = store.jobs.get(job_id)
        return JSONResponse(job.body()) if job else error(404, "not_found", f"no job {job_id[:40]}")

    @app.get("/api/jobs/{job_id}/file")
    async def download(job_id: str) -> Response:
        job = store.jobs.get(job_id)
        if job is None or job.state != "done":
            return error(404, "not_ready" if job else "not_found", "no file (yet)")
        return Response(artifact(job.file_ids), media_type="application/octet-stream")

    @app.get("/api/jobs/{job_id}/events")
    async def events(job_id: str, request: Request) -> Response:
        job = store.jobs.get(job_id)
        if job is None:
            return error(404, "not_found", f"no job {job_id[:40]}")
        raw = request.headers.get("last-event-id")
        if raw is not None and not raw.isdigit():
            return error(400, "invalid", "Last-Event-ID is a number", field="Last-Event-ID")
        after = int(raw) if raw is not None else None
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(_stream(store, job, after), media_type="text/event-stream", headers=headers)

    @app.get("/healthz")
    async def health() -> Response:
        return JSONResponse({"ok": True})


async def _stream(store: Store, job: Job, after: int | None) -> AsyncIterator[bytes]:
    if after is None:
        last = len(job.log) - (1 if job.state in TERMINAL else 0)
        yield _event(last, "connected", json.dumps(job.body()))
        after = last
    while True:
        changed = store.changed  # taken before reading the log, so no move is missed
        for seq, name, data in job.log[after:]:
            yield _event(seq, name, data)
            after = seq
            if name in TERMINAL:
                return
        try:
            await asyncio.wait_for(changed.wait(), HEARTBEAT_S * store.scale)
        except TimeoutError:
            yield b": keepalive\n\n"


def _event(seq: int, name: str, data: str) -> bytes:
    return f"id: {seq}\nevent: {name}\ndata: {data}\n\n".encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--time-scale", type=float, default=float(os.environ.get("HARNESS_TIME_SCALE") or 1.0))
    args = parser.parse_args()
    uvicorn.run(create_app(args.time_scale), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
