"""A Hypothesis state machine over fault schedules: rules initiate, poll, stream, disconnect, cancel, apply and heal
faults against one running stack; invariants run the checker over the history recorded so far.

Each example records its own history and ends by healing the stack, following every acknowledged job to a
finished state and judging the whole history. A failure shrinks to a short schedule that Hypothesis prints as
code (`state = ChaosMachine()`, `state.apply_fault(fault=RedisRestart(graceful=False))`, ...); the fault
objects' reprs are their constructors, so the schedule can be pasted back. Shrinking replays schedules on a real
stack, where timing differs between replays, so Hypothesis may end in an error of its own (a flaky example);
`run_machine` then still raises the first anomaly found and the shortest schedule seen failing, before
Hypothesis's error. Profiles: `ci` (a few short
examples, no example database) and `dev` (many longer ones); HYPOTHESIS_PROFILE picks one, `ci` by default.
"""

from __future__ import annotations

import itertools
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, cast

from hypothesis import HealthCheck, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from harness.chaos.catalogue import prompt_502_during_api_restart
from harness.clients import ServiceClient
from harness.contract import V1, StreamOptions, Timeouts
from harness.core.timescale import scaled
from harness.faults import ApiRestart, Fault, Latency, RedisPause, RedisRestart, ResetPeer, Timeout, WorkerKill
from harness.judge import CheckParams, CheckResult, check, render_text
from harness.judge.history import History, read_history
from harness.judge.invariants import Anomaly
from harness.targets.base import RecordingTarget, Target, heal

PROFILES: dict[str, dict[str, Any]] = {
    "ci": {"max_examples": 4, "stateful_step_count": 15, "database": None},
    "dev": {"max_examples": 40, "stateful_step_count": 30},
}
INSTANT = (RedisRestart, ApiRestart)  # done once applied: their window closes at once
MAX_FAULTS = 3  # per example: schedules stay short, and so does shrinking one on a real stack
FILE_POOL = 100  # jobs name the profile's first 100 valid file ids (all of them, when it has fewer)
FAULTS = st.one_of(
    st.builds(RedisRestart, graceful=st.booleans()),
    st.builds(RedisPause),
    st.builds(WorkerKill, index=st.integers(0, 1)),
    st.builds(ApiRestart),
    st.builds(ResetPeer, st.sampled_from(["edge", "redis"])),
    st.builds(Latency, st.just("api"), ms=st.integers(100, 3000), jitter=st.integers(0, 1000)),
    st.builds(Timeout, st.just("redis")),
)


def register_profiles() -> None:
    for name, values in PROFILES.items():
        settings.register_profile(
            name,
            None,
            deadline=None,
            print_blob=True,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
            **values,
        )


def machine_settings(profile: str | None = None) -> settings:
    """The chosen profile (HYPOTHESIS_PROFILE, else `ci`), applied to the machine only, not to other tests."""
    register_profiles()
    return settings.get_profile(profile or os.environ.get("HYPOTHESIS_PROFILE") or "ci")


class FailureLog:
    """The failing schedules of one machine run: the first anomaly, and the shortest schedule seen failing."""

    def __init__(self) -> None:
        self.first: str | None = None
        self.shortest: tuple[list[str], str] | None = None
        self.count = 0

    def record(self, steps: list[str], anomaly: str) -> None:
        self.count += 1
        self.first = self.first or anomaly
        if self.shortest is None or len(steps) < len(self.shortest[0]):
            self.shortest = (list(steps), anomaly)

    def summary(self) -> str:
        assert self.first is not None and self.shortest is not None
        steps, anomaly = self.shortest
        schedule = "\n".join(f"    {step}" for step in steps) or "    (no step: the initial jobs alone)"
        head = f"the chaos machine found an anomaly ({self.count} failing example(s)); the first:\n{self.first}"
        if anomaly == self.first:
            return f"{head}\nshortest schedule seen failing ({len(steps)} steps):\n{schedule}"
        return f"{head}\nshortest schedule seen failing ({len(steps)} steps), with:\n{anomaly}\n{schedule}"


class MachineFailed(AssertionError):
    """A machine run that found an anomaly, however Hypothesis's own run ended (the cause is chained)."""


