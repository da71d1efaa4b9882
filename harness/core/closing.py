"""`with thing:` for every harness object that owns something to release: it closes (or stops) on the way out."""

from __future__ import annotations

from types import TracebackType
from typing import Self


class Closing:
    """Mixin: `__enter__` returns the object, `__exit__` calls `close()` (which subclasses define)."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class Running:
    """Mixin for things that start and stop (a server, a workload): `with x:` is `x.start()` ... `x.stop()`."""

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
