"""The HTTP API: initiate, status, SSE stream, download, cancel, the legacy synchronous start, health."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from bullmq import Queue
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from pydantic import ValidationError
from sse_starlette import EventSourceResponse

from reference_service import jobs, storage
from reference_service.docs import DOCS
from reference_service.jobs import IllegalTransition, JobStatus, JobStore, Keys, now_ms
from reference_service.models import InitiateRequest, ProblemBody
from reference_service.problems import Problem, invalid, problem_handler, redis_down_handler, validation_errors
from reference_service.redis_conn import REDIS_DOWN, connect
from reference_service.settings import Settings
from reference_service.streaming import Notifier, job_events, wait_terminal
from reference_service.views import effective_status, initiate_body, status_body

JOB_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
NO_STORE = {"Cache-Control": "no-store"}


@dataclass
class Runtime:
    """What the lifespan opens and the handlers use."""

    settings: Settings
    store: JobStore
    queue: Queue
    notifier: Notifier


def rt(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        keys = Keys(settings.key_prefix)
        redis = connect(settings.redis_url, socket_timeout=settings.redis_socket_timeout)
        # bullmq's own client retries for up to minutes; give it ours, so an outage is a prompt 503 here too.
        queue_redis = connect(settings.redis_url, socket_timeout=settings.redis_socket_timeout, decode_responses=True)
        queue = Queue(settings.queue_name, {"connection": queue_redis, "prefix": "bull"})
        notifier = Notifier(settings.redis_url, keys.channel)
        app.state.runtime = Runtime(settings, JobStore(redis, keys), queue, notifier)
        listener = asyncio.create_task(notifier.run())
        try:
            yield
        finally:
            listener.cancel()
            with contextlib.suppress(Exception):
                await queue.close()
            with contextlib.suppress(Exception):
                await redis.aclose()

    app = FastAPI(
        title="Reference async download service",
        version="1.0.0",
        lifespan=lifespan,
        description="Initiate a long job, follow it by polling or SSE, download a signed URL.",
    )
    app.add_exception_handler(Problem, problem_handler)
    for exc_type in REDIS_DOWN:
        app.add_exception_handler(exc_type, redis_down_handler)
    _routes(app)
    _document_problems(app)
    return app


def _document_problems(app: FastAPI) -> None:
    """Add the problem+json schema that every 4xx/503 entry of the OpenAPI document refers to."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = ProblemBody.model_json_schema()
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _job_id(raw: str) -> str:
    job_id = raw.lower()
    if not JOB_ID.match(job_id):
        raise invalid("jobId", "uuid", f"{raw[:80]!r} is not a job id (a UUID like 0190b6e2-...)")
    return job_id


async def _existing(store: JobStore, raw: str) -> dict[str, str]:
    h = await store.get(_job_id(raw))
    if not h:
        raise Problem(404, "Not Found", f"no job {raw}; it never existed or its record has been purged")
    return h


