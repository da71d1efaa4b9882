"""Protocol clients against httpx.MockTransport: parsing, classification, byte gaps, resume, checksums, history.

Time is a fake clock that the mock streams advance; `sleep` only advances it, so nothing here waits.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.clients import ServiceClient
from harness.clients.sse import SseParser
from harness.contract import ContractProfile, Timeouts
from harness.judge import CheckParams, check
from harness.judge.history import History, read_history

pytestmark = pytest.mark.unit

BASE = "http://svc.test"
Handler = Callable[[httpx.Request], httpx.Response]


class Clock:
    """A fake monotonic clock; `sleep` advances it and remembers how long each wait was."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Chunks(httpx.SyncByteStream):
    """A response body delivered chunk by chunk: (seconds of silence before it, bytes), then maybe a cut."""

    def __init__(self, clock: Clock, chunks: list[tuple[float, bytes]], cut: bool = False) -> None:
        self.clock, self.chunks, self.cut = clock, chunks, cut

    def __iter__(self) -> Iterator[bytes]:
        for silence, data in self.chunks:
            self.clock.now += silence
            yield data
        if self.cut:
            raise httpx.ReadError("connection reset by peer")


def status_body(job: str, status: str, progress: int = 0, attempts: int = 0, **extra: Any) -> dict[str, Any]:
    return {"jobId": job, "status": status, "progress": progress, "attempts": attempts, "nextPollInMs": 2000, **extra}


def sse(event: str, event_id: int, data: dict[str, Any]) -> bytes:
    return f"event: {event}\nid: {event_id}\ndata: {json.dumps(data)}\n\n".encode()


def client(handler: Handler, clock: Clock | None = None, **kw: Any) -> ServiceClient:
    clock = clock or Clock()
    return ServiceClient(
        BASE, transport=httpx.MockTransport(handler), sleep=clock.sleep, clock=clock, rng=random.Random(7), **kw
    )


def test_initiate_sends_the_contract_body_and_records_the_acknowledgment(tmp_path: Path) -> None:
    seen: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        body = {"jobId": "j1", "status": "queued", "totalFiles": 2, "nextPollInMs": 500, "statusUrl": "/s"}
        return httpx.Response(202, json=body, headers={"Location": "/v1/download/status/j1"})

    with History(tmp_path / "h.jsonl") as history, client(handler, history=history, client_id="c7") as c:
        reply = c.initiate([1, 2], client_request_id="r1", simulate={"durationMs": 100, "failAttempts": 1})
    assert seen == [{"fileIds": [1, 2], "clientRequestId": "r1", "simulate": {"durationMs": 100, "failAttempts": 1}}]
    assert reply.ok and reply.job is not None and reply.job.job_id == "j1" and reply.job.total_files == 2
    assert reply.location == "/v1/download/status/j1"
    invoke, done = read_history([tmp_path / "h.jsonl"])
    assert (invoke.type, invoke.op, invoke.process, invoke.client_request_id) == ("invoke", "initiate", "c7", "r1")
    assert (done.type, done.job_id, done.status, done.http_status, done.client_request_id) == (
        "ok",
        "j1",
        "queued",
        202,
        "r1",
    )


def test_another_implementation_is_read_through_its_profile() -> None:
    profile = ContractProfile(
        name="other",
        paths={"status": "/jobs/{job_id}"},
        fields={"job_id": "id", "status": "state", "progress": "pct", "attempts": "tries"},
        statuses={"IN_PROGRESS": "running", "DONE": "completed"},
    )

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/jobs/x1"
        return httpx.Response(200, json={"id": "x1", "state": "IN_PROGRESS", "pct": 40, "tries": 1})

    reply = client(handler, profile=profile).status("x1")
    assert reply.job is not None and (reply.job.status, reply.job.progress, reply.job.attempts) == ("running", 40, 1)


@pytest.mark.parametrize("code", [502, 504, 524])
def test_a_proxy_timeout_is_recognisable_and_indeterminate(tmp_path: Path, code: int) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(code, text="<html>gateway timeout</html>")

    with History(tmp_path / "h.jsonl") as history:
        reply = client(handler, history=history).status("j1")
    assert reply.proxy_timeout and (reply.outcome, reply.error, reply.http_status) == ("info", "proxy_timeout", code)
    assert read_history([tmp_path / "h.jsonl"])[1].http_status == code


