"""Faults in time: `Timed` (removed after a scaled duration) and `Schedule` (timed steps one after another).

Wrappers record no windows of their own: each wrapped fault records and notifies its own. Durations are
modelled seconds and go through the time scale, so a schedule written for real time keeps its ratios to
job durations and proxy timeouts in a scaled CI run.
"""

from __future__ import annotations

import math
import threading
from typing import Self

from harness.core.errors import ConfigError, FaultError
from harness.core.timescale import scaled
from harness.faults.base import Fault, FaultTarget, FaultWindow


class Timed(Fault):
    """`fault` applied now and removed after `seconds` by a timer thread; `wait()` blocks until it is removed.

    Windows and listener calls are the wrapped fault's (the removal's may come from the timer thread).
    """

    kind = "timed"

    def __init__(self, fault: Fault, seconds: float, *, time_scale: float | None = None) -> None:
        self._lock = threading.RLock()
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, int | float)
            or not math.isfinite(seconds)
            or seconds < 0
        ):
            raise ConfigError(f"Timed(seconds={seconds!r}) is out of range; use a number of seconds >= 0")
        self.fault = fault
        self.seconds = seconds
        self.time_scale = time_scale
        self._timer: threading.Timer | None = None
        self._removed = threading.Event()
        self._error: BaseException | None = None

    def __repr__(self) -> str:
        return f"Timed({self.fault!r}, seconds={self.seconds!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Timed) and (self.fault, self.seconds) == (other.fault, other.seconds)

    __hash__ = None  # type: ignore[assignment]

    @property
    def where(self) -> str:
        return self.fault.where

    @property
    def windows(self) -> list[FaultWindow]:
        return self.fault.windows

    @property
    def active(self) -> bool:
        return self.fault.active

    @property
    def duration(self) -> float:
        """Wall-clock seconds the fault stays applied: the explicit scale, else the target's, else the env's."""
        scale = self.time_scale if self.time_scale is not None else getattr(self._target, "time_scale", None)
        return scaled(self.seconds, scale)

    def on(self, target: FaultTarget) -> Self:
        self.fault.on(target)
        return super().on(target)

    def apply(self) -> Self:
        with self._lock:
            self.fault.apply()
            self._removed.clear()
            self._error = None
            self._timer = threading.Timer(self.duration, self._expire)
            self._timer.daemon = True
            self._timer.start()
        return self

    def _expire(self) -> None:
        try:
            self.fault.remove()
        except BaseException as exc:
            self._error = exc
        finally:
            self._removed.set()

    def remove(self) -> None:
        """Remove now (cancelling the timer); harmless after the timer already removed it."""
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        self.fault.remove()
        self._error = None
        self._removed.set()

    def wait(self, timeout: float | None = None) -> bool:
        """True once the fault is removed (bounded by `timeout`); re-raises a failure of the timed removal."""
        done = self._removed.wait(timeout)
        if done and self._error is not None:
            raise FaultError(f"{self!r}: the timed removal failed: {self._error}") from self._error
        return done


class Schedule:
    """Timed steps one after another, each removed before the next starts: a replayable fault schedule."""

    def __init__(self, *steps: Timed, grace: float = 5.0) -> None:
        self.steps = steps
        self.grace = grace

    def __repr__(self) -> str:
        return f"Schedule({', '.join(map(repr, self.steps))})"

    @property
    def duration(self) -> float:
        return sum(step.duration for step in self.steps)

    def on(self, target: FaultTarget) -> Self:
        for step in self.steps:
            step.on(target)
        return self

    def run(self) -> None:
        """Block until every step has run; a step that outlives its duration by `grace` s is an error."""
        for step in self.steps:
            with step:
                if not step.wait(timeout=step.duration + self.grace):
                    raise FaultError(f"{step!r} was not removed within {step.duration + self.grace:.1f} s")
