"""Job hash (Redis strings) -> the public status body; the one place that shapes what clients see."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from reference_service.jobs import JobStatus
from reference_service.settings import Settings


def iso(ms: str | int | None) -> str | None:
    if ms in (None, ""):
        return None
    return datetime.fromtimestamp(int(ms) / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def effective_status(h: dict[str, str], now_ms: int | None = None) -> JobStatus:
    """A job past its TTL reads as expired, whatever it was."""
    now = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    if now >= int(h["expiresAt"]):
        return JobStatus.EXPIRED
    return JobStatus(h["status"])


def _int(h: dict[str, str], key: str) -> int | None:
    value = h.get(key)
    return int(value) if value not in (None, "") else None


def status_body(h: dict[str, str], settings: Settings) -> dict[str, Any]:
    status = effective_status(h)
    job_id = h["jobId"]
    return {
        "jobId": job_id,
        "status": status.value,
        "progress": float(h.get("progress") or 0),
        "completedFiles": int(h.get("completedFiles") or 0),
        "totalFiles": int(h["totalFiles"]),
        "attempts": int(h.get("attempts") or 0),
        "downloadUrl": f"/v1/download/{job_id}" if status is JobStatus.COMPLETED else None,
        "size": _int(h, "size"),
        "checksum": h.get("checksum") or None,
        "error": json.loads(h["error"]) if h.get("error") else None,
        "createdAt": iso(h["createdAt"]),
        "startedAt": iso(h.get("startedAt")),
        "updatedAt": iso(h.get("updatedAt") or h["createdAt"]),
        "completedAt": iso(h.get("completedAt")),
        "expiresAt": iso(h["expiresAt"]),
        "nextPollInMs": None if status.terminal else settings.scaled_ms(settings.poll_hint_s),
    }


def initiate_body(h: dict[str, str], settings: Settings) -> dict[str, Any]:
    job_id = h["jobId"]
    return {
        "jobId": job_id,
        "status": effective_status(h).value,
        "totalFiles": int(h["totalFiles"]),
        "nextPollInMs": settings.scaled_ms(settings.poll_hint_s),
        "expiresAt": iso(h["expiresAt"]),
        "statusUrl": f"/v1/download/status/{job_id}",
        "streamUrl": f"/v1/download/stream/{job_id}",
    }