@pytest.mark.parametrize(
    ("exc", "outcome", "error"),
    [
        (httpx.ConnectError("refused"), "fail", "connect"),
        (httpx.ReadTimeout("slow"), "info", "timeout"),
        (httpx.RemoteProtocolError("cut"), "info", "disconnected"),
    ],
)
def test_network_errors_are_failures_before_sending_and_indeterminate_after(
    exc: Exception, outcome: str, error: str
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    reply = client(handler).initiate([1])
    assert (reply.outcome, reply.error, reply.http_status) == (outcome, error, None)


def test_a_refusal_is_a_definite_failure_and_a_success_without_a_job_is_indeterminate() -> None:
    problem = {"type": "about:blank", "title": "Bad Request", "detail": "fileIds: must not be empty"}
    refused = client(lambda r: httpx.Response(422, json=problem)).initiate([])
    garbled = client(lambda r: httpx.Response(202, text="ok")).initiate([1])
    assert (refused.outcome, refused.error, refused.job) == ("fail", "http_422", None)
    assert (garbled.outcome, garbled.error) == ("info", "bad_body")


def test_polling_honours_next_poll_with_jitter_until_a_finished_state() -> None:
    states = iter(
        [status_body("j1", "queued"), status_body("j1", "running", 50, 1), status_body("j1", "completed", 100, 1)]
    )
    clock = Clock()
    result = client(lambda r: httpx.Response(200, json=next(states)), clock).poll_until_terminal("j1", deadline=60)
    assert result.outcome == "ok" and result.polls == 3 and result.job is not None and result.job.status == "completed"
    assert len(clock.sleeps) == 2 and all(1.6 <= s <= 2.4 for s in clock.sleeps)


def test_polling_keeps_going_through_transient_failures_and_polls_once_more_at_the_deadline() -> None:
    clock = Clock()
    answers = iter([httpx.Response(503), httpx.Response(504)])

    def handler(request: httpx.Request) -> httpx.Response:
        return next(answers, None) or httpx.Response(200, json=status_body("j1", "running", 10, 1))

    result = client(handler, clock, timeouts=Timeouts(default_poll_s=1.0)).poll_until_terminal("j1", deadline=5)
    assert result.outcome == "info" and result.job is not None and result.job.status == "running"
    assert sum(clock.sleeps) == pytest.approx(5.0) and result.polls >= 4


def test_polling_stops_when_the_job_is_unknown() -> None:
    result = client(lambda r: httpx.Response(404, json={"title": "Not Found"})).poll_until_terminal("j1", 60)
    assert (result.outcome, result.polls, result.last.http_status) == ("fail", 1, 404)


def test_the_sse_parser_handles_heartbeats_split_lines_crlf_and_multiline_data() -> None:
    parser = SseParser()
    stream = (
        b': ping\r\n\r\nevent: snapshot\r\nid: 1\r\ndata: {"a":\r\n\r\n'
        b": ping\n\nevent: progress\nid: 2\ndata: x\ndata: y\n\n"
    )
    events = [e for i in range(0, len(stream), 3) for e in parser.feed(stream[i : i + 3])]
    assert [(e.event, e.id, e.data) for e in events] == [("snapshot", "1", '{"a":'), ("progress", "2", "x\ny")]
    assert parser.comments == 2


def job_stream(clock: Clock, cut_after: int | None = None, first: int = 1) -> list[tuple[float, bytes]]:
    """A job's stream from event id `first`: snapshot, two progress events with heartbeats between, completed."""
    events = [
        (0.2, sse("snapshot", 1, status_body("j1", "queued"))),
        (1.0, b": ping\n\n"),
        (1.0, sse("progress", 2, status_body("j1", "running", 30, 1))),
        (1.5, b": ping\n\n"),
        (0.5, sse("progress", 3, status_body("j1", "running", 80, 1))),
        (0.3, sse("completed", 4, status_body("j1", "completed", 100, 1, checksum="sha256:00"))),
    ]
    return [e for e in events if e[1].startswith(b":") or int(e[1].split(b"id: ")[1].split(b"\n")[0]) >= first][
        :cut_after
    ]


def test_following_a_stream_measures_the_largest_gap_between_bytes_with_heartbeats_counting(tmp_path: Path) -> None:
    clock = Clock()

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["accept"] == "text/event-stream" and "last-event-id" not in request.headers
        return httpx.Response(
            200, headers={"content-type": "text/event-stream"}, stream=Chunks(clock, job_stream(clock))
        )

    with History(tmp_path / "h.jsonl") as history:
        result = client(handler, clock, history=history).follow_sse("j1", deadline=60)
    assert result.ok and result.terminal == "completed" and result.terminal_events == 1
    assert [e.event for e in result.events] == ["snapshot", "progress", "progress", "completed"]
    assert result.max_gap_s == pytest.approx(1.5) and result.first_event_s == pytest.approx(0.2)
    assert (result.heartbeats, result.connections, result.last_event_id, result.status) == (2, 1, 4, "completed")
    records = read_history([tmp_path / "h.jsonl"])
    assert [r.type for r in records] == ["invoke", "event", "event", "event", "event", "ok"]
    assert [r.event_id for r in records if r.type == "event"] == [1, 2, 3, 4]
    assert records[2].progress == 30 and records[2].attempts == 1 and records[-1].max_gap_s == pytest.approx(1.5)


def test_a_cut_stream_is_resumed_with_last_event_id_and_the_terminal_event_arrives_once(tmp_path: Path) -> None:
    clock, asked = Clock(), []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request.headers.get("last-event-id"))
        resumed = asked[-1] is not None
        chunks = job_stream(clock, first=int(asked[-1]) + 1) if resumed else job_stream(clock, cut_after=3)
        body = Chunks(clock, chunks, cut=not resumed)
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=body)

    path = tmp_path / "h.jsonl"
    with History(path) as history:
        result = client(handler, clock, history=history).follow_sse("j1", deadline=60)
    assert asked == [None, "2"]
    assert result.ok and result.connections == 2 and result.terminal_events == 1
    assert [e.id for e in result.events] == ["1", "2", "3", "4"]
    streams = [r for r in read_history([path]) if r.op == "stream"]
    assert [(r.type, r.error, r.last_event_id) for r in streams] == [
        ("invoke", None, None),
        ("info", "disconnected", None),
        ("invoke", None, 2),
        ("ok", None, None),
    ]
    assert len({r.follower for r in streams}) == 1
    assert not check(read_history([path]), CheckParams(deadline_s=60, idle_timer_s=3, budget_s=2)).anomalies


