"""The checker's negative controls: for each invariant a clean history passes and a crafted faulty one is caught
with the right anomaly kind. Histories are synthetic: times are chosen, nothing waits."""

from __future__ import annotations

import argparse
import itertools
import json
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import pytest

from harness.cli.check import register_cli
from harness.judge import CheckParams, CheckResult, Record, check, render_text
from harness.judge.render import to_json
from harness.judge.transitions import SAME_ATTEMPT, rank, reachable

pytestmark = pytest.mark.unit

PARAMS = CheckParams(deadline_s=100.0, idle_timer_s=3.0, budget_s=2.0)


class Story:
    """Builds a history with chosen wall times; each op is an invoke at t0 and a completion at t1."""

    def __init__(self) -> None:
        self.records: list[Record] = []
        self._ids = itertools.count()

    def op(self, op: str, t0: float, t1: float, outcome: str = "ok", process: str = "c1", **seen: Any) -> Record:
        op_id = f"{process}-{next(self._ids)}"
        keep = {k: seen[k] for k in ("job_id", "client_request_id", "follower", "last_event_id") if k in seen}
        self.records.append(Record("invoke", t0, t0, op, op_id, process, **keep, source=f"h:{len(self.records) + 1}"))
        done = Record(
            outcome, t1, t1, op, op_id, process, latency_s=t1 - t0, **seen, source=f"h:{len(self.records) + 1}"
        )
        self.records.append(done)
        return done

    def initiate(self, job: str, t: float, crid: str | None = None) -> Record:
        return self.op("initiate", t, t + 0.05, job_id=job, client_request_id=crid, status="queued", http_status=202)

    def status(self, job: str, t0: float, t1: float, status: str, attempts: int = 0, progress: float = 0.0) -> Record:
        seen: dict[str, Any] = {"status": status, "attempts": attempts, "progress": progress, "http_status": 200}
        return self.op("status", t0, t1, job_id=job, **seen)

    def stream(
        self,
        job: str,
        t0: float,
        events: list[tuple[float, str, int, dict[str, Any]]],
        end: tuple[float, str, str | None],
        follower: str = "f1",
        last_event_id: int | None = None,
        max_gap_s: float = 0.5,
    ) -> None:
        """One connection: events as (time, name, id, fields), ending at end=(time, outcome, error)."""
        op_id = f"s-{next(self._ids)}"
        s = f"h:{len(self.records) + 1}"
        self.records.append(Record("invoke", t0, t0, "stream", op_id, "c1", job_id=job, follower=follower, source=s))
        if last_event_id is not None:
            self.records[-1] = replace(self.records[-1], last_event_id=last_event_id)
        for t, name, event_id, fields in events:
            self.records.append(
                Record(
                    "event",
                    t,
                    t,
                    "stream_event",
                    op_id,
                    "c1",
                    job_id=job,
                    follower=follower,
                    event=name,
                    event_id=event_id,
                    source=f"h:{len(self.records) + 1}",
                    **fields,
                )
            )
        t1, outcome, error = end
        self.records.append(
            Record(
                outcome,
                t1,
                t1,
                "stream",
                op_id,
                "c1",
                job_id=job,
                follower=follower,
                latency_s=t1 - t0,
                error=error,
                max_gap_s=max_gap_s,
                first_event_s=0.1,
                http_status=200,
            )
        )

    def check(self, params: CheckParams = PARAMS) -> CheckResult:
        return check(sorted(self.records, key=lambda r: r.wall), params)


def kinds(result: CheckResult) -> list[str]:
    return sorted(a.kind for a in result.anomalies)


def clean_story() -> Story:
    """One job done right by every kind of client, and a legacy call cut by a 60 s proxy (a fact, not a fault)."""
    s = Story()
    s.initiate("j1", 0.0, crid="r1")
    s.status("j1", 1.0, 1.1, "queued")
    s.status("j1", 2.0, 2.1, "running", attempts=1, progress=10)
    s.status("j1", 3.0, 3.1, "running", attempts=1, progress=50)
    s.status("j1", 4.0, 4.1, "processing_artifacts", attempts=1, progress=100)
    s.status("j1", 5.0, 5.1, "completed", attempts=1, progress=100)
    s.stream(
        "j1",
        0.5,
        [
            (0.6, "snapshot", 1, {"status": "queued", "attempts": 0}),
            (2.5, "progress", 2, {"status": "running", "attempts": 1, "progress": 20.0}),
            (5.0, "completed", 3, {"status": "completed", "attempts": 1, "progress": 100.0}),
        ],
        (5.0, "ok", None),
    )
    s.op("download", 6.0, 6.05, job_id="j1", http_status=302)
    s.op("artifact", 6.05, 6.2, job_id="j1", http_status=200, checksum_ok=True, size=1024)
    s.op("legacy_start", 0.0, 3.0, "info", process="legacy", client_request_id="r2", http_status=504)
    return s


