"""Contract points that follow jobs over time: SSE (first event, heartbeats, one terminal event, resume), polling
to the end, cancel, the legacy start, download and checksum, and the checker over everything recorded."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

from harness.clients.sse import StreamResult
from harness.conformance.context import LONG_JOB_S, SHORT_JOB_S, Run
from harness.conformance.results import Point, absent, failed, inconclusive, judged, passed
from harness.core.timescale import scaled
from harness.judge import CheckParams, check
from harness.judge.history import FINISHED, read_history

RESERVE_S = 8.0  # budget kept for the download, the cancel and the checker after the followers end
LEGACY_JOB_S = 5.0  # modelled: shorter than any front's read timeout, so the endpoint itself is judged
SLACK_S = 0.25  # scheduling slack on a loaded machine, added to the declared heartbeat interval


def _ids(result: StreamResult) -> list[int]:
    return [int(e.id) for e in result.events if e.id.isdigit()]


def _increasing(ids: list[int]) -> bool:
    return all(a < b for a, b in itertools.pairwise(ids))


def _start(run: Run, role: str, files: tuple[int, ...] | None = None, modelled_s: float = SHORT_JOB_S) -> str | None:
    """Each follower starts its own job just before following it, so the job is young when followed (a short
    one unless `files` says)."""
    run.initiate(role, run.short_files if files is None else files, modelled_s)
    return run.jobs.get(role)


def follow_short(run: Run) -> list[Point]:
    job_id = _start(run, "sse")
    if job_id is None:
        return [failed(p, "no job to follow (initiate failed)") for p in ("sse.first_event", "sse.terminal_once")]
    seen = run.flow.follow_sse(job_id, run.remaining(RESERVE_S), reconnect=False)
    return [_first_event(run, seen), _terminal_once(seen)]


def _first_event(run: Run, seen: StreamResult) -> Point:
    limit = run.profile.limits["first_event_ms"]
    if not seen.events or seen.first_event_s is None:
        return failed("sse.first_event", f"stream answered {seen.http_status} ({seen.error}) with no event")
    first = run.profile.observe_event(seen.events[0])
    ms, raw = seen.first_event_s * 1000, seen.events[0].event
    named = f"{first.get('event')!r}" + ("" if raw == first.get("event") else f" (sent as {raw!r})")
    evidence = f"first event {named} after {ms:.0f} ms, status {first.get('status')}, limit {limit:g} ms"
    ok = first.get("event") == "snapshot" and "status" in first and ms <= limit
    return judged("sse.first_event", ok, evidence + ("" if ok else "; expected a snapshot of the job first"))


def _terminal_once(seen: StreamResult) -> Point:
    ids = _ids(seen)
    evidence = f"{len(seen.events)} events, {seen.terminal_events} terminal ({seen.terminal}), ids {_span(ids)}"
    ok = (
        seen.terminal_events == 1 and seen.terminal == "completed" and _increasing(ids) and len(ids) == len(seen.events)
    )
    return judged("sse.terminal_once", ok, evidence + ("" if ok else f"; ended {seen.outcome} {seen.error or ''}"))


def _span(ids: list[int]) -> str:
    if not ids:
        return "missing"
    return f"{ids[0]}..{ids[-1]} " + ("strictly increasing" if _increasing(ids) else "NOT increasing")


def poll_short(run: Run) -> Point:
    job_id = _start(run, "polled")
    if job_id is None:
        return failed("status.lifecycle", "no job to poll (initiate failed)")
    polled = run.flow.poll_until_terminal(job_id, run.remaining(RESERVE_S))
    status = polled.job.status if polled.job is not None else None
    evidence = f"{polled.polls} polls to {status}" + (f" ({polled.last.error})" if polled.last.error else "")
    if status != "completed":
        evidence += ": a short job must end completed"
    return judged("status.lifecycle", status == "completed", evidence)


def resume(run: Run) -> Point:
    if not run.profile.offers("resume"):
        return absent("sse.resume", "Last-Event-ID resume")
    job_id = _start(run, "resume")
    if job_id is None:
        return failed("sse.resume", "no job to follow (initiate failed)")
    cut = run.flow.follow_sse(job_id, run.remaining(RESERVE_S), reconnect=False, stop_after_events=2)
    if cut.terminal is not None or cut.last_event_id is None:
        why = "the job ended within two events" if cut.terminal else f"no event id ({cut.http_status}, {cut.error})"
        return failed("sse.resume", f"cannot cut the stream mid-job: {why}; check --time-scale")
    last = cut.last_event_id
    again = run.flow.follow_sse(job_id, run.remaining(RESERVE_S), last_event_id=last, reconnect=False)
    ids = _ids(again)
    ok = again.terminal_events == 1 and _increasing(ids) and all(i > last for i in ids)
    evidence = f"cut after id {last}; resumed: {len(again.events)} events, ids {_span(ids)}, {again.terminal_events}"
    return judged("sse.resume", ok, f"{evidence} terminal ({again.terminal})")


def heartbeat_then_cancel(run: Run) -> list[Point]:
    job_id = _start(run, "followed-long", run.long_files, LONG_JOB_S)
    if job_id is None:
        return [failed("sse.heartbeat", "no running job (initiate failed)"), failed("cancel", "no running job")]
    return [_heartbeat(run, job_id), _cancel(run, job_id)]


def _heartbeat(run: Run, job_id: str) -> Point:
    hb = run.config.heartbeat_wall_s
    if hb is None:
        return absent("sse.heartbeat", "heartbeat interval")
    window = min(2.5 * hb + 0.5, run.remaining(RESERVE_S))
    started = time.monotonic()
    seen = run.flow.follow_sse(job_id, window, reconnect=False)
    lived = time.monotonic() - started
    allowed = hb * 1.5 + SLACK_S
    evidence = (
        f"largest silence {seen.max_gap_s:.2f} s over {lived:.2f} s of stream ({seen.heartbeats} heartbeats, "
        f"{len(seen.events)} events); declared {hb:.2f} s, allowed {allowed:.2f} s"
    )
    data = {"max_gap_s": round(seen.max_gap_s, 3), "heartbeats": seen.heartbeats, "lived_s": round(lived, 3)}
    if seen.http_status != 200 or seen.max_gap_s > allowed:
        return failed("sse.heartbeat", evidence, **data)
    if lived < 2 * hb and seen.terminal is None:
        return failed("sse.heartbeat", f"the stream closed with no terminal event: {evidence}", **data)
    if lived < 2 * hb:
        why = f"the job ended ({seen.terminal}) before two heartbeat intervals, so no silence was judged: {evidence}"
        return inconclusive("sse.heartbeat", why, **data)
    return passed("sse.heartbeat", evidence, **data)


def _cancel(run: Run, job_id: str) -> Point:
    if not run.profile.offers("cancel"):
        return absent("cancel", "cancel endpoint")
    reply = run.flow.cancel(job_id)
    if reply.http_status not in run.profile.codes["cancel"]:
        return failed(
            "cancel", f"answered {reply.http_status} ({reply.error}); expected {list(run.profile.codes['cancel'])}"
        )
    polled = run.flow.poll_until_terminal(job_id, min(scaled(30, run.config.time_scale) + 2, run.remaining()))
    status = polled.job.status if polled.job is not None else None
    return judged("cancel", status == "cancelled", f"answered {reply.http_status}, then the job is {status}")


def legacy(run: Run) -> Point:
    if not run.profile.offers("legacy_start"):
        return absent("legacy_start", "legacy synchronous start")
    reply = run.flow.legacy_start(run.short_files, None, run.simulate(LEGACY_JOB_S))
    status = reply.job.status if reply.job is not None else None
    evidence = f"held {reply.latency_s:.2f} s, answered {reply.http_status} with status {status}"
    ok = reply.http_status in run.profile.codes["legacy_start"] and status == "completed"
    if reply.proxy_timeout:
        evidence += ": a front gave up waiting, as it does on long jobs; point --target at the origin to judge it"
    return judged("legacy_start", ok, evidence + ("" if ok else f" ({reply.error})"))


def download(run: Run) -> Point:
    job_id = run.jobs.get("polled")
    if job_id is None:
        return failed("download.checksum", "no job to download (initiate failed)")
    got = run.flow.download(job_id)
    how = run.profile.features.download
    if got.outcome != "ok":
        return failed("download.checksum", f"{how} download answered {got.http_status} ({got.error})")
    if got.checksum_ok is None:
        return failed("download.checksum", f"{got.size} bytes, but the status shows no checksum to compare")
    evidence = f"{how}: {got.size} bytes, {got.sha256} " + ("matches" if got.checksum_ok else f"!= {got.expected}")
    return judged("download.checksum", got.checksum_ok, evidence)


def history(run: Run, path: Path) -> Point:
    """The checker's invariants over every recorded request of the run: the flows and the idempotency probes
    (bad inputs and unknown ids are not recorded), once each acknowledged job not yet seen finished has been
    followed to its end (within the budget). Too little to judge is `inconclusive`, never a pass."""
    settle(run, path)
    scale = run.config.time_scale
    params = CheckParams.for_scale(scale, stall_s=run.profile.stall_recovery_on_clock(scale))
    result = check(read_history([path]), params)
    jobs = result.stats.jobs
    summary = f"{result.stats.records} records, {jobs.get('acknowledged', 0)} jobs"
    if result.valid:
        return judged("history.invariants", True, f"{summary}: no anomaly (lost, duplicated, regressed, timed out)")
    if not result.anomalies:
        return inconclusive("history.invariants", f"{summary}: {'; '.join(result.inconclusive)}")
    first = "; ".join(f"{a.kind}: {a.message}" for a in result.anomalies[:2])
    return failed("history.invariants", f"{summary}: {len(result.anomalies)} anomalies: {first}")


def settle(run: Run, path: Path) -> None:
    """Poll every acknowledged job of the history that no record shows finished, to its end (bounded)."""
    acked: dict[str, None] = {}
    finished: set[str] = set()
    for rec in read_history([path]):
        if rec.job_id and rec.type == "ok" and rec.op == "initiate":
            acked.setdefault(rec.job_id)
        if rec.job_id and (rec.status in FINISHED or rec.event in FINISHED):
            finished.add(rec.job_id)
    for job_id in acked:
        if job_id not in finished and run.remaining(RESERVE_S / 2) > 0:
            run.flow.poll_until_terminal(job_id, run.remaining(RESERVE_S / 2))
