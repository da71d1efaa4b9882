"""What the users of one Locust process share: the run's settings, its history, and the recorder that feeds both
the history and Locust's stats. The plugin opens it when a test starts and closes it when the process quits."""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from harness.contract import Timeouts
from harness.core.errors import HarnessError
from harness.judge.history import History
from harness.locust.metrics import MetricsRecorder
from harness.locust.options import RunSettings

if TYPE_CHECKING:
    from locust.env import Environment


@dataclass
class Runtime:
    """One process's run state; `client_id` names are unique across processes and hosts (a random tag)."""

    settings: RunSettings
    history: History
    recorder: MetricsRecorder
    timeouts: Timeouts
    tag: str = field(default_factory=lambda: secrets.token_hex(3))
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    @property
    def path(self) -> Path:
        return self.history.path

    def client_id(self, kind: str) -> str:
        return f"{kind}-{self.tag}-{next(self._ids)}"


_current: Runtime | None = None


def open_runtime(environment: Environment, settings: RunSettings, path: Path) -> Runtime:
    """Open (or keep) this process's runtime; a new test in the same process appends to the same history."""
    global _current
    if _current is None or _current.path != path:
        close_runtime()
        history = History(path)
        _current = Runtime(settings, history, MetricsRecorder(history, environment.events.request), settings.timeouts())
    return _current


def current() -> Runtime:
    if _current is None:
        raise HarnessError("no harness run is open in this process; users start only after the plugin's test_start")
    return _current


def close_runtime() -> Path | None:
    global _current
    if _current is None:
        return None
    path = _current.path
    _current.history.close()
    _current = None
    return path


def current_path() -> Path | None:
    return None if _current is None else _current.path
