"""Planted defects, switched on by `OTHER_DEFECTS` (a comma list). Unset or empty: `racy_idempotency`, the one
defect this implementation ships with; `none`: a clean implementation. Each defect is a small branch marked by a
`defect("name")` call (where: the file and function holding it); `grep -n 'defect("' *.py` finds them all.

=======================  ===================================================  ========================================
name                     what the code does wrong                             what a harness should observe
=======================  ===================================================  ========================================
early_stream_end         the SSE stream returns right after its first event   every stream ends after one event (the
                         (the snapshot; on a resume, the first replayed       `connected` snapshot): no terminal
                         one). api.py, _stream                                event, no heartbeat
racy_idempotency         initiate looks the request_id up, then awaits a      concurrent initiates with one request_id
                         0.1 s store round trip, then creates the job         each get their own job id (duplicates);
                         without checking again. api.py, initiate             sequential retries get the same id
bad_input_500            the body is parsed without catching errors: not      500 for malformed JSON, non-UTF-8 bodies,
                         JSON, not UTF-8 or a top-level array/scalar raise    a JSON array, null, an empty body (and
                         unhandled. api.py, _parse_file_ids                   uvicorn closes that keep-alive connection)
hang_on_redis_down       the API's Redis client has no socket timeouts and    while Redis is down or blackholed every
                         every call retries connection errors forever.        request (healthz too) hangs until Redis
                         api.py, lifespan (store.py, Store.call)              is back, instead of a prompt 503
ghost_jobs               every 3rd initiate (a Redis counter) creates and     initiates answered 500 whose job still
                         enqueues the job, then answers 500. api.py,          exists and completes: a job no client
                         initiate                                             was told about
rerun_after_complete     completion leaves the job's lease and processing     a completed job goes back to `pending`,
                         entry to expire; the reaper re-queues a `done` job   then `processing` with tries+1, and
                         of one try whose lease expired. worker.py, _work     completes again (a terminal state that
                         and _reap_loop (flags of COMPLETE and REAP)          changed, a status regression)
slow_stall_recovery      the lease is 120 modelled seconds instead of 3.      a SIGKILLed worker's jobs stay
                         config.py, Timing.lease_s                            `processing` ~120 modelled s before
                                                                              another worker takes them over
redis_client_leak        every SSE stream opens its own Redis client (not     Redis connections grow by one per stream
                         from the pool) and never closes it. api.py, events   opened (CLIENT LIST name
                                                                              other-api-stream), and never drop
unreachable_artifact     the download of a completed job answers 302 to       download -> 302 -> 404: the artifact of
                         /files/{job_id}, which nothing serves. api.py,       a completed job cannot be fetched
                         download
no_terminal_event        the SSE stream skips terminal events and keeps       streams show progress, then only
                         heartbeating until the client leaves. api.py,        heartbeats: never `done`, never closed
                         _stream
status_500_on_redis_     GET status turns a Redis error into an unhandled     while Redis is down, status answers 500
error                    exception. api.py, status                            (the other endpoints 503 + Retry-After)
complete_before_         the job is marked `done` first, the artifact is      a download right after `done` is seen
artifact                 written 2 modelled seconds later. worker.py, _work   gets 404 for ~2 modelled seconds
cancel_overwritten       cancel answers 200 and `cancelled`, but the worker   a job acknowledged `cancelled` goes back
                         running the job does not check for it and writes     to `processing` and ends `done` (a
                         `processing`/`done` over it. worker.py, _work        terminal state that changed)
                         (the force flag of TICK and COMPLETE)
=======================  ===================================================  ========================================
"""

from __future__ import annotations

import functools
import os

KNOWN = (
    "early_stream_end",
    "racy_idempotency",
    "bad_input_500",
    "hang_on_redis_down",
    "ghost_jobs",
    "rerun_after_complete",
    "slow_stall_recovery",
    "redis_client_leak",
    "unreachable_artifact",
    "no_terminal_event",
    "status_500_on_redis_error",
    "complete_before_artifact",
    "cancel_overwritten",
)
DEFAULT = ("racy_idempotency",)
ENV = "OTHER_DEFECTS"


class UnknownDefect(ValueError):
    pass


def parse(raw: str | None) -> frozenset[str]:
    """The defects a value of OTHER_DEFECTS switches on; raises UnknownDefect naming the bad value."""
    if raw is None or not raw.strip():
        return frozenset(DEFAULT)
    names = [part.strip() for part in raw.split(",") if part.strip()]
    if names == ["none"]:
        return frozenset()
    unknown = [name for name in names if name not in KNOWN]
    if unknown or "none" in names:
        bad = ", ".join(unknown) if unknown else "none (together with other names)"
        raise UnknownDefect(
            f"{ENV}={raw!r}: unknown defect {bad}; known: {', '.join(KNOWN)} "
            "(or 'none' alone for a clean implementation; unset means racy_idempotency)"
        )
    return frozenset(names)


@functools.cache
def active() -> frozenset[str]:
    return parse(os.environ.get(ENV))


def defect(name: str) -> bool:
    """Whether the planted defect `name` is switched on for this process."""
    if name not in KNOWN:
        raise AssertionError(f"no defect {name!r}")
    return name in active()
