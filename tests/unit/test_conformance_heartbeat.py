"""The `sse.heartbeat` point judges only a stream that lived two declared intervals: each branch, on a stub run.

The stub's stream "lives" as long as its clock says, so the branches are reached deterministically, with no
service and no waiting.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from harness.conformance import flows

pytestmark = pytest.mark.unit

HB = 1.0  # the declared heartbeat interval on this clock, s


class StubRun:
    """What `_heartbeat` reads of a run: the declared interval, the budget left and one followed stream."""

    def __init__(self, stream: Any, lives_s: float, clock: list[float]) -> None:
        self.config = SimpleNamespace(heartbeat_wall_s=HB)
        self.flow = SimpleNamespace(follow_sse=self._follow)
        self._stream, self._lives_s, self._clock = stream, lives_s, clock

    def remaining(self, reserve_s: float = 0.0) -> float:
        return 60.0

    def _follow(self, job_id: str, window: float, reconnect: bool) -> Any:
        self._clock[0] += self._lives_s
        return self._stream


def stream(terminal: str | None, max_gap_s: float, heartbeats: int = 0, http_status: int = 200) -> Any:
    return SimpleNamespace(
        terminal=terminal, max_gap_s=max_gap_s, heartbeats=heartbeats, events=[], http_status=http_status
    )


@pytest.mark.parametrize(
    ("seen", "lives_s", "verdict", "says"),
    [
        (stream("completed", 0.03), 0.03, "inconclusive", "before two heartbeat intervals"),
        (stream(None, 0.03), 0.03, "fail", "closed with no terminal event"),
        (stream("completed", 3.0 * HB), 3.0 * HB, "fail", "largest silence 3.00 s"),
        (stream(None, 0.5, http_status=502), 2.5 * HB, "fail", "largest silence"),
        (stream(None, 0.9 * HB, heartbeats=2), 2.5 * HB, "pass", "2 heartbeats"),
    ],
    ids=["ended-early-inconclusive", "cut-early-fails", "silence-too-long", "not-200", "lived-and-beat"],
)
def test_each_branch_of_the_heartbeat_point(
    monkeypatch: pytest.MonkeyPatch, seen: Any, lives_s: float, verdict: str, says: str
) -> None:
    clock = [100.0]
    monkeypatch.setattr(flows.time, "monotonic", lambda: clock[0])
    point = flows._heartbeat(StubRun(seen, lives_s, clock), "job-1")  # type: ignore[arg-type]
    assert point.verdict == verdict, point
    assert says in point.evidence, point.evidence