def test_a_stream_closed_before_its_terminal_event_is_a_failure_when_not_resumed() -> None:
    clock = Clock()

    def handler(request: httpx.Request) -> httpx.Response:
        body = Chunks(clock, job_stream(clock, cut_after=2))
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=body)

    result = client(handler, clock).follow_sse("j1", deadline=60, reconnect=False)
    assert (result.outcome, result.error, result.terminal) == ("fail", "eof_before_terminal", None)


def test_a_client_that_walks_away_is_recorded_as_an_indeterminate_disconnect() -> None:
    clock = Clock()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, headers={"content-type": "text/event-stream"}, stream=Chunks(clock, job_stream(clock))
        )

    result = client(handler, clock).follow_sse("j1", deadline=60, stop_after_events=2)
    assert (result.outcome, result.error, len(result.events), result.connections) == ("info", "client_disconnect", 2, 1)


def test_a_stream_refused_by_a_proxy_is_retried_and_an_unknown_job_is_not() -> None:
    clock, codes = Clock(), iter([504, 404])
    result = client(lambda r: httpx.Response(next(codes)), clock).follow_sse("j1", deadline=60)
    assert (result.outcome, result.http_status, result.connections) == ("fail", 404, 2)


def artifact_handler(content: bytes, checksum: str) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/download/status/j1":
            return httpx.Response(200, json=status_body("j1", "completed", 100, 1, checksum=checksum))
        if request.url.path == "/v1/download/j1":
            return httpx.Response(302, headers={"Location": "/artifacts/j1.bin?md5=abc&expires=99"})
        assert str(request.url) == f"{BASE}/artifacts/j1.bin?md5=abc&expires=99"
        return httpx.Response(200, content=content)

    return handler


