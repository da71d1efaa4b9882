"""Where the harness keeps what it builds once per user (Toxiproxy, image build caches): one directory."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

CACHE_ENV = "HARNESS_CACHE_DIR"


def user_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """$HARNESS_CACHE_DIR, else $XDG_CACHE_HOME/async-download-chaos, else ~/.cache/async-download-chaos."""
    env = os.environ if environ is None else environ
    if env.get(CACHE_ENV):
        return Path(env[CACHE_ENV]).expanduser()
    base = Path(env["XDG_CACHE_HOME"]).expanduser() if env.get("XDG_CACHE_HOME") else Path.home() / ".cache"
    return base / "async-download-chaos"
