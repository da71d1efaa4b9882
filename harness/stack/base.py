"""What every stack backend offers faults and clients, written once: the time scale, the Toxiproxy client,
the endpoints (only while running), itself as the ProcessControl, and `with` closing it."""

from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path
from typing import Self

from harness.closing import Closing
from harness.errors import StackStartError
from harness.stack.config import Endpoints, StackConfig
from harness.toxiproxy import ToxiproxyClient

NOT_RUNNING = "the stack is not running; use it inside `with Stack(...) as stack:`"


class StackSurface(Closing):
    """Base of LocalStack and ContainerStack; subclasses set `_toxiproxy` and `_endpoints` once booted."""

    config: StackConfig
    log_dir: Path
    boot_seconds: float = 0.0
    _exit: ExitStack
    _toxiproxy: ToxiproxyClient | None = None
    _endpoints: Endpoints | None = None

    def _boot(self) -> None:
        raise NotImplementedError

    def _abandon_boot(self) -> None:
        """A start failed: tear down what did start."""
        self.close()

    def __enter__(self) -> Self:
        started = time.monotonic()
        try:
            self._boot()
        except BaseException as exc:
            self._abandon_boot()
            if not isinstance(exc, StackStartError | KeyboardInterrupt):
                raise StackStartError(f"the stack did not start: {exc} (logs: {self.log_dir})") from exc
            raise
        self.boot_seconds = time.monotonic() - started
        return self

    def close(self) -> None:
        self._exit.close()
        self._endpoints = None

    @property
    def time_scale(self) -> float:
        return self.config.time_scale

    @property
    def toxiproxy(self) -> ToxiproxyClient:
        if self._toxiproxy is None:
            raise StackStartError(NOT_RUNNING)
        return self._toxiproxy

    @property
    def endpoints(self) -> Endpoints:
        if self._endpoints is None:
            raise StackStartError(NOT_RUNNING)
        return self._endpoints

    @property
    def processes(self) -> Self:
        return self