def test_download_follows_the_redirect_through_the_base_url_and_verifies_the_checksum(tmp_path: Path) -> None:
    content = b"artifact bytes" * 1000
    good = "sha256:" + hashlib.sha256(content).hexdigest()
    with History(tmp_path / "h.jsonl") as history:
        result = client(artifact_handler(content, good), history=history).download("j1")
    assert result.outcome == "ok" and result.checksum_ok and result.size == len(content) and result.sha256 == good
    ops = [(r.op, r.type, r.http_status) for r in read_history([tmp_path / "h.jsonl"]) if r.type != "invoke"]
    assert ops == [("status", "ok", 200), ("download", "ok", 302), ("artifact", "ok", 200)]


def test_a_checksum_mismatch_is_detected_and_recorded(tmp_path: Path) -> None:
    with History(tmp_path / "h.jsonl") as history:
        result = client(artifact_handler(b"tampered", "sha256:" + "0" * 64), history=history).download("j1")
    assert (result.outcome, result.checksum_ok, result.error) == ("fail", False, "checksum_mismatch")
    last = read_history([tmp_path / "h.jsonl"])[-1]
    assert (last.op, last.checksum_ok) == ("artifact", False)
    verdict = check(read_history([tmp_path / "h.jsonl"]), CheckParams())
    assert [a.kind for a in verdict.anomalies] == ["checksum_mismatch"]


def test_download_of_a_job_not_ready_returns_its_status() -> None:
    reply = client(lambda r: httpx.Response(409, json=status_body("j1", "running", 40, 1))).download("j1", "sha256:0")
    assert (reply.outcome, reply.http_status, reply.error) == ("fail", 409, "not_ready")


def test_a_404_that_means_not_ready_is_not_taken_for_a_lost_job(tmp_path: Path) -> None:
    """A profile whose download answers 404 until the job is done: that 404 says "not ready", the status
    endpoint's 404 still says "unknown job", and the checker judges each accordingly (and the control:
    the same answers read through the reference profile make the download 404 a lost job)."""
    other = ContractProfile(name="other", codes={"not_ready": (404,), "unknown": (404,)})

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/download/initiate":
            return httpx.Response(202, json=status_body("j1", "queued"))
        return httpx.Response(404, json={"error": "not ready"})

    for profile, expected in ((other, ["not_ready", []]), (ContractProfile(), ["unknown_job", ["lost_job"]])):
        path = tmp_path / f"{profile.name}.jsonl"
        with History(path) as history, client(handler, history=history, profile=profile) as c:
            c.initiate([10001])
            reply = c.download("j1", "sha256:0")
        kinds = [a.kind for a in check(read_history([path]), CheckParams()).anomalies]
        assert [reply.error, kinds] == expected, profile.name
    status = client(handler, profile=other).status("j1")
    assert (status.outcome, status.error) == ("fail", "unknown_job")


def test_cancel_and_legacy_start_are_recorded_operations(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/v1/download/cancel/"):
            return httpx.Response(200, json=status_body("j1", "cancelled", 10, 1))
        return httpx.Response(524, text="origin timed out")

    with History(tmp_path / "h.jsonl") as history, client(handler, history=history) as c:
        cancelled, legacy = c.cancel("j1"), c.legacy_start([1], client_request_id="r9")
    assert cancelled.ok and cancelled.job is not None and cancelled.job.status == "cancelled"
    assert legacy.proxy_timeout and legacy.outcome == "info"
    done = [r for r in read_history([tmp_path / "h.jsonl"]) if r.type != "invoke"]
    assert [(r.op, r.status, r.http_status) for r in done] == [
        ("cancel", "cancelled", 200),
        ("legacy_start", None, 524),
    ]
    assert check(read_history([tmp_path / "h.jsonl"]), CheckParams()).stats.proxy_timeouts["legacy"] == {524: 1}
