"""pytest plugin (entry point `pytest11`): the harness's markers, and fixtures to break a stack, or your own
service, and judge what clients saw.

    stack          session: the whole chain, running the service of --harness-service (default: the reference),
                   configured by the options below; with --harness-target URL, your running service instead
                   (process faults then work on the components you hand over with --harness-*-control);
                   `stack.profile` is the contract profile its clients must speak
    stack_factory  session: `stack_factory(proxy_config="buffered-sse", aof="off")` boots another stack;
                   every stack it made is torn down at session end (or earlier with `.close()`)
    toxiproxy      the stack's Toxiproxy client (skips when an external target has none)
    history        per test: a History (JSONL); its path is printed when the test fails
    faults         per test: a FaultFactory bound to the stack, every fault window recorded in `history`;
                   whatever a test leaves applied is removed at its end

Options (command line, else ini, else HARNESS_* environment): --harness-proxy-config, --harness-time-scale,
--harness-aof, --harness-workers, --harness-service, --harness-target, --harness-profile, --harness-redis-control,
--harness-worker-control, --harness-toxiproxy, --harness-history-dir. Nothing is
imported or started until a test asks for one of these fixtures.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from harness.faults.factory import TrackedFaults
    from harness.faults.toxiproxy import ToxiproxyClient
    from harness.judge.history import History
    from harness.stack.config import StackConfig
    from harness.stack.containers import ContainerStack
    from harness.stack.local import LocalStack
    from harness.targets.base import Target

MARKERS = {
    "unit": "no servers",
    "contract": "reference service on a local Redis",
    "stack": "the whole chain (nginx, Toxiproxy) as local processes",
    "chaos": "fault schedules and invariants over recorded histories",
    "containers": "the stack in Docker through testcontainers",
    "realtime": "unscaled time (opt-in)",
    "slow": "long-running",
    "packaging": "the built wheel installed into a fresh virtualenv, used from outside the checkout",
}
OPTIONS = {
    "proxy_config": "named nginx front (or template path) of the stack fixture, e.g. recommended",
    "time_scale": "multiplies every duration of the stack fixture (HARNESS_TIME_SCALE), e.g. 0.05",
    "aof": "Redis persistence of the stack fixture: always, everysec or off",
    "workers": "number of worker processes of the stack fixture",
    "service": "service spec (TOML) of the implementation the stack fixture runs (default: the reference)",
    "target": "URL of a running service to test instead of booting a stack (process faults need controls below)",
    "profile": "contract profile of --harness-target: a shipped name or a .toml (with a spec: the spec's)",
    "redis_control": "--harness-target's Redis: docker:NAME or a TOML file of commands (kill_cmd, start_cmd, ...)",
    "worker_control": "--harness-target's workers, comma-separated, each as --harness-redis-control",
    "toxiproxy": "Toxiproxy API URL in front of --harness-target, for network faults",
    "history_dir": "directory for recorded histories (default: each test's tmp_path)",
}
_HISTORY_PATH = pytest.StashKey[Path]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness", "async-download chaos harness")
    for name, help_text in OPTIONS.items():
        group.addoption(f"--harness-{name.replace('_', '-')}", dest=f"harness_{name}", default=None, help=help_text)
        parser.addini(f"harness_{name}", help_text)


def pytest_configure(config: pytest.Config) -> None:
    for name, doc in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {doc}")


def _option(config: pytest.Config, name: str) -> str | None:
    """Command line first, then the ini file; None when neither sets it."""
    value = config.getoption(f"harness_{name}", default=None) or config.getini(f"harness_{name}")
    return str(value) if value else None


@pytest.fixture(scope="session")
def harness_config(pytestconfig: pytest.Config) -> StackConfig:
    """The StackConfig the `stack` fixture boots: HARNESS_* environment, overridden by ini, then command line."""
    from harness.stack.config import StackConfig

    keys = {"proxy_config": str, "time_scale": float, "aof": str, "workers": int, "service": str}
    overrides = {k: conv(v) for k, conv in keys.items() if (v := _option(pytestconfig, k)) is not None}
    return StackConfig.from_env(**overrides)


@pytest.fixture(scope="session")
def stack_factory(harness_config: StackConfig) -> Iterator[StackFactory]:
    factory = StackFactory(harness_config)
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture(scope="session")
def stack(pytestconfig: pytest.Config, harness_config: StackConfig) -> Iterator[Target]:
    target = _option(pytestconfig, "target")
    if target is None:
        from harness.stack import Stack

        with Stack(harness_config) as local:
            yield local
        return
    from harness.contract import load_profile
    from harness.targets.controls import parse_control
    from harness.targets.remote import RemoteTarget

    named = _option(pytestconfig, "profile")
    profile = load_profile(named) if named else harness_config.service_spec().contract()
    redis = _option(pytestconfig, "redis_control")
    workers = [part.strip() for part in (_option(pytestconfig, "worker_control") or "").split(",") if part.strip()]
    remote = RemoteTarget(
        target,
        profile,
        toxiproxy_url=_option(pytestconfig, "toxiproxy"),
        edge_proxy=False,
        time_scale=harness_config.time_scale,
        redis_control=None if redis is None else parse_control(redis, "--harness-redis-control"),
        worker_control=[parse_control(w, "--harness-worker-control") for w in workers] or None,
    )
    with remote:
        yield remote


@pytest.fixture
def toxiproxy(stack: Target) -> ToxiproxyClient:
    if getattr(stack, "has_toxiproxy", True) is False:
        pytest.skip(f"{stack!r} has no Toxiproxy; pass --harness-toxiproxy URL to use network faults")
    return stack.toxiproxy


@pytest.fixture
def history(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[History]:
    from harness.judge.history import History

    base = _option(request.config, "history_dir")
    directory = Path(base) if base else tmp_path
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in request.node.name)[:120]
    path = directory / (f"{safe}-{os.getpid()}.jsonl" if base else "history.jsonl")
    request.node.stash[_HISTORY_PATH] = path
    with History(path) as recorded:
        yield recorded


@pytest.fixture
def faults(stack: Target, history: History) -> Iterator[TrackedFaults]:
    from harness.faults.factory import TrackedFaults
    from harness.targets.base import RecordingTarget

    factory = TrackedFaults(RecordingTarget(stack, history.record_fault))
    try:
        yield factory
    finally:
        factory.heal()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    path = item.stash.get(_HISTORY_PATH, None)
    if path is not None and report.failed:
        report.sections.append(("harness history", f"recorded history: {path}\njudge it again: harness check {path}"))
    return report


class StackFactory:
    """Boots stacks from the session's config with overrides; `close()` tears down every one it made."""

    def __init__(self, base: StackConfig) -> None:
        self.base = base
        self._made: list[LocalStack | ContainerStack] = []

    def __call__(self, **overrides: Any) -> LocalStack | ContainerStack:
        from harness.stack import Stack

        stack = Stack(self.base.replace(**overrides))
        stack.__enter__()
        self._made.append(stack)
        return stack

    def close(self) -> None:
        while self._made:
            self._made.pop().close()
