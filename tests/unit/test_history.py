"""The history is what every verdict rests on: lines must round-trip, survive concurrent writers and merge in order."""

from __future__ import annotations

import json
import multiprocessing
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.core.errors import HarnessError
from harness.judge.history import History, NullHistory, fault_windows, read_history

pytestmark = pytest.mark.unit


def test_an_operation_is_an_invoke_and_a_completion_sharing_its_id(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    with History(path) as history:
        inv = history.invoke("initiate", "client-1", client_request_id="r-1")
        latency = history.complete(inv, "ok", job_id="j-1", status="queued", http_status=202)
        stream = history.invoke("stream", "client-1", job_id="j-1", follower="f-1", last_event_id=3)
        history.event(stream, event="progress", event_id=4, status="running", progress=40.0, attempts=1)
        history.complete(stream, "info", error="timeout", max_gap_s=1.5, first_event_s=0.2)
    invoke, done, _, event, cut = read_history([path])
    assert (invoke.type, done.type, invoke.op_id) == ("invoke", "ok", done.op_id)
    assert (done.job_id, done.client_request_id, done.status, done.http_status) == ("j-1", "r-1", "queued", 202)
    assert done.latency_s == pytest.approx(latency, abs=1e-5) and done.latency_s is not None
    assert done.invoke_wall == pytest.approx(done.wall - done.latency_s)
    assert (event.type, event.op, event.op_id, event.follower) == ("event", "stream_event", stream.op_id, "f-1")
    assert (event.event_id, event.progress, event.attempts) == (4, 40.0, 1)
    assert (cut.type, cut.error, cut.max_gap_s, cut.job_id) == ("info", "timeout", 1.5, "j-1")
    assert invoke.source == f"{path}:1" and cut.source == f"{path}:5"
    assert all(json.loads(line)["process"] == "client-1" for line in path.read_text().splitlines())


def test_absent_observations_are_not_written(tmp_path: Path) -> None:
    with History(tmp_path / "h.jsonl") as history:
        history.complete(history.invoke("status", "c", job_id="j"), "fail", error="connect")
    line = json.loads((tmp_path / "h.jsonl").read_text().splitlines()[1])
    assert set(line) == {"type", "op", "op_id", "process", "job_id", "latency_s", "error", "wall", "mono"}


def test_threads_sharing_one_history_never_interleave_lines(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    with History(path) as history:

        def work(n: int) -> None:
            for i in range(200):
                history.complete(history.invoke("status", f"t{n}", job_id=f"j{n}-{i}" * 20), "ok", status="running")

        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    records = read_history([path])
    assert len(records) == 8 * 200 * 2
    assert len({r.op_id for r in records}) == 8 * 200


def _write_from_process(path: str, process: str, count: int) -> None:
    with History(path) as history:
        for i in range(count):
            history.complete(history.invoke("status", process, job_id=f"{process}-{i}"), "ok", status="queued")


def test_processes_append_to_one_file_or_their_own_and_the_reader_merges_by_wall_time(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    shared, own = str(tmp_path / "shared.jsonl"), [str(tmp_path / f"p{n}.jsonl") for n in range(3)]
    procs = [ctx.Process(target=_write_from_process, args=(shared, f"s{n}", 300)) for n in range(3)]
    procs += [ctx.Process(target=_write_from_process, args=(own[n], f"p{n}", 100)) for n in range(3)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()
    assert [proc.exitcode for proc in procs] == [0] * 6
    records = read_history([shared, *own])
    assert len(records) == 3 * 300 * 2 + 3 * 100 * 2
    walls = [r.wall for r in records]
    assert walls == sorted(walls)
    assert {r.process for r in records} == {"s0", "s1", "s2", "p0", "p1", "p2"}


def test_a_line_cut_by_a_killed_writer_is_skipped_but_a_corrupt_line_inside_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    with History(path) as history:
        history.complete(history.invoke("status", "c", job_id="j"), "ok", status="queued")
    with path.open("a") as f:
        f.write('{"type": "invoke", "op": "sta')
    assert len(read_history([path])) == 2
    with path.open("a") as f:
        f.write("\n" + json.dumps({"type": "ok", "wall": 1.0, "mono": 1.0}) + "\n")
    with pytest.raises(HarnessError, match=r"h.jsonl:3"):
        read_history(path)


def test_writing_after_close_names_the_file(tmp_path: Path) -> None:
    history = History(tmp_path / "h.jsonl")
    history.close()
    with pytest.raises(HarnessError, match=r"h\.jsonl is closed"):
        history.invoke("status", "c")


@dataclass(frozen=True)
class Window:
    """Shaped like harness.faults.base.FaultWindow: what a stack's fault_listener receives."""

    fault: str
    kind: str
    target: str
    start_wall: float
    start_mono: float
    end_wall: float | None = None
    end_mono: float | None = None


def test_fault_windows_are_recorded_open_then_closed_and_read_back_once(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    opened = Window("Latency(proxy='api', ms=2000)", "toxic", "api", 10.0, 5.0)
    with History(path) as history:
        history.record_fault(opened)
        history.record_fault(Window(opened.fault, "toxic", "api", 10.0, 5.0, 12.0, 7.0))
        history.record_fault({"fault": "RedisRestart()", "kind": "process", "start_wall": 11.0, "start_mono": 6.0})
    windows = fault_windows(read_history([path]))
    assert [(w.fault, w.end_wall) for w in windows] == [
        ("Latency(proxy='api', ms=2000)", 12.0),
        ("RedisRestart()", None),
    ]
    assert windows[0].kind == "toxic" and windows[0].target == "api"


def test_null_history_measures_latency_and_records_nothing() -> None:
    null = NullHistory()
    inv = null.invoke("status", "c", job_id="j")
    assert inv.job_id == "j" and null.complete(inv, "ok") >= 0.0
    assert null.invoke("status", "c").op_id != inv.op_id


def test_a_history_line_is_the_same_json_whichever_encoder_writes_it(tmp_path: Path) -> None:
    from harness.judge.history import encoder

    line = {"type": "ok", "op": "status", "op_id": "1-a-0", "process": "c", "latency_s": 0.001234, "progress": 0.5,
            "attempts": 1, "checksum_ok": False, "error": None, "fault": "Latency(ms=100)", "wall": 1.5}  # fmt: skip
    assert json.loads(encoder()(line)) == line
    assert encoder()(line) == json.dumps(line, separators=(",", ":")).encode()
