"""Creating a job, step by step: parse the request, build the job's record, write it once (idempotently), hand
it to the queue.

Kept apart from the routes so each step can be read, and reasoned about under faults, on its own: the initiate
and the legacy start routes both go through `parse_initiate`, `build_job`, `create_job` and `enqueue_job`, in
that order.
"""

from __future__ import annotations

import json
from typing import Any

from bullmq import Queue
from fastapi import Request
from pydantic import ValidationError

from reference_service import jobs
from reference_service.jobs import JobStatus, JobStore, now_ms
from reference_service.models import InitiateRequest
from reference_service.problems import Problem, invalid, validation_errors
from reference_service.settings import Settings


async def parse_initiate(request: Request, settings: Settings) -> InitiateRequest:
    """The initiate body, checked by hand rather than by FastAPI so every refusal is a problem+json naming the
    field and the rule: 415 for a body that is not JSON, 400 for one that is not a valid request."""
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


def build_job(req: InitiateRequest, settings: Settings) -> dict[str, Any]:
    """The full record of a new, queued job: a fresh time-ordered id and every field a status body reads."""
    job_id, now = jobs.uuid7(), now_ms()
    return {
        "jobId": job_id,
        "status": JobStatus.QUEUED.value,
        "fileIds": json.dumps(req.fileIds),
        "totalFiles": len(req.fileIds),
        "progress": 0,
        "completedFiles": 0,
        "attempts": 0,
        "createdAt": now,
        "updatedAt": now,
        "expiresAt": now + settings.scaled_ms(settings.job_ttl_s),
        "priority": req.priority,
        "clientRequestId": req.clientRequestId or "",
        "simulate": req.simulate.model_dump_json(exclude_none=True) if req.simulate else "",
    }


async def create_job(
    store: JobStore, fields: dict[str, Any], client_request_id: str | None, settings: Settings
) -> dict[str, str]:
    """Write `fields` as a new job, unless `client_request_id` already names one: then that job, as
    stored, is the answer (a retried initiate gets the same job, not a second one). Values come back as strings,
    the way Redis holds them, whichever way it went."""
    ttl_ms = settings.scaled_ms(settings.job_ttl_s)
    crid = None if settings.ignore_client_request_id else client_request_id
    # The record outlives the TTL for a while, so a late client learns "expired" (410), not "unknown" (404).
    keep_ms = ttl_ms + max(ttl_ms, settings.scaled_ms(3600))
    created, found = await store.create(fields["jobId"], fields, keep_ms, crid, idempotency_ttl_ms=ttl_ms)
    h = fields if created else await store.get(found)
    return {k: str(v) for k, v in h.items()}


async def enqueue_job(queue: Queue, h: dict[str, str], priority: str, settings: Settings) -> None:
    """Hand a still-queued job to the workers. Also done on a replay: adding an existing bullmq job id is a no-op,
    and it heals a creator that died between writing the job and enqueueing it."""
    if not h or h["status"] != JobStatus.QUEUED.value:
        return
    opts: dict[str, Any] = {
        "jobId": h["jobId"],
        "attempts": settings.max_attempts * 3,
        "backoff": {"type": "custom"},
        "removeOnComplete": True,
        "removeOnFail": True,
    }
    if priority == "low":
        opts["priority"] = 10
    await queue.add("download", {"jobId": h["jobId"]}, opts)
