"""The HTTP API: initiate, status, SSE stream, download, cancel, the legacy synchronous start, health, as
module-level handlers on one `APIRouter` that `create_app` includes (creating a job, step by step: `creation`)."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Annotated

from bullmq import Queue
from fastapi import APIRouter, FastAPI, Path, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from sse_starlette import EventSourceResponse
from starlette.convertors import StringConvertor, register_url_convertor

from reference_service import storage
from reference_service.creation import build_job, create_job, enqueue_job, parse_initiate
from reference_service.docs import DOCS, JOB_ID_PATTERN, JOB_ID_SCHEMA, document_components
from reference_service.jobs import IllegalTransition, JobStatus, JobStore, Keys, now_ms
from reference_service.problems import Problem, invalid, problem_handler, redis_down_handler
from reference_service.redis_conn import REDIS_DOWN, connect
from reference_service.settings import Settings
from reference_service.streaming import Notifier, job_events, wait_terminal
from reference_service.views import effective_status, initiate_body, status_body

JOB_ID = re.compile(JOB_ID_PATTERN)  # the documented pattern is the one enforced
NO_STORE = {"Cache-Control": "no-store"}
# A job id path parameter: checked by `_job_id` (a 400 problem, not FastAPI's 422), documented as what it checks.
JobId = Annotated[str, Path(description="the job's id, a UUID", json_schema_extra=JOB_ID_SCHEMA)]
router = APIRouter()


class _DownloadJobId(StringConvertor):
    """The `{job_id}` of /v1/download/{job_id}: one segment, but not the name of a path of its own beside it. So
    GET /v1/download/initiate is what OpenAPI reads it as, a method that POST-only path does not allow (405, and
    its Allow), not the download of a job named "initiate" (which the template alone would make it: a 400)."""

    regex = r"(?!(?:initiate|start)\Z)[^/]+"


register_url_convertor("download_job_id", _DownloadJobId())


@dataclass
class Runtime:
    """What the lifespan opens and the handlers use."""

    settings: Settings
    store: JobStore
    queue: Queue
    notifier: Notifier


def rt(request: Request) -> Runtime:
    """The runtime of the app serving `request`."""
    runtime: Runtime = request.app.state.runtime
    return runtime


def _lifespan(settings: Settings) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
    """Open the Redis clients, the queue and the notifier for the app's life, and close them after it."""

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

    return lifespan


def create_app(settings: Settings | None = None) -> FastAPI:
    """The service's app: the routes, the problem+json error handlers, an OpenAPI document true to both."""
    settings = settings or Settings.from_env()
    app = FastAPI(
        title="Reference async download service",
        version="1.0.0",
        lifespan=_lifespan(settings),
        description="Initiate a long job, follow it by polling or SSE, download a signed URL.",
    )
    app.add_exception_handler(Problem, problem_handler)
    for exc_type in REDIS_DOWN:
        app.add_exception_handler(exc_type, redis_down_handler)
    app.include_router(router)
    document_components(app)
    return app


def _job_id(raw: str) -> str:
    """The job id a path names, lowercased, or a 400 problem: an id that is not a UUID never reaches Redis."""
    job_id = raw.lower()
    if not JOB_ID.fullmatch(job_id):  # not `match`: its `$` lets a trailing newline through
        raise invalid("jobId", "uuid", f"{raw[:80]!r} is not a job id (a UUID like 0190b6e2-...)")
    return job_id


async def _existing(store: JobStore, raw: str) -> dict[str, str]:
    """The record of the job a path names, or a 404 problem."""
    h = await store.get(_job_id(raw))
    if not h:
        raise Problem(404, "Not Found", f"no job {raw}; it never existed or its record has been purged")
    return h


def _redis_budget(s: Settings) -> float:
    """All the Redis time of a short route that makes several calls: what one call may take (two tries, see
    Settings.redis_socket_timeout), so an outage still turns into a 503 (TimeoutError is an OSError, one of
    REDIS_DOWN) before the front's read timeout turns it into a 504."""
    return 2 * s.redis_socket_timeout + 0.05


async def _create(request: Request) -> dict[str, str]:
    """Initiate, in its four steps: parse the request, build the job's record, write it (or find the job its
    clientRequestId already names), enqueue it. Shared by initiate and the legacy start."""
    r = rt(request)
    req = await parse_initiate(request, r.settings)
    fields = build_job(req, r.settings)
    h = await create_job(r.store, fields, req.clientRequestId, r.settings)
    await enqueue_job(r.queue, h, req.priority, r.settings)
    return h


