"""What a conformance run found: one verdict per contract point, with its evidence, as plain data.

Everything here converts to a dict of JSON types (`as_dict`), which is what renderers (text, Markdown, the HTML
report) consume; nothing in a result refers back to the run that produced it.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Verdict = Literal["pass", "fail", "absent", "inconclusive"]
VERDICTS: tuple[Verdict, ...] = ("pass", "fail", "absent", "inconclusive")


@dataclass(frozen=True)
class Point:
    """One contract point: `pass` (held), `fail` (broken, `evidence` says how), `absent` (the profile declares
    the target lacks it, so it was not exercised), `inconclusive` (exercised, but what it saw was too little to
    judge: `evidence` says what was missing; never a pass). `data` holds the facts behind the evidence, JSON-ready."""

    name: str
    verdict: Verdict
    evidence: str
    data: Mapping[str, Any] = field(default_factory=dict)


def passed(name: str, evidence: str, **data: Any) -> Point:
    return Point(name, "pass", evidence, data)


def failed(name: str, evidence: str, **data: Any) -> Point:
    return Point(name, "fail", evidence, data)


def absent(name: str, feature: str) -> Point:
    return Point(name, "absent", f"the profile declares no {feature}")


def inconclusive(name: str, evidence: str, **data: Any) -> Point:
    return Point(name, "inconclusive", evidence, data)


def judged(name: str, ok: bool, evidence: str, **data: Any) -> Point:
    return Point(name, "pass" if ok else "fail", evidence, data)


@dataclass(frozen=True)
class ConformanceResult:
    """The verdict table of one run against one target under one profile."""

    target: str
    profile: str
    profile_source: str
    time_scale: float
    started_at: str
    wall_s: float
    points: tuple[Point, ...]
    history: str | None = None

    @property
    def ok(self) -> bool:
        """No point failed or judged too little (absent ones are the target's declared shape, not a defect)."""
        return all(p.verdict in ("pass", "absent") for p in self.points)

    @property
    def counts(self) -> dict[str, int]:
        seen = Counter(p.verdict for p in self.points)
        return {verdict: seen[verdict] for verdict in VERDICTS}

    def point(self, name: str) -> Point:
        for p in self.points:
            if p.name == name:
                return p
        raise KeyError(f"no point {name!r}; points: {', '.join(p.name for p in self.points)}")

    def as_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["points"] = [{**dataclasses.asdict(p), "data": dict(p.data)} for p in self.points]
        data["ok"], data["counts"] = self.ok, self.counts
        return data


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0-100) of a non-empty sample."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]