def test_a_clean_history_is_valid_and_its_facts_are_reported() -> None:
    result = clean_story().check()
    assert result.valid, render_text(result)
    stats = result.stats
    assert stats.jobs["acknowledged"] == 1 and stats.jobs["completed"] == 1
    assert stats.proxy_timeouts == {"async": {}, "legacy": {504: 1}}
    assert stats.indeterminate == {"legacy_start": 1}
    assert stats.latency["status"].n == 5 and stats.latency["status"].p50 == pytest.approx(0.1)
    assert "VALID" in render_text(result) and "504 x1" in render_text(result)


def test_a_legacy_proxy_timeout_is_an_anomaly_only_when_asked() -> None:
    strict = CheckParams(**{**asdict(PARAMS), "legacy_strict": True})
    assert kinds(clean_story().check(strict)) == ["legacy_proxy_timeout"]


# Invariant 1: no lost acknowledged job.


def test_a_job_seen_unfinished_after_its_deadline_and_never_finished_is_lost() -> None:
    s = Story()
    s.initiate("j1", 0.0)
    s.status("j1", 150.0, 150.1, "queued")
    result = s.check()
    assert kinds(result) == ["lost_job"] and result.stats.jobs["lost"] == 1
    assert [r.source for r in result.anomalies[0].evidence] == ["h:2", "h:4"]


def test_a_job_that_vanishes_after_its_acknowledgment_is_lost() -> None:
    s = Story()
    s.initiate("j1", 0.0)
    s.op("status", 5.0, 5.1, "fail", job_id="j1", http_status=404, error="unknown_job")
    assert kinds(s.check()) == ["lost_job"]


def test_a_job_finished_after_its_deadline_is_late() -> None:
    s = Story()
    s.initiate("j1", 0.0)
    s.status("j1", 120.0, 120.1, "running", attempts=1)
    s.status("j1", 130.0, 130.1, "completed", attempts=1)
    result = s.check()
    assert kinds(result) == ["deadline_missed"] and result.stats.jobs["late"] == 1


# The stall rule: a running attempt may show no change for its expected work plus the stall recovery.
STALL = replace(PARAMS, stall_s=15.0, time_scale=1.0)  # 15 s recovery; STALL_SLACK_S (1 s) on top


def stalled_story(expect_s: float | None, stuck_until: float, progress_moves: bool = False) -> Story:
    """A 10 s job whose attempt 1 sits at progress 0.3 from t=2 until `stuck_until` (polled each 2 s), then done."""
    s = Story()
    s.op("initiate", 0.0, 0.05, job_id="j1", status="queued", http_status=202, expect_s=expect_s)
    t, step = 1.0, 0
    while t < stuck_until:
        s.status("j1", t, t + 0.1, "running", attempts=1, progress=0.3 + (0.01 * step if progress_moves else 0.0))
        t, step = t + 2.0, step + 1
    s.status("j1", t, t + 0.1, "completed", attempts=1, progress=1.0)
    return s


def test_a_running_attempt_stuck_past_its_work_and_stall_recovery_misses_its_deadline() -> None:
    result = stalled_story(10.0, 40.0).check(STALL)  # stuck ~38 s > 10 + 15 + 1
    assert kinds(result) == ["deadline_missed"] and result.stats.jobs["late"] == 1
    (anomaly,) = result.anomalies
    assert "with no change from h:4 to" in anomaly.message and "beyond the 26.0 s its 10 s of work" in anomaly.message
    assert [r.progress for r in anomaly.evidence] == [0.3, 0.3]