@router.post("/v1/download/initiate", status_code=202, **DOCS["initiate"])
async def initiate_job(request: Request) -> JSONResponse:
    """Start a job and answer at once with its id and where to follow it: the asynchronous flow's entry."""
    async with asyncio.timeout(_redis_budget(rt(request).settings)):
        h = await _create(request)
    body = initiate_body(h, rt(request).settings)
    return JSONResponse(body, status_code=202, headers={"Location": body["statusUrl"], **NO_STORE})


@router.get("/v1/download/status/{job_id}", **DOCS["status"])
async def job_status(job_id: JobId, request: Request) -> JSONResponse:
    """The job's current state, for clients that poll."""
    h = await _existing(rt(request).store, job_id)
    return JSONResponse(status_body(h, rt(request).settings), headers=NO_STORE)


@router.get("/v1/download/stream/{job_id}", response_class=EventSourceResponse, **DOCS["stream"])
async def job_stream(job_id: JobId, request: Request) -> Response:
    """The job's states as server-sent events, for clients that would rather be told; resumable by event id."""
    r = rt(request)
    h = await _existing(r.store, job_id)
    raw = request.headers.get("last-event-id") or request.query_params.get("lastEventId")
    if raw is not None and not raw.isdigit():
        raise invalid("Last-Event-ID", "integer", f"{raw[:40]!r} is not an event id (a non-negative integer)")
    if raw and JobStatus(h["status"]).terminal and int(raw) >= int(h.get("seq", "0")):
        # The client already has the terminal event (its id is the job's last seq): nothing will ever follow.
        # 204 tells an EventSource to stop reconnecting; a stream held open would idle until the client gave up.
        return Response(status_code=204, headers=NO_STORE)
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


@router.get(
    "/v1/download/{job_id:download_job_id}", status_code=302, response_class=RedirectResponse, **DOCS["download"]
)
async def download_job(job_id: JobId, request: Request) -> Response:
    """A completed job's artifact, as a redirect to a signed, expiring URL; the current state if not ready."""
    r = rt(request)
    h = await _existing(r.store, job_id)
    state = effective_status(h)
    if state is JobStatus.EXPIRED:
        raise Problem(410, "Gone", f"job {h['jobId']} has expired; initiate it again")
    if state is not JobStatus.COMPLETED:
        return JSONResponse(status_body(h, r.settings), status_code=409, headers=NO_STORE)
    url = storage.signed_url(h["jobId"], r.settings.signing_secret, r.settings.scaled(r.settings.url_ttl_s))
    return RedirectResponse(url, status_code=302, headers=NO_STORE)


@router.get("/artifacts/{name}", response_class=FileResponse, **DOCS["artifact"])
async def serve_artifact(name: str, request: Request) -> Response:
    """The artifact's bytes behind a signed link, the same check nginx secure_link makes when a front serves it."""
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


@router.post("/v1/download/cancel/{job_id}", **DOCS["cancel"])
async def cancel_job(job_id: JobId, request: Request) -> JSONResponse:
    """Cancel a live job (200), or say it had already ended (409); either way, its state as it now stands."""
    r = rt(request)
    async with asyncio.timeout(_redis_budget(r.settings)):
        h = await _existing(r.store, job_id)
        with contextlib.suppress(IllegalTransition):
            await r.store.transition(h["jobId"], JobStatus.CANCELLED, {"completedAt": now_ms()})
        h = await r.store.get(h["jobId"])
    code = 200 if h["status"] == JobStatus.CANCELLED.value else 409
    return JSONResponse(status_body(h, r.settings), status_code=code, headers=NO_STORE)


@router.post("/v1/download/start", **DOCS["start"])
async def legacy_start(request: Request) -> Response:
    """The synchronous flow the asynchronous one replaces: the request is held until the job ends, so a proxy's
    read timeout can cut it off; kept to show why the asynchronous flow exists."""
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


@router.get("/health", **DOCS["health"])
async def health(request: Request) -> JSONResponse:
    """Liveness and Redis reachability, for fronts' and orchestrators' probes."""
    try:
        await rt(request).store.redis.ping()
    except REDIS_DOWN as exc:
        return JSONResponse(
            {"status": "unavailable", "redis": type(exc).__name__},
            status_code=503,
            headers={"Retry-After": "1", **NO_STORE},
        )
    return JSONResponse({"status": "ok", "redis": "ok"}, headers=NO_STORE)
