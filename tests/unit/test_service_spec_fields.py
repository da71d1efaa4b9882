"""A service spec is checked when it is read: every mistake names the field and the fix."""

from __future__ import annotations

import signal
import tomllib
from pathlib import Path

import pytest

from harness.core.errors import ConfigError
from harness.stack import Stack, StackConfig
from harness.stack.components import ServiceRun
from harness.stack.service import available_services, load_service, parse_service

pytestmark = pytest.mark.unit
REFERENCE = Path(load_service("reference").path)


def reference_data() -> dict:  # type: ignore[type-arg]
    return tomllib.loads(REFERENCE.read_text(encoding="utf-8"))


def test_the_shipped_reference_spec_fills_every_placeholder() -> None:
    assert available_services() == ["reference"]
    spec = load_service()
    run = ServiceRun(spec, "redis://127.0.0.1:7001/0", "/tmp/a", "s3cret", 0.05, {"EXTRA": "1"})
    argv = spec.argv("api", run.values(port=8123))
    assert argv[1:] == ["-m", "reference_service.cli", "api", "--host", "127.0.0.1", "--port", "8123"]
    env = run.env("worker", index=0, concurrency=3)
    assert env["REDIS_URL"] == "redis://127.0.0.1:7001/0" and env["SIGNING_SECRET"] == "s3cret"
    assert env["HARNESS_TIME_SCALE"] == "0.05" and env["EXTRA"] == "1"
    assert spec.role("worker").ready_log == "worker ready" and spec.stop_signal == signal.SIGTERM
    assert spec.jobs == {"kind": "bullmq", "prefix": "bull", "queue": "downloads", "key": "dl:job:*"}


def test_a_service_that_does_not_scale_runs_at_scale_one() -> None:
    data = reference_data()
    data["service"]["time_scale_env"] = ""
    spec = parse_service(data, REFERENCE)
    run = ServiceRun(spec, "redis://127.0.0.1:7001/0", "/tmp/a", "s", 0.05, backend="containers")
    assert not spec.scales and run.service_scale == 1.0 and "HARNESS_TIME_SCALE" not in run.env()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["local"]["api"].update(command="reference-service api"), r"\[local.api\].command must be a list"),
        (
            lambda d: d["local"]["api"]["command"].append("--port={prot}"),
            r"\[local.api\].command\[8\]='--port=\{prot\}': unknown placeholder \{prot\}; the harness fills \{python\}",
        ),
        (lambda d: d["env"].update(BAD="{redis_url"), r"\[env\].BAD='\{redis_url': .*literal brace"),
        (lambda d: d["local"].pop("worker"), r"\[worker\] is missing or not a table; see the template .*\.toml"),
        (lambda d: d["stop"].update(signal="SIGNOPE"), r"\[stop\].signal='SIGNOPE' is not a signal name"),
        (lambda d: d["health"].update(path="health"), r"\[health\].path='health': give a path like /health"),
        (lambda d: d["health"].update(code=99), r"\[health\].code=99 is out of range"),
        (lambda d: d["health"].update(timeout_s=0), r"\[health\].timeout_s=0 is out of range; use a number from 1"),
        (
            lambda d: d["containers"].update(build={"context": "."}),
            r"\[containers\]: give either image = .* or build = ",
        ),
        (
            lambda d: (d["containers"].pop("image"), d["containers"].update(build={"dockerfile": "Nope.docker"})),
            r"\[containers\].build: .*/Nope.docker does not exist; point context/dockerfile at it",
        ),
        (
            lambda d: d["containers"].update(image="{service_image}:{port}"),
            r"\[containers\].image='\{service_image\}:\{port\}': unknown placeholder \{port\}",
        ),
        (lambda d: d["containers"].pop("worker"), r"\[containers\]: \[worker\] is missing"),
        (lambda d: d["containers"].update(port=0), r"\[containers\].port=0 is out of range"),
        (lambda d: d["service"].update(profile="./nope.toml"), r"\[service\].profile='./nope.toml': .* does not exist"),
    ],
)
def test_a_mistake_names_the_field_and_the_fix(edit, message: str) -> None:  # type: ignore[no-untyped-def]
    data = reference_data()
    edit(data)
    with pytest.raises(ConfigError, match=message):
        parse_service(data, REFERENCE)


def test_a_missing_or_broken_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"service spec '.*nope.toml' does not exist; give a TOML file like"):
        load_service(tmp_path / "nope.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[service\n")
    with pytest.raises(ConfigError, match=r"broken.toml: not valid TOML"):
        load_service(broken)
    with pytest.raises(ConfigError, match=r"service 'other' is not shipped \(reference\); give a path"):
        load_service("other")


def test_the_containers_table_runs_the_same_roles_in_a_container() -> None:
    spec = load_service()
    run = ServiceRun(spec, "redis://toxiproxy:8668/0", "/artifacts", "s", 0.05, {"EXTRA": "1"}, backend="containers")
    assert spec.container_spec().image_name("adc/service") == "adc/service"
    assert run.argv("api", port=8000) == ["reference-service", "api", "--host", "0.0.0.0", "--port", "8000"]
    env = run.env("worker", index=1, concurrency=4)
    assert env["REDIS_URL"] == "redis://toxiproxy:8668/0" and env["EXTRA"] == "1"
    assert "PATH" not in env, "a container gets only the spec's env, not this process's"


def test_a_spec_without_containers_is_refused_by_that_backend_before_any_start(tmp_path: Path) -> None:
    text = REFERENCE.read_text(encoding="utf-8")
    spec = tmp_path / "local-only.toml"
    spec.write_text(text[: text.index("\n[containers]")] + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"has no \[containers\] table, so the containers backend cannot run it"):
        Stack(StackConfig(service=str(spec), backend="containers"))
    assert load_service(spec).containers is None
