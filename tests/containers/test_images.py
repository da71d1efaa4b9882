"""The offline images: built, cached by content hash, and each one does its job when run."""

from __future__ import annotations

import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.images import HASH_LABEL, OFFLINE_IMAGES, REGISTRY_IMAGES, ImageSet, build_images, images_present
from harness.images.names import resolve_images
from harness.images.recipes import tree_hash

# The first build of a machine (debootstrap + wheels) takes ~80 s; it lands in the first test's time.
pytestmark = [pytest.mark.containers, pytest.mark.timeout(900)]
Run = Callable[..., Any]


def published_port(container: Any, port: str, timeout: float = 10.0) -> int:
    """The 127.0.0.1 host port the engine published for `port` (e.g. "8474/tcp")."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        container.reload()
        bindings = (container.attrs["NetworkSettings"]["Ports"] or {}).get(port)
        if bindings:
            return int(bindings[0]["HostPort"])
        time.sleep(0.05)
    raise AssertionError(f"{container.name} has no published port for {port} after {timeout} s")


def run_to_end(container: Any, timeout: float = 60.0) -> tuple[int, str]:
    """Exit code and combined output of a container that runs one command."""
    status = container.wait(timeout=timeout)
    return int(status["StatusCode"]), container.logs(stdout=True, stderr=True).decode(errors="replace")


def wait_http(url: str, timeout: float = 15.0) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            response = httpx.get(url, timeout=1.0)
            if response.status_code == 200:
                return response
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} did not answer 200 within {timeout} s")
        time.sleep(0.1)


def test_offline_images_exist_with_content_hash_labels(docker_client: Any, offline_images: ImageSet) -> None:
    assert images_present(offline_images)
    assert resolve_images(offline=True) == offline_images
    for _, name in offline_images.items():
        labels = docker_client.images.get(name).attrs["Config"]["Labels"] or {}
        assert len(labels.get(HASH_LABEL, "")) == 64, f"{name} lacks its {HASH_LABEL} label"


def test_second_build_with_nothing_changed_is_up_to_date(offline_images: ImageSet, build_log: list[str]) -> None:
    lines: list[str] = []
    started = time.monotonic()
    assert build_images(offline=True, progress=lines.append) == offline_images
    elapsed = time.monotonic() - started
    assert elapsed < 30, f"a cached build took {elapsed:.1f} s:\n" + "\n".join(lines)
    for role in ("base", *(role for role, _ in offline_images.items())):
        assert any(line.startswith(f"[images] {role} ") and "up to date" in line for line in lines), lines


def test_redis_image_runs_redis_7(offline_images: ImageSet, containers: Run) -> None:
    code, output = run_to_end(containers(offline_images.redis, ["redis-server", "--version"]))
    assert code == 0 and "Redis server v=7." in output, output


def test_nginx_image_has_secure_link(offline_images: ImageSet, containers: Run) -> None:
    code, output = run_to_end(containers(offline_images.nginx, ["nginx", "-V"]))
    assert code == 0 and "--with-http_secure_link_module" in output, output
    code, output = run_to_end(containers(offline_images.nginx, ["nginx", "-t"]))
    assert code == 0, f"the image's own nginx config does not load:\n{output}"


def test_toxiproxy_image_answers_version_on_loopback(offline_images: ImageSet, containers: Run) -> None:
    proxy = containers(offline_images.toxiproxy, ports={"8474/tcp": ("127.0.0.1", None)})
    port = published_port(proxy, "8474/tcp")
    response = wait_http(f"http://127.0.0.1:{port}/version")
    assert response.text.strip(), "toxiproxy answered /version with an empty body"
    assert httpx.get(f"http://127.0.0.1:{port}/proxies", timeout=2).json() == {}


def test_service_image_serves_health_against_redis_image(
    offline_images: ImageSet, containers: Run, network: Any
) -> None:
    containers(offline_images.redis, network=network.name, name=f"{network.name}-redis")
    env = {"REDIS_URL": f"redis://{network.name}-redis:6379/0", "SIGNING_SECRET": "test", "ARTIFACT_DIR": "/tmp/a"}
    api = containers(offline_images.service, network=network.name, environment=env,
                     ports={"8000/tcp": ("127.0.0.1", None)})  # fmt: skip
    port = published_port(api, "8000/tcp")
    try:
        wait_http(f"http://127.0.0.1:{port}/health", timeout=30)
    except AssertionError as exc:
        exc.add_note(api.logs().decode(errors="replace")[-2000:])
        raise


def test_service_image_holds_runtime_requirements_only(offline_images: ImageSet, containers: Run) -> None:
    probe = "import importlib.util as u; print(*[m for m in {mods} if u.find_spec(m)])"
    wanted = ["fastapi", "uvicorn", "uvloop", "httptools", "sse_starlette", "bullmq", "redis", "reference_service"]
    unwanted = ["locust", "hypothesis", "pytest", "harness", "matplotlib"]
    command = ["-c", probe.format(mods=wanted + unwanted)]
    code, output = run_to_end(containers(offline_images.service, command, entrypoint="/opt/venv/bin/python"))
    assert code == 0 and output.split() == wanted, output


def test_image_names_follow_env_then_flags() -> None:
    env = {"HARNESS_IMAGE_REDIS": "mirror.local/redis:7", "HARNESS_IMAGES_OFFLINE": "0"}
    chosen = resolve_images(None, {"nginx": "my/nginx"}, env=env)
    assert chosen == ImageSet("mirror.local/redis:7", "my/nginx", REGISTRY_IMAGES.toxiproxy, REGISTRY_IMAGES.service)
    assert resolve_images(True, {"redis": "flag/redis"}, env=env).redis == "flag/redis"
    assert resolve_images(True, env={}) == OFFLINE_IMAGES


def test_content_hash_ignores_wheel_timestamps_but_not_contents(tmp_path: Path) -> None:
    def wheel(root: Path, body: bytes, stamp: tuple[int, int, int, int, int, int]) -> str:
        (root / "project").mkdir(parents=True)
        with zipfile.ZipFile(root / "project" / "p-1-py3-none-any.whl", "w") as zf:
            zf.writestr(zipfile.ZipInfo("reference_service/x.py", stamp), body)
        return tree_hash(root)

    first = wheel(tmp_path / "a", b"x = 1", (2020, 1, 1, 0, 0, 0))
    assert wheel(tmp_path / "b", b"x = 1", (2024, 6, 1, 12, 0, 0)) == first
    assert wheel(tmp_path / "c", b"x = 2", (2020, 1, 1, 0, 0, 0)) != first