def run_machine(machine: type[RuleBasedStateMachine], run_settings: settings) -> None:
    """`run_state_machine_as_test`, but a failure starts with the anomaly and the shortest failing schedule: when
    shrinking on a real stack ends in Hypothesis's own error (a flaky replay), the anomaly is not lost."""
    log: FailureLog = getattr(machine, "failures", None) or FailureLog()
    try:
        run_state_machine_as_test(machine, settings=run_settings)
    except Exception as exc:
        if log.first is None:
            raise
        raise MachineFailed(log.summary()) from exc


@dataclass(frozen=True)
class JobRef:
    job_id: str
    client_request_id: str | None


def _tolerated(anomaly: Anomaly) -> bool:
    return prompt_502_during_api_restart(anomaly)


class ChaosMachine(RuleBasedStateMachine):
    """Bind it to a running stack with `ChaosMachine.bound(stack, params, history_dir)` before running it."""

    stack: ClassVar[Target]
    params: ClassVar[CheckParams]
    history_dir: ClassVar[Path]
    failures: ClassVar[FailureLog]
    _examples: ClassVar[itertools.count[int]] = itertools.count()
    jobs = Bundle("jobs")

    @classmethod
    def bound(cls, stack: Target, params: CheckParams, history_dir: Path) -> type[ChaosMachine]:
        attrs = {
            "stack": stack, "params": params, "history_dir": history_dir,
            "_examples": itertools.count(), "failures": FailureLog(),
        }  # fmt: skip
        return cast(type[ChaosMachine], type("ChaosMachine", (cls,), attrs))

    def __init__(self) -> None:
        super().__init__()
        self.path = self.history_dir / f"example-{next(self._examples)}.jsonl"
        self.history = History(self.path)
        self.target = RecordingTarget(self.stack, self.history.record_fault)
        scale = self.stack.time_scale
        stream = StreamOptions.outlasting(self.params.idle_timer_s or scaled(60.0, scale), scale)
        self.timeouts = Timeouts(request_s=2.0, stream=stream, default_poll_s=0.25)
        self.profile = getattr(self.stack, "profile", V1)
        edge = self.stack.endpoints.edge_url
        self.client = ServiceClient(edge, self.history, "machine", timeouts=self.timeouts, profile=self.profile)
        self.steps: list[str] = []  # this example's schedule so far, as code
        self.active: Fault | None = None
        self.faults_applied = 0
        self.broken = False  # an invariant already failed: teardown only heals (shrinking stays fast)
        self.last_ids: dict[str, int | None] = {}
        self.crids = (f"chaos-{uuid.uuid4().hex[:12]}-{n}" for n in itertools.count())
        note(f"history of this example: {self.path}")

    @initialize(target=jobs, durations=st.lists(st.integers(10, 60), min_size=1, max_size=4))
    def initial_jobs(self, durations: list[int]) -> object:
        """A few jobs in flight before the first fault, so every schedule has something to break."""
        self.steps.append(f"state.initial_jobs(durations={durations!r})")
        simulate = [{"durationMs": d * 1000} for d in durations]
        replies = [self.client.initiate(self.job_files([i]), None, s) for i, s in enumerate(simulate)]
        return multiple(*(JobRef(r.job.job_id, None) for r in replies if r.ok and r.job and r.job.job_id))

    @rule(
        target=jobs,
        file_picks=st.lists(st.integers(0, FILE_POOL - 1), min_size=1, max_size=3),
        duration_s=st.integers(10, 60),
        with_crid=st.booleans(),
        resends=st.integers(0, 2),
        fail_first=st.booleans(),
    )
    def initiate(
        self, file_picks: list[int], duration_s: int, with_crid: bool, resends: int, fail_first: bool
    ) -> JobRef | object:
        self.steps.append(
            f"state.initiate(file_picks={file_picks!r}, duration_s={duration_s!r}, with_crid={with_crid!r}, "
            f"resends={resends!r}, fail_first={fail_first!r})"
        )
        files = self.job_files(file_picks)
        crid = next(self.crids) if with_crid else None
        simulate = {"durationMs": duration_s * 1000, "failAttempts": int(fail_first)}
        reply = self.client.initiate(files, crid, simulate)
        for _ in range(3 if crid else 0):  # a client with a clientRequestId retries until acknowledged
            if reply.ok:
                break
            reply = self.client.initiate(files, crid, simulate)
        for _ in range(resends if crid and reply.ok else 0):  # and re-sends as if the answer had been lost
            self.client.initiate(files, crid, simulate)
        if not reply.ok or reply.job is None or not reply.job.job_id:
            return multiple()
        return JobRef(reply.job.job_id, crid)

    def job_files(self, picks: list[int]) -> list[int]:
        """The file ids of a job: each pick is an index into the first valid ids of the stack's profile (drawn as
        indices because the strategies exist before any stack is bound; shrinking goes towards the first id)."""
        ids = self.profile.file_ids
        pool = ids.first(min(FILE_POOL, len(ids)))
        return [pool[i % len(pool)] for i in picks]

    @rule(job=jobs)
    def poll(self, job: JobRef) -> None:
        self.steps.append(f"state.poll(job={job.job_id!r})")
        self.client.status(job.job_id)

    @rule(job=jobs, events=st.integers(1, 4))
    def stream_then_disconnect(self, job: JobRef, events: int) -> None:
        self.steps.append(f"state.stream_then_disconnect(job={job.job_id!r}, events={events!r})")
        seen = self.client.follow_sse(job.job_id, scaled(40, self.stack.time_scale), stop_after_events=events)
        self.last_ids[job.job_id] = seen.last_event_id

    @rule(job=jobs)
    def resume_stream(self, job: JobRef) -> None:
        self.steps.append(f"state.resume_stream(job={job.job_id!r})")
        last = self.last_ids.get(job.job_id)
        seen = self.client.follow_sse(
            job.job_id, scaled(40, self.stack.time_scale), last_event_id=last, stop_after_events=3
        )
        self.last_ids[job.job_id] = seen.last_event_id

    @rule(job=jobs)
    def disconnect_mid_poll(self, job: JobRef) -> None:
        self.steps.append(f"state.disconnect_mid_poll(job={job.job_id!r})")
        cut = Timeouts(request_s=0.0005, connect_s=2.0)
        edge = self.stack.endpoints.edge_url
        with ServiceClient(edge, self.history, "machine", timeouts=cut, profile=self.profile) as quitter:
            quitter.status(job.job_id)

    @rule(job=jobs)
    def cancel(self, job: JobRef) -> None:
        self.steps.append(f"state.cancel(job={job.job_id!r})")
        self.client.cancel(job.job_id)

    @precondition(lambda self: self.active is None and self.faults_applied < MAX_FAULTS)
    @rule(fault=FAULTS)
    def apply_fault(self, fault: Fault) -> None:
        self.steps.append(f"state.apply_fault(fault={fault!r})")
        self.faults_applied += 1
        fault.on(self.target).apply()
        if isinstance(fault, INSTANT):
            fault.remove()
        else:
            self.active = fault

    @precondition(lambda self: self.active is not None)
    @rule()
    def heal(self) -> None:
        if self.active is not None:
            self.steps.append("state.heal()")
            self.active.remove()
            self.active = None

    @invariant()
    def history_so_far_is_valid(self) -> None:
        result = self.judge()
        bad = [a for a in result.anomalies if not _tolerated(a)]
        self.broken = self.broken or bool(bad)
        if bad:
            self.failures.record(self.steps, f"{bad[0].kind}: {bad[0].message} (history {self.path})")
        assert not bad, render_text(result)

    def judge(self) -> CheckResult:
        return check(read_history(self.path), self.params)

    def teardown(self) -> None:
        """Heal, follow every acknowledged job to its end (bounded by the checker's deadline), judge it all."""
        try:
            self.heal()
            heal(self.stack)
            if self.broken:
                return
            for job_id in self.acknowledged_jobs():
                self.client.poll_until_terminal(job_id, self.params.deadline_s + 1.0)
            result = self.judge()
        finally:
            self.client.close()
            self.history.close()
        bad = [a for a in result.anomalies if not _tolerated(a)]
        if bad:
            self.failures.record(self.steps, f"{bad[0].kind}: {bad[0].message} (history {self.path}, at the end)")
        assert not bad, f"history {self.path}\n{render_text(result)}"

    def acknowledged_jobs(self) -> list[str]:
        recs = read_history(self.path)
        return sorted({r.job_id for r in recs if r.type == "ok" and r.op == "initiate" and r.job_id})
