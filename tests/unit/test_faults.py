"""Fault objects against a fake Toxiproxy and a fake ProcessControl: we assert on the calls they observe."""

from __future__ import annotations

import json
import math
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

import harness.faults
from harness.core.errors import ConfigError, FaultError, ToxiproxyError
from harness.faults import (
    ApiRestart,
    Bandwidth,
    Compose,
    Fault,
    FaultFactory,
    FaultWindow,
    Latency,
    LimitData,
    ProcessControl,
    ProxyDown,
    RedisPause,
    RedisRestart,
    ResetPeer,
    Schedule,
    Slicer,
    SlowClose,
    Timed,
    Timeout,
    WorkerKill,
    toxic,
)

pytestmark = pytest.mark.unit


class FakeToxiproxy:
    """Records calls; keeps the live toxics and disabled proxies; fails on the proxies named in `broken`."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.live: dict[tuple[str, str], dict[str, Any]] = {}
        self.disabled: set[str] = set()
        self.broken: set[str] = set()
        self.broken_remove: set[str] = set()

    def _check(self, call: str, proxy: str) -> None:
        if proxy in self.broken or (call == "remove_toxic" and proxy in self.broken_remove):
            raise ToxiproxyError(f"{call}({proxy!r}) failed: HTTP 500 'boom'")

    def add_toxic(self, proxy: str, toxic_type: str, attributes: Any = None, **kw: Any) -> None:
        self.calls.append(("add_toxic", proxy, toxic_type, dict(attributes), kw["stream"], kw["toxicity"]))
        self._check("add_toxic", proxy)
        self.live[(proxy, kw["name"])] = {"type": toxic_type, **attributes}

    def remove_toxic(self, proxy: str, name: str, *, missing_ok: bool = False) -> None:
        self.calls.append(("remove_toxic", proxy, missing_ok))
        self._check("remove_toxic", proxy)
        self.live.pop((proxy, name), None)

    def disable(self, name: str) -> None:
        self.calls.append(("disable", name))
        self._check("disable", name)
        self.disabled.add(name)

    def enable(self, name: str) -> None:
        self.calls.append(("enable", name))
        self.disabled.discard(name)


class FakeProcesses:
    def __init__(self, names: tuple[str, ...] = ("redis", "api", "worker-0", "worker-1")) -> None:
        self.names = list(names)
        self.calls: list[tuple[Any, ...]] = []

    def signal(self, component: str, sig: int) -> None:
        self.calls.append(("signal", component, sig))

    def restart(self, component: str, *, graceful: bool = True) -> None:
        self.calls.append(("restart", component, graceful))

    def stop(self, component: str) -> None:
        self.calls.append(("stop", component))

    def start(self, component: str) -> None:
        self.calls.append(("start", component))

    def components(self) -> list[str]:
        return list(self.names)


@dataclass
class FakeTarget:
    toxiproxy: FakeToxiproxy = field(default_factory=FakeToxiproxy)
    processes: FakeProcesses = field(default_factory=FakeProcesses)
    time_scale: float = 1.0
    seen: list[FaultWindow] = field(default_factory=list)

    def fault_listener(self, window: FaultWindow) -> None:
        self.seen.append(window)


@pytest.fixture
def target() -> FakeTarget:
    return FakeTarget()


def test_repr_reads_like_code_and_round_trips() -> None:
    assert repr(Latency(proxy="api", ms=2000, jitter=500)) == "Latency(proxy='api', ms=2000, jitter=500)"
    assert repr(Latency("edge", 5, stream="upstream")) == "Latency(proxy='edge', ms=5, stream='upstream')"
    assert repr(WorkerKill(1, restart=False)) == "WorkerKill(index=1, restart=False)"
    assert repr(RedisPause() + ProxyDown("edge")) == "Compose(RedisPause(), ProxyDown(proxy='edge'))"
    faults: list[Fault] = [
        Latency("api", 10, 2, toxicity=0.5), Bandwidth("redis", 64), SlowClose("edge", 100), Timeout("api"),
        ResetPeer("api", 5), Slicer("edge", 16, 4, 100), LimitData("api", 1024), ProxyDown("redis"),
        RedisRestart(graceful=False), RedisPause(), WorkerKill(), ApiRestart(), Compose(Timeout("api"), ApiRestart()),
        Timed(Latency("api", 1), 2.5),
    ]  # fmt: skip
    for fault in faults:
        assert eval(repr(fault), vars(harness.faults)) == fault, repr(fault)


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: Latency("api", ms=-1), ["Latency.ms=-1", ">= 0"]),
        (lambda: Latency("api", ms=10, jitter=math.nan), ["jitter=nan", ">= 0"]),
        (lambda: Latency("api", 1, stream="sideways"), ["'sideways'", "upstream", "downstream"]),
        (lambda: Latency("api", 1, toxicity=1.5), ["1.5", "0.0 and 1.0"]),
        (lambda: ResetPeer("api", toxicity=-0.1), ["-0.1", "0.0 and 1.0"]),
        (lambda: Slicer("api", 0), ["average_size=0", ">= 1"]),
        (lambda: Bandwidth("api", rate="fast"), ["rate='fast'", "KB/s"]),
        (lambda: toxic("api", "wobble"), ["'wobble'", "latency", "limit_data"]),
        (lambda: toxic("api", "latency", speed=1), ["'speed'", "'ms'"]),
        (lambda: Latency("", 1), ["proxy=''"]),
        (lambda: WorkerKill(-1), ["index=-1", ">= 0"]),
        (lambda: Timed(Latency("api", 1), -2), ["seconds=-2", ">= 0"]),
    ],
)
def test_bad_parameters_name_the_value_and_the_range(make: Callable[[], object], words: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        make()
    for word in words:
        assert word in str(info.value)


def test_toxic_by_name_builds_the_named_class() -> None:
    assert toxic("redis", "latency", ms=50) == Latency("redis", 50)
    assert toxic("edge", "limit_data", bytes=10, stream="upstream") == LimitData("edge", 10, stream="upstream")


@pytest.mark.parametrize(
    ("fault", "toxic_type", "attributes"),
    [
        (Latency("api", ms=2000, jitter=500), "latency", {"latency": 100, "jitter": 25}),
        (Latency("api", ms=1), "latency", {"latency": 1, "jitter": 0}),  # a non-zero duration never scales to 0
        (Bandwidth("api", rate=64), "bandwidth", {"rate": 64}),  # rates are not durations
        (SlowClose("api", 400), "slow_close", {"delay": 20}),
        (Timeout("api", 0), "timeout", {"timeout": 0}),
        (ResetPeer("api", 200), "reset_peer", {"timeout": 10}),
        (Slicer("api", 16, 4, delay_us=1000), "slicer", {"average_size": 16, "size_variation": 4, "delay": 50}),
        (LimitData("api", bytes=4096), "limit_data", {"bytes": 4096}),
    ],
)
def test_toxics_send_their_attributes_with_durations_scaled(
    target: FakeTarget, fault: Fault, toxic_type: str, attributes: dict[str, int]
) -> None:
    target.time_scale = 0.05
    fault.on(target).apply()
    assert target.toxiproxy.calls == [("add_toxic", "api", toxic_type, attributes, "downstream", 1.0)]
    assert list(target.toxiproxy.live.values()) == [{"type": toxic_type, **attributes}]
    fault.remove()
    assert target.toxiproxy.calls[-1] == ("remove_toxic", "api", True)
    assert target.toxiproxy.live == {}


def test_scale_falls_back_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_TIME_SCALE", "0.5")
    fake = FakeToxiproxy()
    bare = type("Bare", (), {"toxiproxy": fake, "processes": FakeProcesses()})()
    Latency("redis", 300, stream="upstream", toxicity=0.25).on(bare).apply()
    assert fake.calls == [("add_toxic", "redis", "latency", {"latency": 150, "jitter": 0}, "upstream", 0.25)]


def test_windows_and_listener_cover_apply_to_remove(target: FakeTarget) -> None:
    fault = Latency("api", ms=40).on(target)
    fault.apply()
    assert fault.active
    (opened,) = target.seen
    assert opened.is_open and opened.end_wall is None and opened.duration is None
    assert (opened.fault, opened.kind, opened.target) == ("Latency(proxy='api', ms=40)", "latency", "api")
    assert dict(opened.detail)["latency"] == 40 and dict(opened.detail)["stream"] == "downstream"
    fault.remove()
    assert [w.is_open for w in target.seen] == [True, False]
    closed = target.seen[1]
    assert fault.windows == [closed] and not fault.active
    assert closed.start_mono == opened.start_mono and closed.end_mono is not None and closed.end_wall is not None
    assert closed.end_mono >= closed.start_mono and closed.end_wall >= closed.start_wall
    assert json.loads(json.dumps(closed.as_dict()))["detail"]["latency"] == 40


def test_remove_twice_or_never_applied_is_harmless(target: FakeTarget) -> None:
    fault = ProxyDown("edge").on(target)
    fault.remove()
    assert target.toxiproxy.calls == [] and target.seen == []
    with fault:
        assert target.toxiproxy.disabled == {"edge"}
    fault.remove()
    assert target.toxiproxy.calls == [("disable", "edge"), ("enable", "edge")]
    assert len(fault.windows) == 1 and len(target.seen) == 2


def test_apply_twice_is_refused_and_unbound_is_explained(target: FakeTarget) -> None:
    with pytest.raises(FaultError, match=r"not bound to a target.*on\(stack\)"):
        RedisPause().apply()
    fault = RedisPause().on(target)
    fault.apply()
    with pytest.raises(FaultError, match="already applied"):
        fault.apply()
    assert target.processes.calls == [("signal", "redis", signal.SIGSTOP)]
    fault.remove()


def test_failed_apply_leaves_nothing_and_records_nothing(target: FakeTarget) -> None:
    target.toxiproxy.broken.add("api")
    fault = Latency("api", 5).on(target)
    with pytest.raises(FaultError, match=r"applying Latency\(proxy='api', ms=5\) on 'api' failed.*HTTP 500") as info:
        fault.apply()
    assert isinstance(info.value.__cause__, ToxiproxyError)
    assert not fault.active and fault.windows == [] and target.seen == []


def test_failed_remove_keeps_the_fault_applied_for_a_retry(target: FakeTarget) -> None:
    fault = Timeout("redis").on(target).apply()
    target.toxiproxy.broken.add("redis")
    with pytest.raises(FaultError, match="still applied"):
        fault.remove()
    assert fault.active and fault.windows[-1].is_open
    target.toxiproxy.broken.clear()
    fault.remove()
    assert not fault.active and target.toxiproxy.live == {} and not fault.windows[-1].is_open


def test_with_block_removes_on_error(target: FakeTarget) -> None:
    with pytest.raises(RuntimeError), Latency("api", 1).on(target):
        assert len(target.toxiproxy.live) == 1
        raise RuntimeError("test body failed")
    assert target.toxiproxy.live == {}


def test_compose_applies_in_order_and_removes_in_reverse(target: FakeTarget) -> None:
    combo = Latency("edge", 1) + ProxyDown("api") + RedisPause()
    assert isinstance(combo, Compose) and len(combo.faults) == 3  # flattened
    with combo.on(target):
        assert combo.active
    calls = [c[0] + ":" + str(c[1]) for c in target.toxiproxy.calls + target.processes.calls]
    assert calls == ["add_toxic:edge", "disable:api", "enable:api", "remove_toxic:edge", "signal:redis", "signal:redis"]
    assert [c[2] for c in target.processes.calls] == [signal.SIGSTOP, signal.SIGCONT]
    order = [(w.target, w.is_open) for w in target.seen]
    assert order == [("edge", True), ("api", True), ("redis", True), ("redis", False), ("api", False), ("edge", False)]
    assert [w.target for w in combo.windows] == ["edge", "api", "redis"]


def test_compose_undoes_the_applied_parts_when_one_fails(target: FakeTarget) -> None:
    target.toxiproxy.broken.add("redis")
    combo = Compose(Latency("api", 1), ProxyDown("edge"), Latency("redis", 1), WorkerKill(0)).on(target)
    with pytest.raises(FaultError, match=r"Latency\(proxy='redis'"):
        combo.apply()
    assert target.toxiproxy.live == {} and target.toxiproxy.disabled == set()
    assert not combo.active and target.processes.calls == []
    combo.remove()  # harmless: nothing is applied
    assert [c[0] for c in target.toxiproxy.calls] == ["add_toxic", "disable", "add_toxic", "enable", "remove_toxic"]


@pytest.mark.parametrize(
    ("fault", "apply_calls", "remove_calls"),
    [
        (RedisRestart(), [("restart", "redis", True)], []),
        (RedisRestart(graceful=False), [("restart", "redis", False)], []),
        (RedisPause(), [("signal", "redis", signal.SIGSTOP)], [("signal", "redis", signal.SIGCONT)]),
        (WorkerKill(1), [("signal", "worker-1", signal.SIGKILL)], [("start", "worker-1")]),
        (WorkerKill(0, restart=False), [("signal", "worker-0", signal.SIGKILL)], []),
        (ApiRestart(), [("restart", "api", True)], []),
    ],
)
def test_process_faults_drive_process_control(
    target: FakeTarget, fault: Fault, apply_calls: list[tuple[Any, ...]], remove_calls: list[tuple[Any, ...]]
) -> None:
    fault.on(target).apply()
    assert target.processes.calls == apply_calls
    fault.remove()
    assert target.processes.calls == apply_calls + remove_calls
    assert fault.windows[0].target == apply_calls[0][1] and not fault.windows[0].is_open


def test_process_fault_on_unknown_component_does_nothing(target: FakeTarget) -> None:
    with pytest.raises(FaultError, match=r"no component 'worker-5'.*'worker-0', 'worker-1'"):
        WorkerKill(5).on(target).apply()
    assert target.processes.calls == []
    assert isinstance(target.processes, ProcessControl)


def test_factory_returns_bound_faults(target: FakeTarget) -> None:
    faults = FaultFactory(target)
    latency = faults.latency("api", ms=2000)
    assert latency == Latency(proxy="api", ms=2000) and latency.target is target
    assert faults.toxic("edge", "reset_peer", ms=5) == ResetPeer("edge", 5)
    assert faults.worker_kill(1).target is target
    with faults.compose(faults.redis_pause(), faults.proxy_down("redis")):
        assert target.toxiproxy.disabled == {"redis"}
    assert target.processes.calls[-1] == ("signal", "redis", signal.SIGCONT)


def test_timed_duration_goes_through_the_time_scale(target: FakeTarget, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_TIME_SCALE", "0.25")
    assert Timed(RedisPause(), 8).duration == 2.0
    assert Timed(RedisPause(), 8, time_scale=0.5).duration == 4.0
    target.time_scale = 0.125
    assert Timed(RedisPause(), 8).on(target).duration == 1.0


def test_timed_removes_the_fault_by_itself(target: FakeTarget) -> None:
    timed = Timed(Latency("api", 1), 0.5, time_scale=0.01).on(target).apply()
    assert timed.wait(timeout=10), "the timer did not remove the fault"
    assert target.toxiproxy.live == {} and not timed.active
    assert [w.is_open for w in target.seen] == [True, False]


def test_timed_remove_before_expiry_and_failed_timed_removal(target: FakeTarget) -> None:
    long = Timed(ProxyDown("api"), 3600).on(target).apply()
    assert not long.wait(timeout=0)
    long.remove()
    assert long.wait(timeout=0) and target.toxiproxy.disabled == set()
    target.toxiproxy.broken_remove.add("redis")
    failing = Timed(Latency("redis", 1), 0.0).on(target).apply()
    with pytest.raises(FaultError, match="timed removal failed"):
        failing.wait(timeout=10)
    assert failing.active, "a failed removal leaves the fault applied"
    target.toxiproxy.broken_remove.clear()
    failing.remove()
    assert failing.wait(timeout=0) and target.toxiproxy.live == {}


def test_schedule_runs_steps_one_after_another(target: FakeTarget) -> None:
    schedule = Schedule(Timed(ProxyDown("edge"), 1), Timed(RedisPause(), 1), Timed(ProxyDown("api"), 1))
    schedule.on(target)
    target.time_scale = 0.001
    assert schedule.duration == pytest.approx(0.003)
    schedule.run()
    steps = [(w.target, w.is_open) for w in target.seen]
    assert steps == [("edge", True), ("edge", False), ("redis", True), ("redis", False), ("api", True), ("api", False)]
