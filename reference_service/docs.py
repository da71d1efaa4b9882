"""OpenAPI documentation of every route's responses, kept apart so the handlers stay readable."""

from __future__ import annotations

from typing import Any

from reference_service.models import Health, InitiateRequest, InitiateResponse, StatusBody
from reference_service.problems import problem_doc


def _json(model: type, description: str) -> dict[str, Any]:
    return {"description": description, "model": model}


_BAD = {400: problem_doc("invalid input: the body names the field and the rule")}
_UNAVAILABLE = {503: problem_doc("the job store (Redis) is unreachable; Retry-After says when to retry")}
_NOT_FOUND = {404: problem_doc("no such job")}
_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": InitiateRequest.model_json_schema(ref_template="#/components/schemas/{model}")
            }
        },
    }
}

DOCS: dict[str, dict[str, Any]] = {
    "initiate": {
        "summary": "Start a job; answers at once with its id",
        "responses": {
            202: _json(InitiateResponse, "accepted; the same clientRequestId returns the same job"),
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
