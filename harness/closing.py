"""`with thing:` for every harness object that owns something to release: it closes on the way out."""

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
