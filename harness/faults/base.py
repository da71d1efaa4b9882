"""The fault protocol: what a fault acts on (`FaultTarget`, `ProcessControl`), the time window it is recorded
as, `Fault` (anything applied to a target and removed, usable as `with fault.on(target):`), `AtomicFault` (one
change, recorded as its own windows) and `Compose` (several as one: `a + b`).

A window opens just before a fault's action starts and closes just after its removal completes, so it covers
every effect the fault can have: a checker may attribute an anomaly to it. Import faults from `harness.faults`.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field
from types import TracebackType
from typing import Any, ClassVar, Protocol, Self, runtime_checkable

from harness.core.errors import FaultError
from harness.faults.toxiproxy import ToxiproxyClient

Detail = tuple[tuple[str, str | int | float | bool], ...]


@runtime_checkable
class ProcessControl(Protocol):
    """What a stack offers to process faults; components are names like "redis", "api", "worker-0"."""

    def signal(self, component: str, sig: int) -> None: ...

    def restart(self, component: str, *, graceful: bool = True) -> None: ...

    def stop(self, component: str) -> None: ...

    def start(self, component: str) -> None:
        """Start a stopped component; must also accept one whose process was killed (WorkerKill relies on it)."""

    def components(self) -> list[str]: ...


class FaultTarget(Protocol):
    """What a fault acts on (a Stack). Optional attributes, read with getattr:

    - `fault_listener`: a callable taking a FaultWindow; called with an open window (`end_wall is None`)
      when a fault is applied and with the closed window when it is removed (the history recorder).
    - `time_scale`: the scale for toxic durations; without it HARNESS_TIME_SCALE applies.
    """

    @property
    def toxiproxy(self) -> ToxiproxyClient: ...

    @property
    def processes(self) -> ProcessControl: ...


@dataclass(frozen=True)
class FaultWindow:
    """When a fault was in force, on what; wall time for reports, monotonic time for ordering and durations."""

    fault: str
    kind: str
    target: str
    start_wall: float
    start_mono: float
    end_wall: float | None = None
    end_mono: float | None = None
    detail: Detail = ()

    @property
    def is_open(self) -> bool:
        return self.end_mono is None

    @property
    def duration(self) -> float | None:
        return None if self.end_mono is None else self.end_mono - self.start_mono

    def closed(self) -> FaultWindow:
        return dataclasses.replace(self, end_wall=time.time(), end_mono=time.monotonic())

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready record for the history (detail becomes an object)."""
        data = dataclasses.asdict(self)
        data["detail"] = dict(self.detail)
        return data


def _notify(target: object, window: FaultWindow) -> None:
    listener: Callable[[FaultWindow], object] | None = getattr(target, "fault_listener", None)
    if listener is not None:
        listener(window)


class Fault(ABC):
    """Anything applied to a target and removed: `fault.on(target)` binds, `apply()`/`remove()` or `with` scope it.

    Applying an applied fault is refused; removing a removed (or never applied) fault does nothing.
    """

    kind: ClassVar[str] = "fault"
    _target: FaultTarget | None = None

    @property
    @abstractmethod
    def where(self) -> str:
        """The proxy or component the fault acts on, as recorded in its windows."""

    @property
    @abstractmethod
    def active(self) -> bool: ...

    @property
    @abstractmethod
    def windows(self) -> list[FaultWindow]:
        """Every window of this fault, oldest first; the last one is open while the fault is applied."""

    @abstractmethod
    def apply(self) -> Self: ...

    @abstractmethod
    def remove(self) -> None: ...

    def on(self, target: FaultTarget) -> Self:
        self._target = target
        return self

    @property
    def target(self) -> FaultTarget:
        if self._target is None:
            raise FaultError(f"{self!r} is not bound to a target; bind it first: `with fault.on(stack): ...`")
        return self._target

    def __enter__(self) -> Self:
        return self.apply()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.remove()

    def __add__(self, other: Fault) -> Compose:
        return Compose(self, other)


