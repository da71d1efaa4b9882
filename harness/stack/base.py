"""What every stack backend offers faults and clients, written once: the time scale, the Toxiproxy client,
the endpoints (only while running), itself as the ProcessControl over its components, and `with` closing it."""

from __future__ import annotations

import functools
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Protocol, Self

from harness.contract import ContractProfile
from harness.core.closing import Closing
from harness.core.errors import StackStartError
from harness.faults.toxiproxy import ToxiproxyClient
from harness.stack.config import Endpoints, StackConfig
from harness.stack.service import ServiceSpec

NOT_RUNNING = "the stack is not running; use it inside `with Stack(...) as stack:`"


class Component(Protocol):
    """One part of a stack as the backends run it: a local process (ManagedProcess) or a container
    (ManagedContainer)."""

    @property
    def alive(self) -> bool: ...

    @property
    def pid(self) -> int | None: ...

    def signal(self, sig: int) -> None: ...

    def stop(self) -> None: ...

    def start(self) -> None: ...

    def restart(self, *, graceful: bool = True) -> None: ...


class StackSurface(Closing):
    """Base of LocalStack and ContainerStack; subclasses set `_toxiproxy` and `_endpoints` once booted."""

    config: StackConfig
    service: ServiceSpec  # the implementation in the SUT slot, read from config.service when the stack is made
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
        spec = self.service
        if not spec.scales and self.config.time_scale != 1.0:
            print(
                f"harness: service {spec.name!r} does not follow the time scale; its fronts run their timers at "
                f"scale 1, not {self.config.time_scale:g} (verdicts hold for real-time timers only)",
                file=sys.stderr,
                flush=True,
            )
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
        """The scale of the whole stack: the config's, or 1 when its service's durations do not follow the time
        scale (then its fronts' timers are the real ones, which the service's real durations meet)."""
        return self.config.time_scale if self.service.scales else 1.0

    @functools.cached_property
    def profile(self) -> ContractProfile:
        """The contract profile its service speaks (its spec's): what clients of this stack must use."""
        return self.service.contract()

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

    # --- ProcessControl (harness.faults.base) ---------------------------------------------------------
    def _proc(self, component: str) -> Component:
        """The named component; a ConfigError naming the ones there are when it does not exist."""
        raise NotImplementedError

    def _follow(self) -> None:
        """After a component (re)started: re-read what may have moved with it (a container's published ports)."""

    def signal(self, component: str, sig: int) -> None:
        """Send `sig`; SIGSTOP/SIGCONT pause and resume it (a container: docker pause/unpause)."""
        self._proc(component).signal(sig)

    def restart(self, component: str, *, graceful: bool = True) -> None:
        self._proc(component).restart(graceful=graceful)
        self._follow()

    def stop(self, component: str) -> None:
        self._proc(component).stop()

    def start(self, component: str) -> None:
        proc = self._proc(component)
        if not proc.alive:
            proc.start()
            self._follow()

    def pid(self, component: str) -> int | None:
        return self._proc(component).pid
