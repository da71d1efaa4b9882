"""A stack runs whatever its service spec says, the reference included; a spec that cannot run fails at once,
naming the role and its log, and leaves nothing running."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.core.errors import StackStartError
from harness.stack import Stack, StackConfig
from harness.stack.service import load_service
from tests.stack.test_teardown import gone

pytestmark = pytest.mark.stack
WORKER_NEVER_READY = r"(?s)^worker-0 not ready after .*worker ready concurrency"  # its log shows what it printed
REFERENCE = Path(load_service("reference").path)


def write_spec(path: Path, edit: Any) -> Path:
    """The reference spec with `edit` applied, written as a user's own TOML file."""
    data = tomllib.loads(REFERENCE.read_text(encoding="utf-8"))
    edit(data)
    lines = []
    for table, values in [("service", data["service"]), ("env", data["env"]), ("health", data["health"])]:
        lines += [f"[{table}]", *(f"{k} = {_toml(v)}" for k, v in values.items()), ""]
    for role, values in data["local"].items():
        lines += [f"[local.{role}]", *(f"{k} = {_toml(v)}" for k, v in values.items()), ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _toml(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(value).lower() if isinstance(value, bool) else str(value)


def test_a_users_spec_runs_its_own_commands_and_env(tmp_path: Path, time_scale: float) -> None:
    def edit(data: dict[str, Any]) -> None:
        data["service"]["name"] = "my-service"
        data["env"]["REFERENCE_HEARTBEAT_S"] = "7"  # the user's own setting reaches the service
        data["local"]["api"]["cwd"] = "{spec_dir}"

    spec = write_spec(tmp_path / "my-service.toml", edit)
    with Stack(StackConfig(service=str(spec), time_scale=time_scale, workers=1)) as stack:
        assert stack.service.name == "my-service"
        assert httpx.get(f"{stack.endpoints.edge_url}/health", timeout=5).status_code == 200
        environ = Path(f"/proc/{stack.pids()['api']}/environ").read_bytes().split(b"\0")
        assert b"REFERENCE_HEARTBEAT_S=7" in environ
        assert Path(f"/proc/{stack.pids()['api']}/cwd").resolve() == tmp_path.resolve()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["local"]["api"].update(command=["/nonexistent/my-api", "--port", "{port}"]), r"api: cannot run"),
        (
            lambda d: d["health"].update(path="/no-such-health", timeout_s=3),
            r"^api not ready after 3.0 s \(log: .*api.log\)",
        ),
        (
            lambda d: (d["health"].update(timeout_s=3), d["local"]["worker"].update(ready_log="never printed")),
            WORKER_NEVER_READY,
        ),
    ],
    ids=["bad-command", "never-healthy", "worker-never-ready"],
)
def test_a_spec_that_cannot_run_fails_naming_the_role_and_leaves_nothing(
    tmp_path: Path, time_scale: float, edit: Any, message: str
) -> None:
    spec = write_spec(tmp_path / "broken.toml", edit)
    stack = Stack(StackConfig(service=str(spec), time_scale=time_scale, workers=1))
    with pytest.raises(StackStartError, match=message) as raised:
        stack.__enter__()
    role = "api" if "api" in message else "worker"
    assert any(f"{spec}: check [local.{role}].command" in note for note in raised.value.__notes__), raised.value
    pids = stack.pids()
    assert "redis" in pids and all(gone(p) for p in pids.values()), pids