def test_the_stall_rule_passes_what_its_bounds_allow() -> None:
    assert not stalled_story(10.0, 25.0).check(STALL).anomalies, "within 10 + 15 + 1 s"
    assert not stalled_story(10.0, 40.0, progress_moves=True).check(STALL).anomalies, "progress moved: not stuck"
    assert not stalled_story(None, 40.0).check(STALL).anomalies, "unknown expected work: not judged"
    assert not stalled_story(10.0, 40.0).check(replace(STALL, stall_s=None)).anomalies, "the rule off"
    assert not stalled_story(30.0, 40.0).check(STALL).anomalies, "a 30 s job may sit that long"


def test_an_open_stream_silent_on_a_running_attempt_past_its_bound_misses_its_deadline() -> None:
    def story(split: bool) -> Story:
        s = Story()
        s.op("initiate", 0.0, 0.05, job_id="j1", status="queued", http_status=202, expect_s=10.0)
        running = (1.0, "progress", 1, {"status": "running", "attempts": 1, "progress": 0.3})
        done = (40.0, "completed", 2, {"status": "completed", "attempts": 1, "progress": 1.0})
        if split:  # two connections: the client was away in between, a resume replays what it missed
            s.stream("j1", 0.5, [running], (2.0, "info", "disconnected"))
            s.stream("j1", 39.5, [done], (40.1, "ok", None), last_event_id=1)
        else:
            s.stream("j1", 0.5, [running, done], (40.1, "ok", None))
        return s

    result = story(split=False).check(STALL)
    assert kinds(result) == ["deadline_missed"], render_text(result)
    assert "39.0 s, beyond the 26.0 s" in result.anomalies[0].message
    assert not story(split=True).check(STALL).anomalies, "a silence across a reconnection is not the stream's"


def test_the_stall_rule_excuses_a_dependency_fault_and_allows_a_dead_workers_window() -> None:
    redis = stalled_story(10.0, 40.0)
    redis.records.append(Record("fault", 5.0, 5.0, fault="RedisOutage()", kind="redis_outage", target="redis",
                                start_wall=5.0, start_mono=5.0, end_wall=8.0))  # fmt: skip
    assert not redis.check(STALL).anomalies, "the service could not move while Redis was down"
    worker = stalled_story(10.0, 40.0)
    worker.records.append(Record("fault", 5.0, 5.0, fault="WorkerKill()", kind="worker_kill", target="worker-0",
                                 start_wall=5.0, start_mono=5.0, end_wall=25.0))  # fmt: skip
    assert not worker.check(STALL).anomalies, "a dead worker's 20 s window adds to the bound (46 s)"
    short = stalled_story(10.0, 40.0)
    short.records.append(Record("fault", 5.0, 5.0, fault="WorkerKill()", kind="worker_kill", target="worker-0",
                                start_wall=5.0, start_mono=5.0, end_wall=7.0))  # fmt: skip
    assert kinds(short.check(STALL)) == ["deadline_missed"], "a 2 s kill does not excuse 38 s stuck"


def test_an_unfinished_job_is_not_judged_without_an_observation_after_its_deadline() -> None:
    s = Story()
    s.initiate("j1", 0.0)
    s.status("j1", 50.0, 50.1, "running", attempts=1)
    pending = s.check()
    assert pending.verdict == "INCONCLUSIVE" and pending.stats.jobs["pending"] == 1, "not judged is no pass"
    assert "none of the 1 acknowledged jobs was seen to an end" in pending.inconclusive[0]
    s.op("status", 500.0, 500.1, job_id="other", status="queued", attempts=0)
    unobserved = s.check()
    assert unobserved.verdict == "INCONCLUSIVE" and unobserved.stats.jobs["unobserved"] == 1


def test_an_indeterminate_initiate_is_not_an_acknowledgment() -> None:
    s = Story()
    s.op("initiate", 0.0, 5.0, "info", client_request_id="r1", error="timeout")
    s.op("status", 500.0, 500.1, job_id="j9", status="queued", attempts=0)
    result = s.check()
    assert not result.anomalies and result.stats.jobs["acknowledged"] == 0
    assert (
        result.verdict == "INCONCLUSIVE"
        and "no job was acknowledged (1 initiates, 0 acknowledged)" in (result.inconclusive[0])
    )


# Invariant 2: status never moves backwards, progress never decreases within an attempt.


