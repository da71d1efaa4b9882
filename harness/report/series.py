"""The series a report plots, kept small however long the history: latency over time and SSE gaps.

Up to `CAP` items both are kept whole, in history order (what a short run's report always showed). Past it:

- `Timeline` (answer time against when each request was sent) keeps, per time bucket and per flow and outcome
  code, the fastest and the slowest request: spikes, cuts and failures stay visible at any length. Buckets
  start at the span of the first `CAP` points over `BUCKETS` and double in width whenever there would be more.
- `Sample` (one value per SSE connection, drawn as a histogram) keeps every k-th value, k doubling as the
  sample fills, plus the smallest and the largest (the histogram's range).
"""

from __future__ import annotations

from typing import Any

CAP = 4000  # items kept whole
BUCKETS = 512  # time buckets at most, past CAP


class Timeline:
    """Points (sent at wall s, answer ms, flow, code), downsampled with their extremes past CAP."""

    def __init__(self) -> None:
        self.points: list[tuple[float, float, str, int]] | None = []
        self.width = 0.0
        self.base = 0.0
        self.buckets: dict[tuple[int, str, int], list[tuple[float, float, str, int]]] = {}
        self.indexes: set[int] = set()

    def add(self, sent: float, answer_ms: float, flow: str, code: int) -> None:
        point = (sent, answer_ms, flow, code)
        if self.points is not None:
            self.points.append(point)
            if len(self.points) > CAP:
                self._bucketed()
            return
        self._keep(point)

    def _bucketed(self) -> None:
        points, self.points = self.points or [], None
        starts = [p[0] for p in points]
        self.base = min(starts)
        self.width = max(max(starts) - self.base, 1e-3) / (BUCKETS / 2)
        for point in points:
            self._keep(point)

    def _keep(self, point: tuple[float, float, str, int]) -> None:
        key = (int((point[0] - self.base) // self.width), point[2], point[3])
        held = self.buckets.get(key)
        if held is None:
            self.buckets[key] = [point, point]
        elif point[1] < held[0][1]:
            held[0] = point
        elif point[1] > held[1][1]:
            held[1] = point
        self.indexes.add(key[0])
        if len(self.indexes) > BUCKETS:
            self._widen()

    def _widen(self) -> None:
        self.width *= 2
        extremes = [p for held in self.buckets.values() for p in held]
        self.buckets, self.indexes = {}, set()
        for point in extremes:
            self._keep(point)

    def rows(self, t0: float) -> list[list[Any]]:
        """[seconds since t0, answer ms, flow, code] per point kept (in time order once downsampled)."""
        kept = self.points if self.points is not None else self._extremes()
        return [[round(sent - t0, 3), round(ms, 3), flow, code] for sent, ms, flow, code in kept]

    def _extremes(self) -> list[tuple[float, float, str, int]]:
        return sorted({p for held in self.buckets.values() for p in held})


class Sample:
    """Values kept whole up to CAP, then every k-th (k doubling) with the smallest and largest."""

    def __init__(self) -> None:
        self.kept: list[float] = []
        self.step = 1
        self.seen = 0
        self.low: float | None = None
        self.high: float | None = None

    def add(self, value: float) -> None:
        if self.seen % self.step == 0:
            self.kept.append(value)
            if len(self.kept) > CAP:
                self.kept = self.kept[::2]
                self.step *= 2
        self.seen += 1
        self.low = value if self.low is None or value < self.low else self.low
        self.high = value if self.high is None or value > self.high else self.high

    def values(self) -> list[float]:
        if self.step == 1:
            return self.kept
        extremes = [v for v in (self.low, self.high) if v is not None and v not in self.kept]
        return [*self.kept, *extremes]
