"""Reading the harness's TOML inputs (service specs, component controls): one error for a file that is not TOML."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from harness.core.errors import ConfigError


def read_toml(path: Path, what: str) -> dict[str, Any]:
    """The table of the TOML file at `path`; a ConfigError naming `what` and the parser's complaint otherwise."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{what}: not valid TOML ({exc})") from None
