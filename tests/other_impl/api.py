"""The HTTP API: FastAPI over the Redis job store. It keeps no job state of its own; every answer is read from
Redis, whose unreachability is answered 503 with Retry-After, promptly.

    POST /api/jobs                    {"file_ids": [...]}, optional header Request-Id -> 200 status body
    GET  /api/jobs/{job_id}           the status body (the data of the job's latest event)
    POST /api/jobs/{job_id}/cancel    200 status body (state cancelled); 409 once the job finished
    GET  /api/jobs/{job_id}/events    SSE: `connected` snapshot, `progress`..., one terminal event, then closed
    GET  /api/jobs/{job_id}/file      the artifact's bytes once the job is done; 404 before
    GET  /healthz                     200 when Redis answers
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from redis import exceptions as rx
from redis.asyncio import Redis
from starlette.exceptions import HTTPException

from .config import RACY_ROUND_TRIP_S, Config, artifact_path
from .defects import defect
from .store import Entry, Store, connect

JOB_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")  # what create issues
TERMINAL_EVENTS = ("done", "error", "cancelled")
MAX_FILES = 500
MAX_REQUEST_ID = 200
RETRY_AFTER_S = "1"
_LEAKED: list[Redis] = []  # redis_client_leak: the streams' own clients, kept open for good


def error(code: int, what: str, message: str, **extra: Any) -> JSONResponse:
    headers = {"Retry-After": RETRY_AFTER_S} if code == 503 else None
    return JSONResponse({"error": what, "message": message, **extra}, status_code=code, headers=headers)


def _body(entry: Entry, code: int = 200) -> Response:
    return Response(entry.data, status_code=code, media_type="application/json")


def create_app(config: Config) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        hang = defect("hang_on_redis_down")
        timeout, retries = (None, 0) if hang else (0.5, 1)
        redis = connect(config.redis_url, "other-api", socket_timeout=timeout, retries=retries)
        app.state.store = Store(redis, config.timing, forever=hang)
        try:
            yield
        finally:
            await redis.aclose()

    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(rx.RedisError)
    async def unavailable(request: Request, exc: rx.RedisError) -> Response:
        return error(503, "unavailable", f"the job store is unreachable ({type(exc).__name__}); retry")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        what = "not_found" if exc.status_code == 404 else "http_error"
        return error(exc.status_code, what, str(exc.detail), path=request.url.path[:200])

    _routes(app, config)
    return app


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def _parse_file_ids(raw: bytes) -> list[int] | JSONResponse:
    if defect("bad_input_500"):
        data = json.loads(raw)  # raises on malformed JSON or bytes that are not UTF-8
        ids = data.get("file_ids")  # raises on a top-level array, null, number or string
    else:
        try:
            data = json.loads(raw)
        except ValueError:  # JSONDecodeError and UnicodeDecodeError
            return error(400, "invalid_json", "the body is not JSON (UTF-8)")
        if not isinstance(data, dict):
            return error(422, "invalid", 'the body is a JSON object: {"file_ids": [...]}', field="file_ids")
        ids = data.get("file_ids")
    if not isinstance(ids, list) or not 1 <= len(ids) <= MAX_FILES:
        return error(422, "invalid", f"file_ids must be a list of 1-{MAX_FILES} ids", field="file_ids")
    if not all(isinstance(i, int) and not isinstance(i, bool) and i >= 1 for i in ids):
        return error(422, "invalid", "every file id is a positive integer", field="file_ids")
    return ids


def _routes(app: FastAPI, config: Config) -> None:
    @app.post("/api/jobs")
    async def initiate(request: Request) -> Response:
        ids = _parse_file_ids(await request.body())
        if isinstance(ids, JSONResponse):
            return ids
        request_id = request.headers.get("request-id")
        if request_id is not None and not 1 <= len(request_id) <= MAX_REQUEST_ID:
            return error(400, "invalid", f"Request-Id is 1-{MAX_REQUEST_ID} characters", field="Request-Id")
        store = _store(request)
        ghost = defect("ghost_jobs") and await store.count_initiate() % 3 == 0
        if request_id and defect("racy_idempotency"):
            existing = await store.job_for_request(request_id)
            found = await store.last(existing) if existing else None
            if found is not None:
                return _body(found)
            await asyncio.sleep(RACY_ROUND_TRIP_S)  # the store round trip no check covers
            _, entry = await store.create(ids, request_id, check=False)
        else:
            _, entry = await store.create(ids, request_id)
        if ghost:
            return error(500, "internal", "the job could not be acknowledged")
        return _body(entry)

    @app.get("/api/jobs/{job_id}")
    async def status(job_id: str, request: Request) -> Response:
        if not JOB_ID.match(job_id):
            return error(404, "not_found", f"no job {job_id[:40]}")
        try:
            entry = await _store(request).last(job_id)
        except rx.RedisError as exc:
            if defect("status_500_on_redis_error"):
                raise RuntimeError(f"status of {job_id}: {exc}") from exc
            raise
        return _body(entry) if entry else error(404, "not_found", f"no job {job_id}")

    @app.post("/api/jobs/{job_id}/cancel")
    async def cancel(job_id: str, request: Request) -> Response:
        if not JOB_ID.match(job_id):
            return error(404, "not_found", f"no job {job_id[:40]}")
        outcome, entry = await _store(request).cancel(job_id)
        if outcome < 0 or entry is None:
            return error(404, "not_found", f"no job {job_id}")
        if outcome == 0:
            state = entry.state
            return error(409, "finished", f"the job is {state} already; only a running job is cancelled", state=state)
        return _body(entry)

    @app.get("/api/jobs/{job_id}/file")
    async def download(job_id: str, request: Request) -> Response:
        entry = await _store(request).last(job_id) if JOB_ID.match(job_id) else None
        if entry is None:
            return error(404, "not_found", f"no job {job_id[:40]}")
        if entry.state != "done":
            return error(404, "not_ready", f"the job is {entry.state}; its file is not ready", state=entry.state)
        if defect("unreachable_artifact"):
            return RedirectResponse(f"/files/{job_id}", status_code=302)
        path = artifact_path(config.artifact_dir, job_id)
        try:
            data = await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            return error(404, "not_ready", "the job is done but its file is missing", state=entry.state)
        headers = {"Content-Disposition": f'attachment; filename="{job_id}.bin"'}
        return Response(data, media_type="application/octet-stream", headers=headers)

    @app.get("/api/jobs/{job_id}/events")
    async def events(job_id: str, request: Request) -> Response:
        if not JOB_ID.match(job_id):
            return error(404, "not_found", f"no job {job_id[:40]}")
        raw = request.headers.get("last-event-id")
        if raw is not None and not (raw.isdigit() and len(raw) < 19):
            return error(400, "invalid", "Last-Event-ID is a non-negative integer", field="Last-Event-ID")
        store = _store(request)
        if defect("redis_client_leak"):
            own = Redis.from_url(
                config.redis_url, decode_responses=True, socket_timeout=0.5, client_name="other-api-stream"
            )
            _LEAKED.append(own)  # never closed
            store = Store(own, config.timing)
        last = await store.last(job_id)
        if last is None:
            return error(404, "not_found", f"no job {job_id}")
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        stream = _stream(store, job_id, last, None if raw is None else int(raw), config)
        return StreamingResponse(stream, media_type="text/event-stream", headers=headers)

    @app.get("/healthz")
    async def health(request: Request) -> Response:
        await _store(request).ping()
        return JSONResponse({"ok": True})


async def _stream(store: Store, job_id: str, last: Entry, after: int | None, config: Config) -> AsyncIterator[bytes]:
    """The SSE body: a snapshot first (unless resuming), then each new event of the log; a keep-alive comment on
    an idle stream every heartbeat; closed after the terminal event. Redis errors mid-stream are waited out."""
    timing = config.timing
    finished = last.event in TERMINAL_EVENTS
    if after is None:
        after = last.seq - 1 if finished else last.seq  # a finished job's stream replays its terminal event
        yield _event(after, "connected", last.data)
        if defect("early_stream_end"):
            return
    elif finished and after >= last.seq:
        return  # the client saw the end already
    after = min(after, last.seq)
    quiet_since = time.monotonic()
    while True:
        due = max(0.05, timing.heartbeat_s - (time.monotonic() - quiet_since))
        try:  # a slow Redis must not hold back the heartbeat
            fresh = await asyncio.wait_for(store.after(job_id, after), due)
        except (rx.RedisError, TimeoutError):
            fresh = []
        for entry in fresh:
            after = entry.seq
            if entry.event in TERMINAL_EVENTS and defect("no_terminal_event"):
                continue
            yield _event(entry.seq, entry.event, entry.data)
            if entry.event in TERMINAL_EVENTS or defect("early_stream_end"):  # a resumed stream ends early too
                return
        now = time.monotonic()
        if fresh:
            quiet_since = now
        elif now - quiet_since >= timing.heartbeat_s:
            yield b": keepalive\n\n"
            quiet_since = now
        await asyncio.sleep(min(timing.stream_poll_s, max(0.0, timing.heartbeat_s - (now - quiet_since))))


def _event(seq: int, name: str, data: str) -> bytes:
    return f"id: {seq}\nevent: {name}\ndata: {data}\n\n".encode()