@pytest.mark.parametrize(
    ("first", "then", "kind"),
    [
        (("completed", 1, 100), ("running", 1, 100), "status_regression"),
        (("running", 2, 10), ("running", 1, 90), "status_regression"),
        (("processing_artifacts", 1, 100), ("running", 1, 100), "status_regression"),
        (("queued", 1, 0), ("running", 1, 0), "status_regression"),
        (("completed", 1, 100), ("failed", 1, 100), "status_regression"),
        (("running", 1, 60), ("running", 1, 30), "progress_regression"),
        (("running", 1, 60), ("processing_artifacts", 1, 40), "progress_regression"),
        (("running", 2, 10), ("completed", 1, 100), "status_regression"),
        (("expired", 1, 100), ("completed", 1, 100), "status_regression"),
    ],
)
def test_a_backward_move_seen_in_real_time_order_is_reported(
    first: tuple[str, int, float], then: tuple[str, int, float], kind: str
) -> None:
    s = Story()
    s.initiate("j1", 0.0)
    s.status("j1", 1.0, 1.1, *first)
    s.status("j1", 2.0, 2.1, *then)
    assert kinds(s.check()) == [kind]


def test_a_retry_goes_back_to_queued_and_progress_restarts_with_the_next_attempt() -> None:
    s = Story()
    s.initiate("j1", 0.0)
    for t, state in enumerate(
        [("running", 1, 70), ("queued", 1, 0), ("running", 2, 5), ("running", 3, 1), ("completed", 3, 100)], start=1
    ):
        s.status("j1", float(t), t + 0.1, *state)
    s.status("j1", 9.0, 9.1, "expired", 3, 100)
    assert not s.check().anomalies


def test_concurrent_reads_are_not_ordered() -> None:
    s = Story()
    s.initiate("j1", 0.0)
    s.status("j1", 1.0, 3.0, "completed", attempts=1)
    s.status("j1", 2.0, 2.5, "running", attempts=1)
    assert not s.check().anomalies


def test_a_backward_move_along_one_sse_follower_is_reported() -> None:
    s = Story()
    s.initiate("j1", 0.0)
    events = [
        (1.0, "progress", 1, {"status": "running", "attempts": 1, "progress": 50.0}),
        (2.0, "progress", 2, {"status": "running", "attempts": 1, "progress": 40.0}),
        (3.0, "completed", 3, {"status": "completed", "attempts": 1}),
    ]
    s.stream("j1", 0.5, events, (3.0, "ok", None))
    assert kinds(s.check()) == ["progress_regression"]


def test_the_rank_order_agrees_with_the_transition_table() -> None:
    """The sweep trusts `rank`; the table is the specification. They must agree on well-formed states."""
    active = [(s, a) for s in ("running", "processing_artifacts") for a in (1, 2, 3)]
    states = active + [("queued", a) for a in (0, 1, 2, 3)]
    for src, dst in itertools.product(states, states):
        assert reachable(src, dst) == (rank(*src) <= rank(*dst)), (src, dst)
    for src in states:
        for end in ("completed", "failed", "cancelled", "expired"):
            assert any(reachable(src, (end, a)) for a in range(5)), (src, end)
    assert set(SAME_ATTEMPT) == {
        "queued",
        "running",
        "processing_artifacts",
        "completed",
        "failed",
        "cancelled",
        "expired",
    }


# Invariant 3: one clientRequestId <-> one jobId; artifacts match their checksum.


def test_one_client_request_id_answered_with_two_jobs_is_a_duplicate() -> None:
    s = Story()
    s.initiate("j1", 0.0, crid="r1")
    s.initiate("j2", 1.0, crid="r1")
    s.status("j1", 2.0, 2.1, "completed", 1, 100)
    s.status("j2", 2.0, 2.1, "completed", 1, 100)
    result = s.check()
    assert kinds(result) == ["duplicate_job"] and result.stats.jobs["duplicated"] == 1


def test_the_same_job_for_a_repeated_client_request_id_is_fine() -> None:
    s = Story()
    s.initiate("j1", 0.0, crid="r1")
    s.initiate("j1", 1.0, crid="r1")
    assert not s.check().anomalies


def test_an_artifact_that_does_not_match_its_checksum_is_reported() -> None:
    s = Story()
    s.op("artifact", 1.0, 1.2, "fail", job_id="j1", http_status=200, checksum_ok=False, error="checksum_mismatch")
    assert kinds(s.check()) == ["checksum_mismatch"]


# Invariant 4: no proxy timeout in the async flow, no request over its budget.


