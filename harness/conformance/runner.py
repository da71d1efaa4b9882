"""One bounded black-box run: single-request points first, then the job followers side by side, then what needs
finished jobs (download, the checker). Every wait is bounded by what is left of the budget."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime
from pathlib import Path

import harness.conformance.bad_input as bad_input
import harness.conformance.flows as flows
import harness.conformance.retries as retries
import harness.conformance.shapes as shapes
from harness.conformance.context import ConformanceConfig, Run
from harness.conformance.results import ConformanceResult, Point, failed
from harness.judge.history import History

Check = Callable[[Run], Point | list[Point]]
# Points that need a job still running come first: the long job must not finish before they ask.
QUICK: tuple[Check, ...] = (
    shapes.health,
    shapes.initiate,
    shapes.not_ready,
    shapes.status,
    shapes.unknown_ids,
    bad_input.bad_inputs,
    retries.idempotency,
)
FOLLOWERS: tuple[Check, ...] = (
    flows.follow_short,
    flows.poll_short,
    flows.resume,
    flows.heartbeat_then_cancel,
    flows.legacy,
)
ORDER = [
    "health",
    "initiate.shape",
    "download.not_ready",
    "status.shape",
    "status.no_store",
    "status.lifecycle",
    "status.unknown",
    "download.unknown",
    "errors.bad_input",
    "errors.problem_json",
    "idempotency.retry",
    "idempotency.concurrent",
    "sse.first_event",
    "sse.heartbeat",
    "sse.terminal_once",
    "sse.resume",
    "cancel",
    "legacy_start",
    "download.checksum",
    "latency.initiate",
    "latency.status",
    "history.invariants",
]


def _as_list(found: Point | list[Point]) -> list[Point]:
    return found if isinstance(found, list) else [found]


def _safely(check: Check, run: Run) -> list[Point]:
    """A check that raises is a failed point named after it, never a crashed run."""
    try:
        return _as_list(check(run))
    except Exception as exc:  # the target may answer anything; the report must still come out
        return [failed(getattr(check, "__name__", "check"), f"the check raised {type(exc).__name__}: {exc}")]


def _side_by_side(run: Run) -> list[Point]:
    points: list[Point] = []
    with ThreadPoolExecutor(len(FOLLOWERS), thread_name_prefix="conformance") as pool:
        futures: list[tuple[Check, Future[list[Point]]]] = [(c, pool.submit(_safely, c, run)) for c in FOLLOWERS]
        for check, future in futures:
            try:
                points += future.result(timeout=run.remaining() + run.config.request_s * 2)
            except FutureTimeout:
                points.append(failed(check.__name__, "still waiting when the run's budget ran out"))
    return points


def run_conformance(config: ConformanceConfig, history_path: Path | None = None) -> ConformanceResult:
    """Run every point the profile declares; the flow history goes to `history_path` (else a temporary file)."""
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    with tempfile.TemporaryDirectory(prefix="conformance-") as scratch:
        path = history_path or Path(scratch) / "history.jsonl"
        with History(path) as recorded, Run(config, recorded) as run:
            points: list[Point] = []
            for check in QUICK:
                points += _safely(check, run)
            points += _side_by_side(run)
            points += _safely(flows.download, run)
            points += _safely(retries.latency, run)
            points += _safely(lambda r: flows.history(r, path), run)
            wall = time.monotonic() - run.started
    rank = {name: i for i, name in enumerate(ORDER)}
    points.sort(key=lambda p: rank.get(p.name, len(rank)))
    return ConformanceResult(
        target=config.target,
        profile=config.profile.name,
        profile_source=config.profile.source or "(built in Python)",
        time_scale=config.time_scale,
        started_at=started_at,
        wall_s=round(wall, 2),
        points=tuple(points),
        history=str(history_path) if history_path else None,
    )
