"""What every stack backend offers faults and clients, written once: the time scale, the Toxiproxy client,
the endpoints (only while running), itself as the ProcessControl, and `with` closing it."""

from __future__ import annotations

from typing import Self

from harness.closing import Closing
from harness.errors import StackStartError
from harness.stack.config import Endpoints, StackConfig
from harness.toxiproxy import ToxiproxyClient

NOT_RUNNING = "the stack is not running; use it inside `with Stack(...) as stack:`"


class StackSurface(Closing):
    """Base of LocalStack and ContainerStack; subclasses set `_toxiproxy` and `_endpoints` once booted."""

    config: StackConfig
    _toxiproxy: ToxiproxyClient | None = None
    _endpoints: Endpoints | None = None

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
