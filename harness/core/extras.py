"""The package's extras (optional dependencies): imported only when a command needs one, and when it is missing,
the one line that installs it instead of a traceback."""

from __future__ import annotations

import importlib
from types import ModuleType

from harness.core.errors import HarnessError

DISTRIBUTION = "async-download-chaos"
EXTRA_OF = {"docker": "containers", "testcontainers": "containers", "matplotlib": "report", "hdrh": "report"}


class MissingExtra(HarnessError):
    """A command needs an optional dependency that is not installed."""


def install_line(extra: str) -> str:
    return f"pip install '{DISTRIBUTION}[{extra}]'"


def missing_extra(exc: ModuleNotFoundError) -> MissingExtra | None:
    """The MissingExtra an import failure stands for, or None when the module belongs to no extra."""
    top = (exc.name or "").split(".")[0]
    extra = EXTRA_OF.get(top)
    if extra is None:
        return None
    return MissingExtra(f"this needs the {extra!r} extra ({top} is not installed): {install_line(extra)}")


def require(module: str) -> ModuleType:
    """Import an extra's module, or raise MissingExtra saying how to install it."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        error = missing_extra(exc)
        if error is None:
            raise
        raise error from exc