def test_a_proxy_timeout_in_the_async_flow_is_an_anomaly() -> None:
    s = clean_story()
    s.op("status", 7.0, 10.0, "info", job_id="j1", http_status=504, error="proxy_timeout")
    result = s.check()
    assert kinds(result) == ["proxy_timeout"]
    assert result.stats.proxy_timeouts["async"] == {504: 1}


def test_a_request_over_budget_is_an_anomaly_but_a_client_timeout_is_indeterminate() -> None:
    s = Story()
    s.op("status", 1.0, 4.0, job_id="j1", status="queued", attempts=0, http_status=200)
    s.op("status", 5.0, 10.0, "info", job_id="j1", error="timeout")
    result = s.check()
    assert kinds(result) == ["over_budget"] and result.stats.indeterminate == {"status": 1}


def test_a_stream_is_judged_by_its_first_event_not_its_length() -> None:
    s = Story()
    s.stream("j1", 0.0, [(50.0, "completed", 1, {"status": "completed"})], (50.0, "ok", None))
    assert not s.check().anomalies
    s.records[-1] = replace(s.records[-1], first_event_s=2.5)
    assert kinds(s.check()) == ["over_budget"]
    s.records[0] = replace(s.records[0], last_event_id=0)  # a resumed stream has no snapshot to wait for
    assert not s.check().anomalies


# Invariant 5: SSE ids increase, one terminal event per follower, no gap reaching the idle timer.


def _events(*ids: int, t0: float = 1.0) -> list[tuple[float, str, int, dict[str, Any]]]:
    """Progress events received 0.1 s apart, carrying the given ids."""
    fields = {"status": "running", "attempts": 1}
    return [(t0 + n / 10, "progress", i, {**fields, "progress": float(i)}) for n, i in enumerate(ids)]


def test_event_ids_that_do_not_increase_within_a_connection_are_reported() -> None:
    s = Story()
    s.stream("j1", 0.0, _events(1, 3, 2), (4.0, "info", "deadline"))
    assert kinds(s.check()) == ["progress_regression", "sse_id_order"]


def test_ids_must_increase_across_a_resume_and_a_resume_that_replays_the_rest_is_fine() -> None:
    good, bad = Story(), Story()
    for s, replay in ((good, [4, 5]), (bad, [2, 5])):
        s.stream("j1", 0.0, _events(1, 2, 3), (3.5, "info", "disconnected"))
        done = (6.0, "completed", 6, {"status": "completed", "attempts": 1})
        s.stream("j1", 3.6, [*_events(*replay, t0=4.0), done], (6.0, "ok", None), last_event_id=3)
    assert not good.check().anomalies, render_text(good.check())
    assert kinds(bad.check()) == ["progress_regression", "sse_id_order"]  # id 2 replayed an older state


def test_two_terminal_events_or_none_on_a_closed_stream_are_reported() -> None:
    twice, never = Story(), Story()
    done = (2.0, "completed", 2, {"status": "completed", "attempts": 1})
    twice.stream("j1", 0.0, [*_events(1), done, (2.1, "completed", 3, done[3])], (2.1, "ok", None))
    never.stream("j1", 0.0, _events(1), (2.0, "fail", "eof_before_terminal"))
    assert kinds(twice.check()) == ["sse_terminal_count"]
    assert kinds(never.check()) == ["sse_early_close", "sse_terminal_count"]  # closed after its one event


def test_a_stream_the_server_closes_after_its_first_event_is_an_early_close_unless_a_fault_explains_it() -> None:
    early, later = Story(), Story()
    early.stream("j1", 0.0, _events(1), (1.5, "fail", "eof_before_terminal"))
    later.stream("j1", 0.0, _events(1, 2, 3), (1.5, "fail", "eof_before_terminal"))  # progress came: a plain cut
    assert "sse_early_close" in kinds(early.check()) and "sse_early_close" not in kinds(later.check())
    early.records.append(Record("fault", 1.6, 1.6, fault="ApiRestart()", kind="api_restart", target="api",
                                start_wall=1.2, end_wall=1.6, source="h:fault"))  # fmt: skip
    assert "sse_early_close" not in kinds(early.check())


