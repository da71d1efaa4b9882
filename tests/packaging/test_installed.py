"""The harness as a user gets it: the wheel built from this tree, installed into a fresh virtualenv (no extras),
used from an empty folder outside the checkout — doctor, up (booted, probed, Ctrl-C, nothing left), init and the
scaffold's own test, a short Locust run of a shipped scenario, and the one-line hint of a missing extra."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.packaging
ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Installed:
    venv: Path
    home: Path  # an empty folder outside the checkout, where every command runs

    def bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)

    def env(self, **extra: str) -> dict[str, str]:
        """No trace of the checkout: not on PYTHONPATH, not the working directory; its venv not on PATH."""
        path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if ".venv" not in p)
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        return {**env, "PATH": f"{self.venv / 'bin'}{os.pathsep}{path}", **extra}

    def run(self, *argv: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(argv), cwd=cwd or self.home, env=self.env(), capture_output=True, text=True, timeout=timeout
        )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    """Build the wheel, make a venv, install the wheel with its dependencies (pip's cache makes it quick)."""
    work = tmp_path_factory.mktemp("packaging")
    dist = work / "dist"
    built = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    (wheel,) = dist.glob("async_download_chaos-*.whl")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check", str(wheel)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert pip.returncode == 0, pip.stdout[-2000:] + pip.stderr[-2000:]
    home = work / "home"
    home.mkdir()
    yield Installed(venv, home)


def test_the_wheel_carries_the_fronts_scenarios_profiles_and_recipes(installed: Installed) -> None:
    code = (
        "import harness, json; from harness.fronts import available_configs; from harness.cli.locust import scenarios;"
        "from harness.contract import available_profiles; print(json.dumps([harness.__file__, available_configs(),"
        " sorted(scenarios()), available_profiles()]))"
    )
    done = installed.run(installed.bin("python"), "-c", code)
    assert done.returncode == 0, done.stderr
    where, fronts, scenarios, profiles = json.loads(done.stdout)
    assert "site-packages" in where and not where.startswith(str(ROOT)), where
    assert {"recommended", "nginx-defaults", "cloudflare-edge", "alb-edge"} <= set(fronts)
    assert scenarios == ["legacy", "mixed", "polling", "sse"] and profiles == ["reference"]


def test_version_help_doctor_and_a_missing_extra(installed: Installed) -> None:
    version = installed.run(installed.bin("harness"), "--version")
    assert version.returncode == 0 and version.stdout.startswith("harness 0."), version.stderr
    assert installed.run(installed.bin("harness"), "--help").returncode == 0
    doctor = installed.run(installed.bin("harness"), "doctor")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr  # redis-server, nginx, Toxiproxy: a stack boots
    assert "pip install 'async-download-chaos[containers]'" in doctor.stdout
    images = installed.run(installed.bin("harness"), "images", "list")
    assert images.returncode == 2
    assert images.stderr.strip().splitlines() == [
        "harness images: this needs the 'containers' extra (docker is not installed): "
        "pip install 'async-download-chaos[containers]'"
    ]
    flags = installed.run(installed.bin("harness"), "locust", "--help")
    assert flags.returncode == 0 and "--time-scale" in flags.stdout and "(default: recommended)" in flags.stdout


def test_harness_up_boots_answers_and_leaves_nothing_after_ctrl_c(installed: Installed, time_scale: float) -> None:
    argv = [installed.bin("harness"), "up", "--backend", "local", "--json", "--time-scale", str(time_scale)]
    proc = subprocess.Popen(argv, cwd=installed.home, env=installed.env(), stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        with urllib.request.urlopen(f"{info['edge_url']}/health", timeout=5) as answer:
            assert answer.status == 200
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    for pid in info["pids"].values():
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_init_scaffolds_a_project_whose_own_test_passes(installed: Installed, time_scale: float) -> None:
    made = installed.run(installed.bin("harness"), "init", "my-service-tests")
    assert made.returncode == 0, made.stderr
    project = installed.home / "my-service-tests"
    expected = {"profile.toml", "service.toml", "locustfile.py", "pytest.ini", "README.md", "tests/test_chaos.py"}
    assert expected | {".github/workflows/chaos.yml"} <= {str(p.relative_to(project)) for p in project.rglob("*")}
    again = installed.run(installed.bin("harness"), "init", "my-service-tests")
    assert again.returncode == 2 and "already exist; nothing was written" in again.stderr
    tests = installed.run(installed.bin("python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=project)
    assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-2000:]
    assert "1 passed" in tests.stdout


def test_a_short_locust_run_of_a_shipped_scenario(installed: Installed, time_scale: float) -> None:
    run = installed.run(
        installed.bin("harness"),
        "locust",
        "mixed",
        "--",
        *("--headless", "-u", "6", "-r", "6", "-t", "10s", "--time-scale", str(time_scale)),
        *("--history", str(installed.home / "locust" / "history.jsonl")),
        timeout=240,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert (installed.home / "locust" / "history.jsonl").stat().st_size > 0
