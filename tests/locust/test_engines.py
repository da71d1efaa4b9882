"""The two HTTP engines under ServiceClient (httpx, and geventhttpclient for the Locust users) leave the same
history lines and the same Locust rows for the same exchanges, and classify failures alike.

No Locust here: `harness.clients.fast` and `harness.locust.metrics` do not import it (nor monkey-patch)."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.clients import ServiceClient
from harness.clients.fast import FastServiceClient
from harness.contract import Timeouts
from harness.core.net import free_port
from harness.judge.history import History, read_history
from harness.locust.metrics import MetricsRecorder
from tests.conftest import LocalService

pytestmark = pytest.mark.contract


class Rows:
    """A stand-in for Locust's request event: remembers what each row would show."""

    def __init__(self) -> None:
        self.fired: list[tuple[str, str, str | None]] = []

    def fire(self, **kw: Any) -> None:
        error = kw["exception"]
        self.fired.append((kw["request_type"], kw["name"], None if error is None else str(error)))


def client(engine: str, url: str, history: Any, timeouts: Timeouts | None = None) -> ServiceClient:
    timeouts = timeouts or Timeouts()
    if engine == "httpx":
        return ServiceClient(url, history, engine, timeouts=timeouts)
    budget = timeouts.request_s
    return FastServiceClient(
        url, network_timeout=budget, connection_timeout=budget, history=history, client_id=engine, timeouts=timeouts
    )


def exchanges(c: ServiceClient) -> None:
    """Answers of every kind: 202, 200, 404, 400, 409 and 302 for downloads, a cancel, an artifact."""
    crid = f"{c.client_id}-{uuid.uuid4()}"
    job = c.initiate([10_001, 10_002], crid, simulate={"durationMs": 60_000}).job
    assert job is not None and job.job_id
    c.status(job.job_id)
    c.initiate([10_001, 10_002], crid)
    c.status(str(uuid.uuid4()))
    c.initiate([1])
    c.download(job.job_id, "sha256:00")
    c.cancel(job.job_id)
    quick = c.initiate([10_003], simulate={"durationMs": 0}).job
    assert quick is not None and quick.job_id
    done = c.poll_until_terminal(quick.job_id, 20).job
    assert done is not None and done.status == "completed"
    got = c.download(quick.job_id, done.checksum)
    assert got.checksum_ok, got


def shape(path: Path) -> list[tuple[Any, ...]]:
    """What each line says, without ids, times and the job's moving state; a repeated poll counts once."""
    out: list[tuple[Any, ...]] = []
    for rec in read_history(path):
        present = tuple(k for k in ("job_id", "client_request_id", "status", "attempts") if getattr(rec, k) is not None)
        out.append((rec.type, rec.op, rec.http_status, rec.error, present))
        if len(out) >= 4 and out[-2:] == out[-4:-2]:
            del out[-2:]
    return out


def once(rows: list[Any]) -> list[Any]:
    return [row for i, row in enumerate(rows) if i == 0 or row != rows[i - 1]]


def test_both_engines_record_the_same_lines_and_rows(service: LocalService, tmp_path: Path) -> None:
    seen = {}
    for engine in ("httpx", "fast"):
        rows = Rows()
        history = History(tmp_path / f"{engine}.jsonl")
        with history, client(engine, service.url, MetricsRecorder(history, rows)) as c:  # type: ignore[arg-type]
            exchanges(c)
        seen[engine] = (shape(tmp_path / f"{engine}.jsonl"), once(rows.fired))
    assert seen["fast"] == seen["httpx"]
    statuses = {line[2] for line in seen["fast"][0]}
    assert {202, 200, 404, 400, 409, 302} <= statuses, statuses


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel does) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


@pytest.mark.parametrize("engine", ["httpx", "fast"])
def test_failures_are_classified_alike(engine: str, silent_port: int) -> None:
    quick = Timeouts(request_s=0.3, connect_s=0.3)
    with client(engine, f"http://127.0.0.1:{free_port()}", None, quick) as refused:
        got = refused.status("x")
        assert (got.outcome, got.error, got.http_status) == ("fail", "connect", None)
    with client(engine, f"http://127.0.0.1:{silent_port}", None, quick) as silent:
        got = silent.initiate([10_001])
        assert (got.outcome, got.error, got.http_status) == ("info", "timeout", None)