def storm(closes: int) -> Story:
    """One follower whose streams the server closes after some progress, `closes` times; then it gets the end."""
    s = Story()
    for n in range(closes):
        s.stream("j1", n * 1.0, _events(1, 2, 3, t0=n * 1.0), (n * 1.0 + 0.9, "info", "eof_before_terminal"))
    done = (closes + 0.5, "completed", 9, {"status": "completed", "attempts": 1})
    s.stream("j1", closes * 1.0, [done], (closes + 0.5, "ok", None), last_event_id=3)
    return s


def test_a_follower_whose_streams_the_server_keeps_closing_is_a_reconnection_storm() -> None:
    assert "sse_reconnect_storm" not in kinds(storm(5).check()), "five closes: reconnecting is what clients do"
    result = storm(6).check()
    assert "sse_reconnect_storm" in kinds(result), render_text(result)
    (found,) = [a for a in result.anomalies if a.kind == "sse_reconnect_storm"]
    assert "the server closed 6 of its streams before the terminal event" in found.message
    faulted = storm(6)
    faulted.records.append(Record("fault", 0.0, 0.0, fault="ResetPeer(proxy='edge')", kind="reset_peer",
                                  target="edge", start_wall=0.0, end_wall=2.5, source="h:fault"))  # fmt: skip
    assert "sse_reconnect_storm" not in kinds(faulted.check()), "three of them met the fault: three calm closes"


def test_a_stream_still_open_long_after_its_job_finished_is_missing_its_terminal_event() -> None:
    s = Story()
    s.initiate("j1", 0.0)
    s.status("j1", 1.0, 1.05, "completed", attempts=1, progress=100.0)
    s.stream("j1", 0.5, _events(2), (9.0, "info", "deadline"))  # open 8 s after completed, idle timer 3 s
    result = s.check()
    assert kinds(result) == ["sse_missing_terminal"], render_text(result)
    assert "still open 7.95 s after the job was seen completed" in result.anomalies[0].message


def test_a_follower_that_gave_up_at_its_deadline_is_not_judged_on_the_terminal_event() -> None:
    s = Story()
    s.stream("j1", 0.0, _events(1), (2.0, "info", "deadline"))
    assert not s.check().anomalies


def test_a_gap_between_bytes_reaching_the_idle_timer_is_reported() -> None:
    s = Story()
    done = (4.0, "completed", 2, {"status": "completed", "attempts": 1})
    s.stream("j1", 0.0, [*_events(1), done], (4.0, "ok", None), max_gap_s=3.2)
    assert kinds(s.check()) == ["sse_gap"]


# Invariant 6: a disconnect never cancels (or loses) a job.


def test_a_job_cancelled_without_any_cancel_request_is_reported() -> None:
    s = Story()
    s.initiate("j1", 0.0)
    s.stream("j1", 0.5, _events(1), (1.5, "info", "client_disconnect"))
    s.status("j1", 3.0, 3.1, "cancelled", 1, 30)
    result = s.check()
    assert kinds(result) == ["unexpected_cancel"]
    s.op("cancel", 2.0, 2.1, "info", job_id="j1", error="timeout")
    assert not s.check().anomalies


def test_an_anomaly_names_the_faults_in_force_around_its_evidence() -> None:
    s = Story()
    s.initiate("j1", 0.0)
    s.status("j1", 1.0, 1.1, "running", 2, 10)
    s.status("j1", 2.0, 2.1, "running", 1, 10)
    s.records.append(Record("fault", 1.5, 1.5, fault="RedisKill()", kind="process", start_wall=1.5, start_mono=1.5))
    s.records.append(Record("fault", 9.0, 9.0, fault="Latency(proxy='api')", start_wall=9.0, end_wall=10.0))
    result = s.check()
    assert [a.during for a in result.anomalies] == [("RedisKill()",)]
    assert "[during RedisKill()]" in render_text(result)


def test_the_verdict_is_json_with_evidence_that_cites_history_lines() -> None:
    s = Story()
    s.initiate("j1", 0.0)
    s.status("j1", 1.0, 1.1, "completed", 1, 100)
    s.status("j1", 2.0, 2.1, "running", 1, 100)
    data = json.loads(json.dumps(to_json(s.check())))
    assert data["valid"] is False and data["params"]["deadline_s"] == PARAMS.deadline_s
    (anomaly,) = data["anomalies"]
    assert anomaly["kind"] == "status_regression" and anomaly["job_id"] == "j1"
    assert [e["source"] for e in anomaly["evidence"]] == ["h:4", "h:6"]


