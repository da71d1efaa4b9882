"""Chaos against a URL: the harness's own `edge` Toxiproxy in front of a service it did not start, the same Fault
objects, process faults through the controls the user hands over, and the checker over what clients saw."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.clients.workload import Workload, WorkloadConfig
from harness.contract import ContractProfile
from harness.contract.profiles import load_profile
from harness.core.errors import ConfigError, FaultError
from harness.faults import Latency, ProxyDown, RedisPause, Timed, WorkerKill
from harness.judge import CheckParams, check, render_text
from harness.judge.history import History, read_history
from harness.targets.remote import DockerControl, RemoteTarget, ShellControl

pytest_plugins = ["pytester"]
LOG = "echo {what} >> {path}"
OTHER = Path(__file__).resolve().parents[1] / "other_impl" / "profile.toml"


@pytest.mark.contract
@pytest.mark.chaos
def test_a_chaos_workload_against_the_other_implementation_by_url(
    other_service: str, other_profile: ContractProfile, time_scale: float, tmp_path: Path
) -> None:
    """Latency on the edge for the whole run, and the edge down for a while once every job is acknowledged (an
    initiate cut without an idempotency key may not be retried): every job still completes, the checker finds
    the history valid, and the latency shows the traffic went through the edge."""
    config = WorkloadConfig(
        jobs=8, concurrency=8, ramp_s=2, client_request_id=0.0, disconnect=0.25, fail_first_attempt=0.0,
        simulate=False, follow_s=300, seed=11, time_scale=time_scale,
    )  # fmt: skip
    path = tmp_path / "history.jsonl"
    with RemoteTarget(other_service, other_profile, time_scale=time_scale) as target, History(path) as history:
        target.fault_listener = history.record_fault
        workload = Workload(target.endpoints.edge_url, history, config, profile=other_profile)
        with workload, Latency("edge", ms=1000, jitter=100).on(target):
            assert workload.wait_acknowledged(8, timeout=30)
            outage = Timed(ProxyDown("edge"), seconds=20).on(target).apply()
            assert outage.wait(timeout=30)
            summary = workload.join(timeout=60 + 300 * time_scale)
    records = read_history([path])
    result = check(records, CheckParams.for_scale(time_scale))
    assert result.valid, render_text(result)
    assert summary.acknowledged == 8 and summary.statuses["completed"] == 8, summary.statuses
    assert result.stats.faults == 2 and result.stats.jobs["completed"] == 8
    answered = [r.latency_s or 0.0 for r in records if r.type == "ok" and r.op == "status"]
    assert answered and min(answered) >= 0.8 * time_scale, "a status answer did not cross the edge's latency"


@pytest.mark.contract
@pytest.mark.chaos
def test_redis_faults_on_a_remote_target_through_shell_commands(service: Any, time_scale: float) -> None:
    """RedisPause works on a target the harness did not start, given commands for it; a worker without
    control is refused with a message that says how to hand it over."""
    pid = service.redis.pid
    control = ShellControl(pause_cmd=f"kill -STOP {pid}", resume_cmd=f"kill -CONT {pid}")
    with RemoteTarget(service.url, load_profile(), redis_control=control, time_scale=time_scale) as target:
        with httpx.Client(base_url=target.endpoints.edge_url, timeout=15) as client:
            with RedisPause().on(target):
                paused = client.get("/health").status_code
            healthy = client.get("/health").status_code
        with pytest.raises(FaultError, match=r"no component 'worker-0'"):
            WorkerKill(0).on(target).apply()
    assert (paused, healthy) == (503, 200)


@pytest.mark.unit
def test_shell_control_runs_the_command_each_fault_needs(tmp_path: Path) -> None:
    log = tmp_path / "log"
    cmd = {f"{what}_cmd": LOG.format(what=what, path=log) for what in ("kill", "start", "pause", "resume", "stop")}
    control = ShellControl(**cmd, ready_cmd="true")
    control.signal(signal.SIGKILL)
    control.signal(signal.SIGSTOP)
    control.signal(signal.SIGCONT)
    control.restart(graceful=False)
    control.restart(graceful=True)
    control.start()
    assert log.read_text().split() == ["kill", "pause", "resume", "kill", "start", "stop", "start", "start"]


@pytest.mark.unit
def test_shell_control_refuses_what_it_was_not_given_and_reports_failures() -> None:
    with pytest.raises(FaultError, match=r"no command to pause.*pause_cmd"):
        ShellControl(kill_cmd="true").signal(signal.SIGSTOP)
    ShellControl().signal(signal.SIGCONT)  # healing resumes every component: nothing paused, nothing to do
    with pytest.raises(FaultError, match=r"kill command 'echo gone >&2; exit 3' exited 3: gone"):
        ShellControl(kill_cmd="echo gone >&2; exit 3").signal(signal.SIGKILL)


class FakeContainer:
    def __init__(self, calls: list[str], status: str, comes_back: bool = True) -> None:
        self.calls, self.status, self.comes_back = calls, status, comes_back
        self.attrs = {"State": {"ExitCode": 137}}

    def reload(self) -> None:
        return None

    def start(self) -> None:
        self.calls.append("start")
        self.status = "running" if self.comes_back else "exited"

    def unpause(self) -> None:
        self.calls.append("unpause")
        self.status = "running"

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: self.calls.append(f"{name}{kwargs or ''}")


class FakeDocker:
    def __init__(self, status: str = "running", comes_back: bool = True) -> None:
        self.calls: list[str] = []
        self.containers, self.status, self.comes_back = self, status, comes_back
        self.container: FakeContainer | None = None

    def get(self, name: str) -> FakeContainer:
        self.calls.append(f"get:{name}")
        if self.container is None:
            self.container = FakeContainer(self.calls, self.status, self.comes_back)
        return self.container


@pytest.mark.unit
def test_docker_control_maps_faults_to_container_calls() -> None:
    docker = FakeDocker()
    control = DockerControl("their-redis", client=docker, stop_timeout_s=3)
    control.signal(signal.SIGSTOP)
    control.signal(signal.SIGKILL)
    control.restart(graceful=True)
    control.restart(graceful=False)
    calls = [c for c in docker.calls if not c.startswith("get:")]
    assert calls == ["pause", "kill{'signal': 'SIGKILL'}", "restart{'timeout': 3}", "kill", "start"]
    assert set(c for c in docker.calls if c.startswith("get:")) == {"get:their-redis"}
    for status, expected in (("running", []), ("paused", ["unpause"]), ("exited", ["start"])):
        fake = FakeDocker(status)
        DockerControl("w", client=fake).start()
        assert [c for c in fake.calls if not c.startswith("get:")] == expected, status


@pytest.mark.unit
def test_a_container_that_does_not_come_back_fails_the_fault() -> None:
    control = DockerControl("their-worker", client=FakeDocker("exited", comes_back=False), ready_timeout_s=0.5)
    with pytest.raises(FaultError, match=r"container 'their-worker' \(start done\) did not come back within 0.5 s: "
                       r"status exited \(exit code 137\)"):  # fmt: skip
        control.start()


@pytest.mark.unit
def test_a_remote_target_wants_plain_http_and_a_start() -> None:
    with pytest.raises(ConfigError, match="plain HTTP"):
        RemoteTarget("https://example.invalid")
    idle = RemoteTarget("http://127.0.0.1:9")
    with pytest.raises(FaultError, match="not started"):
        _ = idle.toxiproxy
    assert idle.processes.components() == []


@pytest.mark.contract
@pytest.mark.chaos
def test_the_plugin_takes_a_profile_and_controls_for_a_url(
    pytester: pytest.Pytester, other_stack: Any, tmp_path: Path
) -> None:
    """`--harness-target URL --harness-profile P --harness-redis-control FILE --harness-worker-control docker:W`:
    the stack fixture speaks the given profile and a Redis fault acts through the commands handed over."""
    pid = other_stack.pids()["redis"]
    control = tmp_path / "redis-control.toml"
    control.write_text(f'pause_cmd = "kill -STOP {pid}"\nresume_cmd = "kill -CONT {pid}"\n', encoding="utf-8")
    pytester.makepyfile(
        """
        import httpx

        def test_remote(stack, faults):
            assert stack.profile.name == "other" and stack.processes.components() == ["redis", "worker-0"]
            with faults.redis_pause():
                paused = httpx.get(stack.endpoints.edge_url + stack.profile.path("health"), timeout=15).status_code
            assert paused == 503
        """
    )
    args = [f"--harness-target={other_stack.endpoints.api_url}", f"--harness-profile={OTHER}"]
    args += [f"--harness-redis-control={control}", "--harness-worker-control=docker:their-worker"]
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)
    result.assert_outcomes(passed=1)
    bad = pytester.runpytest_subprocess("-p", "no:cacheprovider", *args[:2], "--harness-redis-control=nope")
    bad.stdout.fnmatch_lines(["*--harness-redis-control 'nope' is neither docker:NAME nor a file that exists*"])
