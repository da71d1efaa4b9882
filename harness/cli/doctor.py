"""`harness doctor`: what this machine has and lacks for each kind of run, and the command that installs each.

Exit 0 when a local stack can boot (redis-server, nginx with secure_link, Toxiproxy), else 1; what only some runs
need (a Docker engine, Chromium, the report extra) is reported but does not fail the check.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import asdict, dataclass

from harness.core.errors import HarnessError
from harness.core.extras import install_line, require


@dataclass(frozen=True)
class Finding:
    name: str
    ok: bool
    detail: str  # where it is and its version, or why it is missing
    fix: str  # the command that installs it
    needed_for: str
    required: bool = True


def _which(program: str) -> str | None:
    return shutil.which(program, path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin"]))


def _output(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"({type(exc).__name__})"
    return (done.stdout + done.stderr).strip()


def redis() -> Finding:
    path = _which("redis-server")
    detail = f"{path}: {_output([path, '--version']).split(' sha=')[0]}" if path else "not on PATH"
    return Finding("redis-server", path is not None, detail, "sudo apt-get install redis-server", "local stacks")


def nginx() -> Finding:
    path = _which("nginx")
    if path is None:
        return Finding("nginx", False, "not on PATH", "sudo apt-get install nginx-light", "local stacks")
    built = _output([path, "-V"])
    version = built.splitlines()[0] if built else "?"
    ok = "http_secure_link_module" in built
    detail = f"{path}: {version}" + ("" if ok else "; built without the secure_link module")
    return Finding("nginx (secure_link)", ok, detail, "sudo apt-get install nginx-light", "local stacks")


def toxiproxy() -> Finding:
    from harness.faults.toxiproxy_server import find_toxiproxy_binary

    fix = "harness install toxiproxy" + ("" if _which("go") else "  (needs Go: sudo apt-get install golang-go)")
    try:
        binary = find_toxiproxy_binary()
    except HarnessError as exc:
        return Finding("toxiproxy-server", False, str(exc).split(";")[0], fix, "every stack (network faults)")
    return Finding("toxiproxy-server", True, f"{binary}: {_output([str(binary), '-version'])}", fix, "every stack")


def docker_engine() -> Finding:
    fix, needed = "sudo apt-get install docker.io, then start dockerd", "the containers backend"
    try:
        require("docker")
        require("testcontainers")
        from harness.images.engine import connect

        client = connect()
    except HarnessError as exc:
        missing_sdk = "extra" in str(exc)
        return Finding(
            "Docker engine", False, str(exc)[:160], install_line("containers") if missing_sdk else fix, needed, False
        )
    try:
        version = client.version().get("Version", "?")
    finally:
        client.close()
    return Finding("Docker engine", True, f"answers (engine {version})", fix, needed, required=False)


def chromium() -> Finding:
    path = _which("chromium") or _which("chromium-browser") or _which("google-chrome")
    detail = f"{path}: {_output([path, '--version']).splitlines()[-1]}" if path else "not on PATH"
    fix = "sudo apt-get install chromium"
    return Finding("Chromium", path is not None, detail, fix, "the report's browser tests", required=False)


def report_extra() -> Finding:
    try:
        require("matplotlib")
        require("hdrh")
    except HarnessError as exc:
        return Finding("report extra", False, str(exc)[:160], install_line("report"), "HTML reports", False)
    return Finding("report extra", True, "matplotlib and hdrhistogram import", install_line("report"), "HTML reports")


CHECKS: tuple[Callable[[], Finding], ...] = (redis, nginx, toxiproxy, docker_engine, chromium, report_extra)


def register_cli(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "doctor", help="what this machine has and lacks, and how to install it", description=__doc__
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per finding instead of the table")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    findings = [check() for check in CHECKS]
    if args.json:
        for finding in findings:
            print(json.dumps(asdict(finding)))
    else:
        for f in findings:
            mark = "ok  " if f.ok else ("MISS" if f.required else "--  ")
            print(f"{mark} {f.name:20} {f.detail}")
            if not f.ok:
                print(f"     {'':20} for {f.needed_for}: {f.fix}")
    missing = [f.name for f in findings if f.required and not f.ok]
    if missing:
        print(f"\na local stack cannot boot without: {', '.join(missing)}")
    return 1 if missing else 0
