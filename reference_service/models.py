"""Request validation and the documented response shapes (the OpenAPI schema comes from these)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, StrictInt


def _integral(value: Any) -> Any:
    """A JSON number with a zero fraction (`10001.0`) as the integer it is: JSON Schema's `integer`, which the
    OpenAPI document declares, includes it. Anything else is left for the strict check (no strings, no bools, no
    `10001.5`)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


# Placed after the bounds: before them, pydantic documents the bounds as `ge`/`le`, not `minimum`/`maximum`.
INTEGRAL = BeforeValidator(_integral)
FileId = Annotated[StrictInt, Field(ge=10_000, le=100_000_000), INTEGRAL]


class Simulate(BaseModel):
    """Test controls (REFERENCE_TEST_CONTROLS=1 only): shape a job's duration and failures."""

    model_config = ConfigDict(extra="forbid")
    durationMs: Annotated[StrictInt, Field(ge=0, le=3_600_000), INTEGRAL] | None = None
    failAttempts: Annotated[StrictInt, Field(ge=0, le=10), INTEGRAL] = 0
    stallAttempts: Annotated[StrictInt, Field(ge=0, le=10), INTEGRAL] = 0


class InitiateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    fileIds: list[FileId] = Field(validation_alias=AliasChoices("fileIds", "file_ids"), min_length=1, max_length=1000)
    clientRequestId: str | None = Field(None, min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$")
    priority: Literal["standard", "low"] = "standard"
    simulate: Simulate | None = None


class JobError(BaseModel):
    code: str
    message: str
    retryable: bool


class InitiateResponse(BaseModel):
    jobId: str
    status: str
    totalFiles: int
    nextPollInMs: int
    expiresAt: str
    statusUrl: str
    streamUrl: str


class StatusBody(BaseModel):
    jobId: str
    status: Literal["queued", "running", "processing_artifacts", "completed", "failed", "cancelled", "expired"]
    progress: float
    completedFiles: int
    totalFiles: int
    attempts: int
    downloadUrl: str | None
    size: int | None
    checksum: str | None = Field(None, description="sha256:<hex> of the artifact's bytes")
    error: JobError | None
    createdAt: str
    startedAt: str | None
    updatedAt: str
    completedAt: str | None
    expiresAt: str
    nextPollInMs: int | None


class ProblemBody(BaseModel):
    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[dict[str, Any]] | None = None


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    redis: str