def _write(path: Path, records: list[Record]) -> None:
    lines = [{k: v for k, v in asdict(r).items() if v not in (None, "") and k != "source"} for r in records]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="harness")
    register_cli(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.handler(args)
    return code


def test_the_check_command_exits_1_on_anomalies_and_prints_json_on_request(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clean, broken = tmp_path / "clean.jsonl", tmp_path / "broken.jsonl"
    _write(clean, sorted(clean_story().records, key=lambda r: r.wall))
    s = Story()
    s.initiate("j1", 0.0)
    s.op("status", 1.0, 1.5, "info", job_id="j1", http_status=524, error="proxy_timeout")
    _write(broken, s.records)
    assert _cli(["check", str(clean), "--idle-timer", "3", "--budget", "2"]) == 0
    assert "verdict: VALID" in capsys.readouterr().out
    assert _cli(["check", str(clean), str(broken), "--json", "--deadline", "100"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert [a["kind"] for a in out["anomalies"]] == ["proxy_timeout"]
    assert out["anomalies"][0]["evidence"][0]["source"] == f"{broken}:4"
    assert _cli(["check", str(tmp_path / "missing.jsonl")]) == 2


def test_the_check_command_refuses_a_bound_that_is_no_duration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clean = tmp_path / "clean.jsonl"
    _write(clean, sorted(clean_story().records, key=lambda r: r.wall))
    for flag, value in (("--stall-recovery", "0"), ("--deadline", "-5"), ("--budget", "nan")):
        assert _cli(["check", str(clean), flag, value]) == 2
        err = capsys.readouterr().err
        assert f"{flag} " in err and "is not a duration; give seconds > 0" in err, err
    assert _cli(["check", str(clean), "--stall-recovery", "2.5", "--idle-timer", "3", "--budget", "2"]) == 0


def test_a_fault_no_request_met_makes_the_run_inconclusive() -> None:
    """A fault window with nothing in flight judged nothing about that fault: never a pass."""
    s = clean_story()
    window = {"fault": "RedisOutage()", "kind": "redis_outage", "target": "redis", "start_wall": 40.0}
    s.records.append(Record("fault", 40.0, 40.0, **{k: v for k, v in window.items() if k != "start_wall"},
                            start_wall=40.0, end_wall=45.0, source="h:fault"))  # fmt: skip
    missed = s.check()
    assert missed.verdict == "INCONCLUSIVE" and not missed.anomalies, render_text(missed)
    assert missed.inconclusive == ("fault RedisOutage() met no request: none was in flight during its 5.00 s",)
    s.status("j1", 39.0, 41.0, "completed", attempts=1, progress=100.0)  # one poll in flight across its start
    met = s.check()
    assert met.verdict == "VALID" and met.valid, render_text(met)


def test_a_5xx_of_the_service_other_than_503_is_a_server_error() -> None:
    s = clean_story()
    s.op("status", 7.0, 7.01, "info", job_id="j1", http_status=500, error="http_500")
    s.op("status", 7.1, 7.11, "info", job_id="j1", http_status=503, error="http_503")  # a fast refusal: fine
    result = s.check()
    assert kinds(result) == ["server_error"] and "status answered 500" in result.anomalies[0].message


def test_a_request_left_hanging_while_redis_is_down_is_hung_not_indeterminate() -> None:
    """A timeout during a Redis fault is the service hanging instead of failing fast; the same timeout with no
    dependency down (a network fault on the edge) stays indeterminate."""
    s = clean_story()
    s.op("status", 10.0, 15.0, "info", job_id="j1", error="timeout")  # 5 s, budget 2 s
    assert not s.check().anomalies
    s.records.append(Record("fault", 16.0, 16.0, fault="RedisOutage()", kind="redis_outage", target="redis",
                            start_wall=9.0, end_wall=16.0, source="h:fault"))  # fmt: skip
    result = s.check()
    assert kinds(result) == ["hung_request"], render_text(result)
    assert "got no answer after 5.000 s" in result.anomalies[0].message
    assert result.anomalies[0].during == ("RedisOutage()",)


def test_a_download_refused_after_the_job_was_seen_completed_is_an_unreachable_artifact() -> None:
    s = Story()
    s.initiate("j1", 0.0)
    s.status("j1", 5.0, 5.05, "completed", attempts=1, progress=100.0)
    s.op("download", 5.1, 5.12, "fail", job_id="j1", http_status=404, error="not_ready")
    result = s.check()
    assert kinds(result) == ["artifact_unreachable"], render_text(result)
    assert "download answered 404" in result.anomalies[0].message
    early = Story()  # asked before it was known completed: a not-ready answer is the contract
    early.initiate("j1", 0.0)
    early.op("download", 1.0, 1.02, "fail", job_id="j1", http_status=404, error="not_ready")
    early.status("j1", 5.0, 5.05, "completed", attempts=1, progress=100.0)
    assert not early.check().anomalies


def test_a_503_without_retry_after_is_noted_not_an_anomaly() -> None:
    s = clean_story()
    s.op("status", 7.0, 7.01, "info", job_id="j1", http_status=503, retry_after=True)
    assert not s.check().notes, "a 503 that says when to come back"
    s.op("status", 7.1, 7.11, "info", job_id="j1", http_status=503, retry_after=False)
    s.op("initiate", 7.2, 7.21, "info", http_status=503, retry_after=False)
    result = s.check()
    assert result.valid and not result.anomalies
    assert result.notes == (
        f"2 of 3 503 answers of the async flow carried no Retry-After (first: status at {result_source(s, 7.11)}): "
        "a client cannot tell when to come back",
    )
    assert "  note: 2 of 3 503 answers" in render_text(result)
    assert to_json(result)["notes"] == list(result.notes)


def result_source(s: Story, wall: float) -> str:
    return next(r.source for r in s.records if r.wall == wall and r.type != "invoke")


def test_an_artifact_fetch_with_no_answer_while_a_fault_cut_the_path_is_not_judged() -> None:
    s = Story()
    s.initiate("j1", 0.0)
    s.status("j1", 5.0, 5.05, "completed", attempts=1, progress=100.0)
    s.op("artifact", 6.0, 6.02, "fail", job_id="j1", error="connect")
    assert kinds(s.check()) == ["artifact_unreachable"], "refused with no fault in force: the service's URL"
    s.records.append(Record("fault", 5.5, 5.5, fault="ProxyDown(proxy='edge')", kind="down", target="edge",
                            start_wall=5.5, end_wall=7.0, source="h:fault"))  # fmt: skip
    assert not s.check().anomalies, "the edge was down: the harness cut the path"


def test_a_resource_that_grew_once_the_load_drained_is_a_leak() -> None:
    s = clean_story()
    s.records.insert(0, Record("sample", 0.0, 0.0, op="redis_clients", size=8, source="h:s0"))
    s.records.append(Record("sample", 9.0, 9.0, op="redis_clients", size=11, source="h:s1"))
    assert not s.check().anomalies  # reconnections come and go: a few more is noise
    s.records.append(Record("sample", 9.5, 9.5, op="redis_clients", size=40, source="h:s2"))
    result = s.check()
    assert kinds(result) == ["resource_leak"] and "redis_clients 8 -> 40" in result.anomalies[0].message
    assert "(at most 3 requests in flight)" in result.anomalies[0].message  # the clean story overlaps 3


def test_a_job_the_service_holds_that_no_client_was_told_of_is_a_ghost() -> None:
    s = clean_story()
    s.op("initiate", 7.0, 7.2, "info", client_request_id=None, http_status=500, error="http_500")
    s.records.append(Record("sample", 9.0, 9.0, op="service_job", size=1, job_id="j1", source="h:s1"))
    assert not [a for a in s.check().anomalies if a.kind == "ghost_job"]  # j1 was acknowledged to its client
    s.records.append(Record("sample", 9.1, 9.1, op="service_job", size=1, job_id="j9", source="h:s2"))
    ghosts = [a for a in s.check().anomalies if a.kind == "ghost_job"]
    assert [a.job_id for a in ghosts] == ["j9"] and "no client was ever told of" in ghosts[0].message


def test_a_job_behind_an_initiate_the_network_cut_is_not_counted_a_ghost() -> None:
    s = clean_story()
    s.op("initiate", 7.0, 9.0, "info", client_request_id=None, error="timeout")  # the answer was lost
    s.records.append(Record("sample", 9.5, 9.5, op="service_job", size=1, job_id="j9", source="h:s1"))
    assert not [a for a in s.check().anomalies if a.kind == "ghost_job"]
