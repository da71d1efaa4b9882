"""The SSE stream: snapshot first, increasing ids, one terminal event, heartbeats, Last-Event-ID resume."""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass, field

import httpx
import pytest

from tests.conftest import job_timeout

pytestmark = pytest.mark.contract


@dataclass
class Read:
    events: list[tuple[int, str]] = field(default_factory=list)  # (id, event)
    heartbeats: list[float] = field(default_factory=list)
    gaps: list[float] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)


def read_stream(url: str, last_event_id: int | None = None, stop_after: int | None = None, timeout: float = 30) -> Read:
    """Read raw SSE lines, noting the time between consecutive chunks of bytes."""
    out = Read()
    headers = {"Last-Event-ID": str(last_event_id)} if last_event_id is not None else {}
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=httpx.Timeout(10, read=10)) as c, c.stream("GET", url, headers=headers) as r:
        assert r.status_code == 200, r.read()
        out.headers = dict(r.headers)
        last_byte = time.monotonic()
        event_id, name = None, None
        for line in r.iter_lines():
            now = time.monotonic()
            out.gaps.append(now - last_byte)
            last_byte = now
            if line.startswith(":"):
                out.heartbeats.append(now)
            elif line.startswith("id:"):
                event_id = int(line[3:].strip())
            elif line.startswith("event:"):
                name = line[6:].strip()
            elif line == "" and event_id is not None and name is not None:
                out.events.append((event_id, name))
                if name in {"completed", "failed", "cancelled"}:
                    break
                if stop_after is not None and len(out.events) >= stop_after:
                    break
                event_id, name = None, None
            assert now < deadline, "stream did not end in time"
    return out


def new_job(service, **simulate) -> str:
    with service.client() as c:
        return str(c.post("/v1/download/initiate", json={"fileIds": [10001], "simulate": simulate}).json()["jobId"])


def test_snapshot_then_progress_then_exactly_one_terminal(service, time_scale):
    job = new_job(service, durationMs=4000)
    read = read_stream(f"{service.url}/v1/download/stream/{job}", timeout=job_timeout(time_scale, 10))
    ids = [i for i, _ in read.events]
    names = [n for _, n in read.events]
    assert names[0] == "snapshot" and names[-1] == "completed"
    assert sum(n in {"completed", "failed", "cancelled"} for n in names) == 1
    assert set(names[1:-1]) <= {"progress"} and ids == sorted(set(ids))
    assert read.headers["x-accel-buffering"] == "no" and read.headers["cache-control"] == "no-cache"


def test_heartbeats_keep_the_largest_gap_under_the_interval(service, time_scale):
    interval = 15 * time_scale
    job = new_job(service, durationMs=4000, stallAttempts=1)  # a stall: minutes of silence but for heartbeats
    read = read_stream(f"{service.url}/v1/download/stream/{job}", timeout=job_timeout(time_scale, 80))
    assert len(read.heartbeats) >= 2
    # the stream may be written in two chunks per event; the largest silence is what a proxy's idle timer sees
    assert max(read.gaps) <= interval * 1.2 + 0.05, (max(read.gaps), interval)


def test_heartbeats_keep_coming_while_redis_hangs(service, time_scale):
    """A Redis that stops answering (SIGSTOP) must not silence a held stream: a read that hangs is given up at
    the next heartbeat. The API here waits 60 s (modelled) on Redis, so a heartbeat that waited for the read
    would come two of those late, and the largest silence would be the whole pause."""
    interval, pause = 15 * time_scale, 60 * time_scale
    url = service.extra_api(REFERENCE_REDIS_TIMEOUT_S="60")
    job = new_job(service, durationMs=600_000)
    gaps: list[float] = []
    with httpx.Client(timeout=httpx.Timeout(10, read=pause + 10)) as c:
        with c.stream("GET", f"{url}/v1/download/stream/{job}") as r:
            lines = r.iter_lines()
            while next(lines) != "":  # the snapshot event
                pass
            service.redis.signal(signal.SIGSTOP)
            try:
                last = paused = time.monotonic()
                for _ in lines:
                    now = time.monotonic()
                    gaps.append(now - last)
                    last = now
                    if now - paused >= pause:
                        break
            finally:
                service.redis.signal(signal.SIGCONT)
        c.post(f"{service.url}/v1/download/cancel/{job}")
    assert len(gaps) >= 2 * pause / interval - 1, gaps  # two lines per heartbeat: the comment and its blank line
    assert max(gaps) <= interval * 1.2 + 0.05, (max(gaps), interval)


def test_disconnect_and_resume_with_last_event_id_loses_no_event(service, time_scale):
    job = new_job(service, durationMs=6000)
    url = f"{service.url}/v1/download/stream/{job}"
    first = read_stream(url, stop_after=4)
    resumed = read_stream(url, last_event_id=first.events[-1][0], timeout=job_timeout(time_scale, 10))
    ids = [i for i, _ in first.events + resumed.events]
    assert all(n != "snapshot" for _, n in resumed.events)  # a resume replays, it does not re-snapshot
    assert ids == list(range(ids[0], ids[-1] + 1))  # contiguous: nothing missed, nothing repeated
    assert resumed.events[-1][1] == "completed"


def test_a_finished_job_streams_snapshot_and_terminal_at_once(service):
    job = new_job(service, durationMs=200)
    service.wait_status(job, {"completed"}, 15)
    read = read_stream(f"{service.url}/v1/download/stream/{job}", timeout=5)
    assert [n for _, n in read.events] == ["snapshot", "completed"]
    assert read.events[0][0] < read.events[1][0]


def test_a_resume_after_the_terminal_event_is_told_nothing_more_will_come(service):
    """Found by the chaos machine (seed 997098052): a stream resumed with the terminal event's id was held open on
    heartbeats until the client gave up (`sse_missing_terminal`). An EventSource reconnects when a finished stream
    closes, with that id: the answer is 204 (stop reconnecting), at once."""
    job = new_job(service, durationMs=200)
    service.wait_status(job, {"completed"}, 15)
    url = f"{service.url}/v1/download/stream/{job}"
    terminal = read_stream(url, timeout=5).events[-1][0]
    started = time.monotonic()
    with httpx.stream("GET", url, headers={"Last-Event-ID": str(terminal)}, timeout=5) as answer:
        assert answer.status_code == 204, f"answered {answer.status_code}: a stream held open after the terminal"
        assert not answer.read() and time.monotonic() - started < 2
    before = httpx.get(url, headers={"Last-Event-ID": str(terminal - 1)}, timeout=5)  # one short: it still comes
    assert before.status_code == 200 and "event: completed" in before.text
