"""OpenAPI documentation of every route's responses, kept apart so the handlers stay readable."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from reference_service.models import Health, InitiateRequest, InitiateResponse, ProblemBody, StatusBody
from reference_service.problems import problem_doc

REF = "#/components/schemas/{model}"
# What a job id looks like: a UUID in hex, either case (the service lowercases it before it looks it up).
JOB_ID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
JOB_ID_SCHEMA = {"format": "uuid", "pattern": JOB_ID_PATTERN}


def _json(model: type, description: str) -> dict[str, Any]:
    return {"description": description, "model": model}


_BAD = {400: problem_doc("invalid input: the body names the field and the rule")}
_UNAVAILABLE = {503: problem_doc("the job store (Redis) is unreachable; Retry-After says when to retry")}
_NOT_FOUND = {404: problem_doc("no such job")}
_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": REF.format(model=InitiateRequest.__name__)}}},
    }
}


def _on_the_job(path: str, method: str = "get") -> dict[str, Any]:
    """An OpenAPI link from an answer that names a job (`jobId`) to the operation at `path` on that job: what a
    client does next, and what a stateful test follows."""
    pointer = path.replace("~", "~0").replace("/", "~1")
    return {"operationRef": f"#/paths/{pointer}/{method}", "parameters": {"job_id": "$response.body#/jobId"}}


_JOB_LINKS = {
    "links": {
        "status": _on_the_job("/v1/download/status/{job_id}"),
        "stream": _on_the_job("/v1/download/stream/{job_id}"),
        "download": _on_the_job("/v1/download/{job_id}"),
        "cancel": _on_the_job("/v1/download/cancel/{job_id}", "post"),
    }
}


def _components(*models: type[BaseModel]) -> dict[str, Any]:
    """Each model's JSON schema, and the schemas it refers to (pydantic's `$defs`), as OpenAPI components: the
    initiate body is parsed by hand rather than declared as a handler argument, so FastAPI would not add them."""
    out: dict[str, Any] = {}
    for model in models:
        schema = model.model_json_schema(ref_template=REF)
        out.update(schema.pop("$defs", {}))
        out[model.__name__] = schema
    return out


# Added to the document's components by the API: every `$ref` of the routes' documentation resolves.
COMPONENTS = {**_components(InitiateRequest), "Problem": ProblemBody.model_json_schema(ref_template=REF)}

DOCS: dict[str, dict[str, Any]] = {
    "initiate": {
        "summary": "Start a job; answers at once with its id",
        "responses": {
            202: {**_json(InitiateResponse, "accepted; the same clientRequestId returns the same job"), **_JOB_LINKS},
            **_BAD,
            415: problem_doc("not JSON"),
            **_UNAVAILABLE,
        },
        "openapi_extra": _BODY,
    },
    "status": {
        "summary": "The job's current state",
        "responses": {200: _json(StatusBody, "current state"), **_BAD, **_NOT_FOUND, **_UNAVAILABLE},
    },
    "stream": {
        "summary": "Server-sent events: snapshot, progress..., one terminal event; heartbeats; Last-Event-ID resume",
        "responses": {
            200: {"description": "text/event-stream", "content": {"text/event-stream": {}}},
            204: {"description": "resumed after the job's terminal event: nothing more will come (stop reconnecting)"},
            **_BAD,
            **_NOT_FOUND,
            **_UNAVAILABLE,
        },
    },
    "download": {
        "summary": "Redirect to a signed, expiring artifact URL",
        "responses": {
            302: {"description": "Location: the signed artifact URL"},
            409: _json(StatusBody, "not ready yet: the current state"),
            **_BAD,
            **_NOT_FOUND,
            410: problem_doc("the job has expired"),
            **_UNAVAILABLE,
        },
    },
    "artifact": {
        "summary": "The artifact itself (a front usually serves this with nginx secure_link)",
        "responses": {
            200: {"description": "the bytes", "content": {"application/octet-stream": {}}},
            403: problem_doc("bad signature"),
            404: problem_doc("no such artifact"),
            410: problem_doc("link expired"),
        },
    },
    "cancel": {
        "summary": "Cancel a queued or running job",
        "responses": {
            200: _json(StatusBody, "cancelled"),
            409: _json(StatusBody, "already finished"),
            **_BAD,
            **_NOT_FOUND,
            **_UNAVAILABLE,
        },
    },
    "start": {
        "summary": "Legacy synchronous flow: holds the request until the job ends (times out behind proxies)",
        "responses": {
            200: _json(StatusBody, "the final state"),
            **_BAD,
            415: problem_doc("not JSON"),
            410: problem_doc("expired while waiting"),
            **_UNAVAILABLE,
        },
        "openapi_extra": _BODY,
    },
    "health": {
        "summary": "Liveness and Redis reachability",
        "responses": {200: _json(Health, "ok"), 503: _json(Health, "Redis unreachable")},
    },
}


def document_components(app: FastAPI) -> None:
    """Add the schemas the routes' documentation refers to but FastAPI does not derive: the problem+json body
    of every 4xx/503 entry and the initiate body (parsed by hand, see `parse_initiate`) with its parts."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            schema.setdefault("components", {}).setdefault("schemas", {}).update(COMPONENTS)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
