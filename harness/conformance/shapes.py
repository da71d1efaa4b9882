"""Contract points answered by single requests: health, answer shapes and codes, unknown and not-ready ids."""

from __future__ import annotations

import time

import httpx

from harness.conformance.context import LONG_JOB_S, SHORT_JOB_S, Run, elapsed_ms
from harness.conformance.results import Point, absent, failed, judged, passed
from harness.contract import STATES


def health(run: Run) -> Point:
    if not run.profile.offers("health"):
        return absent("health", "health endpoint")
    path = run.profile.path("health")
    started = time.monotonic()
    try:
        code = run.http.get(path).status_code
    except httpx.HTTPError as exc:
        return failed("health", f"GET {path}: no answer ({type(exc).__name__})")
    return judged("health", code == 200, f"GET {path} -> {code} in {elapsed_ms(started):.0f} ms", code=code)


def initiate(run: Run) -> Point:
    """The answer to an initiate; the long job it also starts must still run when `not_ready` asks about it."""
    name, codes = "initiate.shape", run.profile.codes["initiate"]
    first = run.initiate("shape", run.short_files, SHORT_JOB_S)
    run.initiate("long", run.long_files, LONG_JOB_S)
    job = first.job
    seen = f"{first.http_status} in {first.latency_s * 1000:.0f} ms"
    if first.http_status not in codes:
        return failed(name, f"answered {seen} ({first.error}); the profile expects {list(codes)}")
    if job is None or not job.job_id:
        return failed(name, f"answered {seen} without a {run.profile.fields['job_id']!r}")
    if job.status not in ("queued", "running"):
        return failed(name, f"answered {seen}, status {job.status!r}: expected queued or running (canonical)")
    missing = [role for role in ("shape", "long") if role not in run.jobs]
    if missing:
        return failed(name, f"the first initiate passed but the {', '.join(missing)} job(s) were not acknowledged")
    return passed(name, f"{seen}, job {job.job_id}, status {job.status}", job_id=job.job_id)


def status(run: Run) -> list[Point]:
    """The status answer: code, the job's id, a canonical status, a progress in 0-100; and no-store."""
    job_id = run.jobs.get("shape")
    if job_id is None:
        return [failed("status.shape", "no job to ask about (initiate failed)"), _no_store(run, None)]
    reply = run.note("status", run.flow.status(job_id))
    job, seen = reply.job, f"{reply.http_status} in {reply.latency_s * 1000:.0f} ms"
    points: list[Point] = []
    if reply.http_status not in run.profile.codes["status"] or job is None:
        points.append(failed("status.shape", f"answered {seen} ({reply.error})"))
    elif job.job_id != job_id or job.status not in STATES:
        raw = job.body.get(run.profile.fields["status"])
        why = f"status {raw!r} maps to no canonical state" if job.status not in STATES else f"job id {job.job_id!r}"
        points.append(failed("status.shape", f"answered {seen}: {why}; map it under [statuses]"))
    elif job.progress is not None and not 0 <= job.progress <= 100:
        points.append(failed("status.shape", f"answered {seen}: progress {job.progress} outside 0-100"))
    else:
        points.append(passed("status.shape", f"{seen}, status {job.status}, progress {job.progress}"))
    points.append(_no_store(run, job_id))
    return points


def _no_store(run: Run, job_id: str | None) -> Point:
    if not run.profile.features.no_store:
        return absent("status.no_store", "Cache-Control: no-store on status answers")
    if job_id is None:
        return failed("status.no_store", "no job to ask about (initiate failed)")
    try:
        header = run.http.get(run.profile.path("status", job_id)).headers.get("cache-control", "")
    except httpx.HTTPError as exc:
        return failed("status.no_store", f"no answer ({type(exc).__name__})")
    return judged("status.no_store", "no-store" in header, f"Cache-Control: {header or '(none)'}")


def unknown_ids(run: Run) -> list[Point]:
    """A well-formed id that names no job: the profile's `unknown` code on status and download."""
    expected = run.profile.codes["unknown"]
    points = []
    for op in ("status", "download"):
        path = run.profile.path(op, run.unknown_id())
        started = time.monotonic()
        try:
            code: int | None = run.http.get(path).status_code
        except httpx.HTTPError:
            code = None
        seen = f"GET {path} -> {code} in {elapsed_ms(started):.0f} ms"
        points.append(judged(f"{op}.unknown", code in expected, f"{seen}; expected {list(expected)}", code=code))
    return points


def not_ready(run: Run) -> Point:
    """Download asked while the long job runs: the profile's `not_ready` code, never the bytes."""
    job_id = run.jobs.get("long")
    if job_id is None:
        return failed("download.not_ready", "no running job to ask about (initiate failed)")
    path = run.profile.path("download", job_id)
    started = time.monotonic()
    try:
        code: int | None = run.http.get(path).status_code
    except httpx.HTTPError:
        code = None
    shown = run.probe.status(job_id).job
    state = shown.status if shown is not None else None
    seen = f"GET {path} -> {code} in {elapsed_ms(started):.0f} ms while {state}"
    if state not in ("queued", "running", "processing_artifacts"):
        return failed("download.not_ready", f"{seen}: the long job was no longer running; is --time-scale right?")
    expected = run.profile.codes["not_ready"]
    return judged("download.not_ready", code in expected, f"{seen}; expected {list(expected)}", code=code)
