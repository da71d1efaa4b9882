"""The pinned Toxiproxy (server and CLI), built once per user with `go install` into the harness's cache.

Toxiproxy is a Go program, packaged neither for Debian nor for PyPI; the Go module proxy serves its source, and
`go install` builds the same static binaries its releases ship. `harness install toxiproxy` runs this; every
lookup (`find_toxiproxy_binary`) finds the result there, so a pip user and a checkout use the same binary.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from harness.core.cache import exclusive, user_cache_dir
from harness.core.errors import ToxiproxyError

VERSION = "v2.12.0"
MODULE = "github.com/Shopify/toxiproxy/v2"
_STAMP = ".toxiproxy-recipe"


@dataclass(frozen=True)
class ToxiproxyBinaries:
    server: Path
    cli: Path
    version: str


def install_dir(version: str = VERSION, environ: Mapping[str, str] | None = None) -> Path:
    return user_cache_dir(environ) / "toxiproxy" / version


def _recipe(version: str) -> str:
    """What the stamp must say for existing binaries to be reused: the version and how they were built."""
    return f"{MODULE} {version} CGO_ENABLED=0 ldflags=-s -w -X {MODULE}.Version={version.removeprefix('v')}"


def installed(version: str = VERSION, environ: Mapping[str, str] | None = None) -> ToxiproxyBinaries | None:
    """The binaries of `version` in the cache, if they are there and were built by this recipe."""
    where = install_dir(version, environ)
    binaries = ToxiproxyBinaries(where / "toxiproxy-server", where / "toxiproxy-cli", version)
    try:
        stamp = (where / _STAMP).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    usable = all(os.access(p, os.X_OK) for p in (binaries.server, binaries.cli))
    return binaries if usable and stamp == _recipe(version) else None


def install(version: str = VERSION, progress: Callable[[str], None] = print) -> ToxiproxyBinaries:
    """Build `version` into the cache unless it is there already (idempotent; seconds when present)."""
    where = install_dir(version)
    with exclusive(where / ".lock"):
        found = installed(version)
        if found is not None:
            progress(f"toxiproxy {version} present in {where}")
            return found
        go = shutil.which("go")
        if go is None:
            raise ToxiproxyError(
                f"building Toxiproxy {version} needs Go (`go install {MODULE}/cmd/server@{version}`); install it "
                "(Debian: sudo apt-get install golang-go), or set HARNESS_TOXIPROXY_BIN to a toxiproxy-server"
            )
        progress(f"building toxiproxy {version} with go install into {where} (first time only)")
        ldflags = f"-s -w -X {MODULE}.Version={version.removeprefix('v')}"
        with tempfile.TemporaryDirectory(dir=where) as tmp:
            env = {**os.environ, "GOBIN": tmp, "CGO_ENABLED": "0"}
            for command in ("server", "cli"):
                _go_install(go, f"{MODULE}/cmd/{command}@{version}", ldflags, env)
            os.replace(Path(tmp) / "server", where / "toxiproxy-server")
            os.replace(Path(tmp) / "cli", where / "toxiproxy-cli")
        (where / _STAMP).write_text(_recipe(version) + "\n", encoding="utf-8")
    progress(f"toxiproxy {version} installed: {where / 'toxiproxy-server'}")
    return ToxiproxyBinaries(where / "toxiproxy-server", where / "toxiproxy-cli", version)


def _go_install(go: str, package: str, ldflags: str, env: Mapping[str, str]) -> None:
    done = subprocess.run(
        [go, "install", f"-ldflags={ldflags}", package], env=env, capture_output=True, text=True, timeout=900
    )
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip()[-600:]
        raise ToxiproxyError(f"`go install {package}` exited {done.returncode}: {tail or '(no output)'}")
