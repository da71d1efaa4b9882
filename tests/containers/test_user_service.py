"""A user's service in containers: the second implementation's spec builds its image offline from its own
Dockerfile (FROM the harness's service image), runs its API and workers with the spec's commands, and the same
tools judge it there: conformance fails only on its shipped defect, a worker SIGKILL and a Redis outage hold."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.chaos.catalogue import BY_NAME, run_case, unexpected
from harness.clients.workload import WorkloadConfig
from harness.conformance import ConformanceConfig, run_conformance
from harness.conformance.render import render_table
from harness.fronts import check_params
from harness.images import ImageSet
from harness.judge import check_files, render_text
from harness.judge.history import History
from harness.stack import StackConfig
from harness.stack.containers import ContainerStack
from tests.conformance.conftest import OTHER_SPEC
from tests.stack.conftest import require_engine

pytestmark = pytest.mark.containers


@pytest.fixture(scope="module")
def other(offline_images: ImageSet, time_scale: float) -> Iterator[ContainerStack]:
    require_engine()
    config = StackConfig(backend="containers", service=str(OTHER_SPEC), time_scale=time_scale, workers=2)
    with ContainerStack(config, offline_images) as stack:
        yield stack


def test_its_image_is_built_from_its_dockerfile_and_runs_its_commands(other: ContainerStack) -> None:
    api = other._parts["api"]._wrapped  # the engine's view of the container
    assert api.image.tags == ["adc/user-other:latest"]
    assert api.attrs["Config"]["Entrypoint"] == ["python"] and "other_impl" in api.attrs["Config"]["Cmd"]
    assert sorted(other.components()) == ["api", "nginx", "redis", "worker-0", "worker-1"]


def test_conformance_in_containers_fails_only_on_the_shipped_defect(other: ContainerStack, time_scale: float) -> None:
    result = run_conformance(ConformanceConfig(other.endpoints.edge_url, other.profile, time_scale))
    failed = {p.name for p in result.points if p.verdict == "fail"}
    assert failed == {"idempotency.concurrent", "history.invariants"}, render_table(result)  # the checker too


@pytest.mark.parametrize("name", ["worker-sigkill", "redis-outage"])
def test_worker_and_redis_faults_hold_in_containers(other: ContainerStack, tmp_path: Path, name: str) -> None:
    params = check_params(other.config.proxy_config, other.time_scale, other.profile)
    config = WorkloadConfig.for_params(params, other.time_scale, jobs=8, seed=3)
    with History(tmp_path / "history.jsonl") as history:
        run_case(other, history, BY_NAME[name], config, profile=other.profile)
    result = check_files([tmp_path / "history.jsonl"], params)
    assert result.verdict == "VALID" and not unexpected(result), render_text(result)
    assert result.stats.jobs["completed"] == result.stats.jobs["acknowledged"] > 0, render_text(result)