async def _parse_initiate(request: Request, settings: Settings) -> InitiateRequest:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json" and not ctype.endswith("+json"):
        raise Problem(
            415,
            "Unsupported Media Type",
            f"content-type {ctype or '(none)'!r}: send application/json",
            errors=[{"field": "content-type", "rule": "json", "message": "expected application/json"}],
        )
    raw = await request.body()
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise invalid("(body)", "json", f"the body is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise invalid("(body)", "object", f"the body must be a JSON object, got {type(data).__name__}")
    try:
        req = InitiateRequest.model_validate(data)
    except ValidationError as exc:
        errors = validation_errors(exc)
        raise Problem(
            400, "Bad Request", "; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors
        ) from None
    if req.simulate is not None and not settings.test_controls:
        raise invalid(
            "simulate",
            "test_controls",
            "test controls are off; start the service with REFERENCE_TEST_CONTROLS=1 to use simulate",
        )
    return req


def _redis_budget(s: Settings) -> float:
    """All the Redis time of a short route that makes several calls: what one call may take (two tries, see
    Settings.redis_socket_timeout), so an outage still turns into a 503 (TimeoutError is an OSError, one of
    REDIS_DOWN) before the front's read timeout turns it into a 504."""
    return 2 * s.redis_socket_timeout + 0.05


async def _create(request: Request) -> dict[str, str]:
    r = rt(request)
    s = r.settings
    req = await _parse_initiate(request, s)
    job_id, now = jobs.uuid7(), now_ms()
    ttl_ms = s.scaled_ms(s.job_ttl_s)
    fields: dict[str, Any] = {
        "jobId": job_id,
        "status": JobStatus.QUEUED.value,
        "fileIds": json.dumps(req.fileIds),
        "totalFiles": len(req.fileIds),
        "progress": 0,
        "completedFiles": 0,
        "attempts": 0,
        "createdAt": now,
        "updatedAt": now,
        "expiresAt": now + ttl_ms,
        "priority": req.priority,
        "clientRequestId": req.clientRequestId or "",
        "simulate": req.simulate.model_dump_json(exclude_none=True) if req.simulate else "",
    }
    crid = None if s.ignore_client_request_id else req.clientRequestId
    # The record outlives the TTL for a while, so a late client learns "expired" (410), not "unknown" (404).
    keep_ms = ttl_ms + max(ttl_ms, s.scaled_ms(3600))
    created, found = await r.store.create(job_id, fields, keep_ms, crid, idempotency_ttl_ms=ttl_ms)
    h = fields if created else await r.store.get(found)
    if h and h["status"] == JobStatus.QUEUED.value:
        # Enqueue also on a replay: adding an existing bullmq job id is a no-op, and it heals a creator that
        # died between writing the job and enqueueing it.
        opts: dict[str, Any] = {
            "jobId": h["jobId"],
            "attempts": s.max_attempts * 3,
            "backoff": {"type": "custom"},
            "removeOnComplete": True,
            "removeOnFail": True,
        }
        if req.priority == "low":
            opts["priority"] = 10
        await r.queue.add("download", {"jobId": h["jobId"]}, opts)
    return {k: str(v) for k, v in h.items()}


def _routes(app: FastAPI) -> None:
    @app.post("/v1/download/initiate", status_code=202, **DOCS["initiate"])
    async def initiate(request: Request) -> JSONResponse:
        async with asyncio.timeout(_redis_budget(rt(request).settings)):
            h = await _create(request)
        body = initiate_body(h, rt(request).settings)
        return JSONResponse(body, status_code=202, headers={"Location": body["statusUrl"], **NO_STORE})

    @app.get("/v1/download/status/{job_id}", **DOCS["status"])
    async def status(job_id: str, request: Request) -> JSONResponse:
        h = await _existing(rt(request).store, job_id)
        return JSONResponse(status_body(h, rt(request).settings), headers=NO_STORE)

    @app.get("/v1/download/stream/{job_id}", **DOCS["stream"])
    async def stream(job_id: str, request: Request) -> EventSourceResponse:
        r = rt(request)
        h = await _existing(r.store, job_id)
        raw = request.headers.get("last-event-id") or request.query_params.get("lastEventId")
        if raw is not None and not raw.isdigit():
            raise invalid("Last-Event-ID", "integer", f"{raw[:40]!r} is not an event id (a non-negative integer)")
        events = job_events(
            h["jobId"],
            int(raw) if raw else None,
            r.store,
            r.notifier,
            r.settings.scaled(r.settings.heartbeat_s),
            lambda x: status_body(x, r.settings),
            current=h,
        )
        return EventSourceResponse(
            events,
            ping=0,  # the heartbeats come from `job_events` itself (one task less per held stream)
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @app.get("/v1/download/{job_id}", status_code=302, **DOCS["download"])
    async def download(job_id: str, request: Request) -> Response:
        r = rt(request)
        h = await _existing(r.store, job_id)
        state = effective_status(h)
        if state is JobStatus.EXPIRED:
            raise Problem(410, "Gone", f"job {h['jobId']} has expired; initiate it again")
        if state is not JobStatus.COMPLETED:
            return JSONResponse(status_body(h, r.settings), status_code=409, headers=NO_STORE)
        url = storage.signed_url(h["jobId"], r.settings.signing_secret, r.settings.scaled(r.settings.url_ttl_s))
        return RedirectResponse(url, status_code=302, headers=NO_STORE)

    @app.get("/artifacts/{name}", **DOCS["artifact"])
    async def artifact(name: str, request: Request) -> Response:
        s = rt(request).settings
        q = request.query_params
        verdict = storage.check_signature(request.url.path, q.get("md5"), q.get("expires"), s.signing_secret)
        if verdict == "invalid":
            raise Problem(403, "Forbidden", "the link's signature does not match; ask /v1/download/{jobId} again")
        if verdict == "expired":
            raise Problem(410, "Gone", "the link has expired; ask /v1/download/{jobId} for a fresh one")
        path = storage.artifact_path(s.artifact_dir, name.removesuffix(".bin"))
        if not name.endswith(".bin") or not path.is_file():
            raise Problem(404, "Not Found", f"no artifact {name}")
        return FileResponse(path, media_type="application/octet-stream")

    @app.post("/v1/download/cancel/{job_id}", **DOCS["cancel"])
    async def cancel(job_id: str, request: Request) -> JSONResponse:
        r = rt(request)
        async with asyncio.timeout(_redis_budget(r.settings)):
            h = await _existing(r.store, job_id)
            with contextlib.suppress(IllegalTransition):
                await r.store.transition(h["jobId"], JobStatus.CANCELLED, {"completedAt": now_ms()})
            h = await r.store.get(h["jobId"])
        code = 200 if h["status"] == JobStatus.CANCELLED.value else 409
        return JSONResponse(status_body(h, r.settings), status_code=code, headers=NO_STORE)

    @app.post("/v1/download/start", **DOCS["start"])
    async def start(request: Request) -> Response:
        r = rt(request)
        h = await _create(request)
        final = await wait_terminal(
            h["jobId"], r.store, r.notifier, r.settings.scaled(r.settings.heartbeat_s), request.is_disconnected
        )
        if final is None:
            return Response(status_code=499)
        if not final:
            raise Problem(410, "Gone", f"job {h['jobId']} expired while waiting")
        return JSONResponse(status_body(final, r.settings), headers=NO_STORE)

    @app.get("/health", **DOCS["health"])
    async def health(request: Request) -> JSONResponse:
        try:
            await rt(request).store.redis.ping()
        except REDIS_DOWN as exc:
            return JSONResponse(
                {"status": "unavailable", "redis": type(exc).__name__},
                status_code=503,
                headers={"Retry-After": "1", **NO_STORE},
            )
        return JSONResponse({"status": "ok", "redis": "ok"}, headers=NO_STORE)