@dataclass(repr=False)
class AtomicFault(Fault):
    """One change (a toxic, a signal): parameters are dataclass fields, `_apply`/`_remove` do and undo it.

    A failed apply leaves nothing in place and records no window; a failed remove keeps the fault applied
    (and its window open) so that `remove()` can be retried.
    """

    _target: FaultTarget | None = field(default=None, init=False, compare=False)
    _active: FaultWindow | None = field(default=None, init=False, compare=False)
    _windows: list[FaultWindow] = field(default_factory=list, init=False, compare=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, init=False, compare=False)

    @abstractmethod
    def _apply(self, target: FaultTarget) -> Detail:
        """Do the fault (all or nothing) and return what was really done, for the window."""

    @abstractmethod
    def _remove(self, target: FaultTarget) -> None:
        """Undo the fault; must tolerate state already reset by someone else (e.g. Toxiproxy reset())."""

    def __repr__(self) -> str:
        """Reads like code: required fields, then fields whose value differs from their default."""
        parts = []
        for f in sorted(dataclasses.fields(self), key=lambda f: f.kw_only is True):
            value = getattr(self, f.name)
            if f.init and (f.default is MISSING or value != f.default):
                parts.append(f"{f.name}={value!r}")
        return f"{type(self).__name__}({', '.join(parts)})"

    @property
    def active(self) -> bool:
        return self._active is not None

    @property
    def windows(self) -> list[FaultWindow]:
        return list(self._windows)

    def apply(self) -> Self:
        target = self.target
        with self._lock:
            if self._active is not None:
                raise FaultError(f"{self!r} is already applied on {self.where!r}; remove() it before applying again")
            start_wall, start_mono = time.time(), time.monotonic()
            try:
                detail = self._apply(target)
            except FaultError:
                raise
            except Exception as exc:
                raise FaultError(f"applying {self!r} on {self.where!r} failed: {exc}") from exc
            window = FaultWindow(repr(self), self.kind, self.where, start_wall, start_mono, detail=detail)
            self._active = window
            self._windows.append(window)
        _notify(target, window)
        return self

    def remove(self) -> None:
        with self._lock:
            if self._active is None:
                return
            target = self.target
            try:
                self._remove(target)
            except Exception as exc:
                raise FaultError(
                    f"removing {self!r} from {self.where!r} failed: {exc}; it is still applied, call remove() again"
                ) from exc
            window = self._active.closed()
            self._active = None
            self._windows[-1] = window
        _notify(target, window)


class Compose(Fault):
    """Several faults as one: applied in order, removed in reverse; a failed apply undoes the ones before it.

    It records no window of its own: each part records and notifies its own.
    """

    kind = "compose"

    def __init__(self, *faults: Fault) -> None:
        self._lock = threading.RLock()
        if not faults:
            raise FaultError("Compose() needs at least one fault, e.g. Compose(Latency('api', ms=100), RedisPause())")
        self.faults: tuple[Fault, ...] = tuple(p for f in faults for p in (f.faults if type(f) is Compose else (f,)))

    def __repr__(self) -> str:
        return f"Compose({', '.join(map(repr, self.faults))})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Compose) and self.faults == other.faults

    __hash__ = None  # type: ignore[assignment]

    @property
    def where(self) -> str:
        return ",".join(f.where for f in self.faults)

    @property
    def windows(self) -> list[FaultWindow]:
        return sorted((w for f in self.faults for w in f.windows), key=lambda w: w.start_mono)

    @property
    def active(self) -> bool:
        return any(f.active for f in self.faults)

    def on(self, target: FaultTarget) -> Self:
        for fault in self.faults:
            fault.on(target)
        return super().on(target)

    def apply(self) -> Self:
        with self._lock:
            if self.active:
                raise FaultError(f"{self!r} is already applied; remove() it before applying again")
            done: list[Fault] = []
            try:
                for fault in self.faults:
                    fault.apply()
                    done.append(fault)
            except BaseException as exc:
                for fault in reversed(done):
                    try:
                        fault.remove()
                    except FaultError as undo:
                        exc.add_note(f"undoing {fault!r} also failed: {undo}")
                raise
        return self

    def remove(self) -> None:
        """Remove every part, last first, even when one fails; the first failure is raised at the end."""
        with self._lock:
            errors: list[FaultError] = []
            for fault in reversed(self.faults):
                try:
                    fault.remove()
                except FaultError as exc:
                    errors.append(exc)
            if errors:
                for other in errors[1:]:
                    errors[0].add_note(str(other))
                raise errors[0]
