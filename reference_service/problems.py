"""Errors as RFC 9457 problem+json: every 4xx names the field and the rule; Redis outages are 503s."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

PROBLEM = "application/problem+json"


class Problem(Exception):
    """Raised anywhere in a handler; rendered by `problem_handler`."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = errors
        self.headers = headers
        self.extra = extra or {}


def problem_response(status: int, title: str, detail: str, instance: str, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


async def problem_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    response = problem_response(exc.status, exc.title, exc.detail, request.url.path, errors=exc.errors, **exc.extra)
    response.headers.update(exc.headers or {})
    return response


async def redis_down_handler(request: Request, exc: Exception) -> JSONResponse:
    response = problem_response(
        503,
        "Service Unavailable",
        f"the job store is unreachable ({type(exc).__name__}); retry shortly",
        request.url.path,
    )
    response.headers["Retry-After"] = "1"
    return response


def validation_errors(exc: Any) -> list[dict[str, Any]]:
    """pydantic errors -> [{field, rule, message}] with dotted field paths as the client wrote them."""
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body",)]
        out.append({"field": ".".join(loc) or "(body)", "rule": err.get("type", "invalid"), "message": err.get("msg")})
    return out


def invalid(field: str, rule: str, message: str, status: int = 400) -> Problem:
    return Problem(
        status,
        "Bad Request" if status == 400 else "Unprocessable Content",
        f"{field}: {message}",
        errors=[{"field": field, "rule": rule, "message": message}],
    )


def problem_doc(description: str) -> dict[str, Any]:
    """An OpenAPI response entry for a problem+json answer."""
    return {"description": description, "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
