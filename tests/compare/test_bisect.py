"""The boundary search against probes whose boundary is known (no servers): brackets, bisects, stays bounded."""

from __future__ import annotations

import pytest

from harness.compare.boundary import LIMITS, SearchSpec, agreement, bisect
from harness.compare.probes import Probe

pytestmark = pytest.mark.unit


def threshold(at: float, calls: list[float]) -> Probe:
    """Passes below `at`, fails from it; records every value probed."""

    def probe(value: float) -> tuple[bool, str]:
        calls.append(value)
        return value < at, "fake"

    return probe


@pytest.mark.parametrize(("boundary", "predicted"), [(57.0, 60.0), (42.0, 60.0), (130.0, 60.0), (3.0, 180.0)])
def test_finds_a_known_boundary_within_tolerance_from_any_prediction(boundary: float, predicted: float) -> None:
    calls: list[float] = []
    spec = SearchSpec(tolerance=0.02, max_probes=14)
    found = bisect(threshold(boundary, calls), predicted, LIMITS["legacy"], spec)
    assert found["relation"] == "between"
    assert found["lower_s"] < boundary <= found["upper_s"]
    assert found["upper_s"] / found["lower_s"] <= 1.02
    assert len(calls) == len(found["probes"]) <= spec.max_probes
    assert calls[0] == pytest.approx(0.9 * predicted, abs=0.01)  # the prediction says where to look first


def test_a_front_that_always_fails_is_found_at_the_low_end() -> None:
    calls: list[float] = []
    found = bisect(threshold(0.0, calls), 0.0, LIMITS["sse"], SearchSpec())
    assert found["relation"] == "below" and found["upper_s"] == LIMITS["sse"][0] and calls == [LIMITS["sse"][0]]
    assert agreement(found, 0.0, LIMITS["sse"][1], 0.1) == (True, None)
    assert agreement(found, 15.0, LIMITS["sse"][1], 0.1) == (False, None)


def test_a_front_that_never_fails_stops_at_the_top_of_the_range() -> None:
    found = bisect(threshold(float("inf"), []), 300.0, LIMITS["legacy"], SearchSpec(max_probes=20))
    assert found["relation"] == "above" and found["lower_s"] == LIMITS["legacy"][1]
    assert len(found["probes"]) <= 5


def test_agreement_is_within_ten_percent_of_the_prediction() -> None:
    near = {"relation": "between", "lower_s": 55.0, "upper_s": 56.0, "measured_s": 55.5}
    far = {"relation": "between", "lower_s": 50.0, "upper_s": 52.0, "measured_s": 51.0}
    assert agreement(near, 60.0, 600.0, 0.1) == (True, -7.5)
    assert agreement(far, 60.0, 600.0, 0.1) == (False, -15.0)


def test_the_cli_names_match_what_the_modules_offer() -> None:
    from harness.compare import BOUNDARY_FLOWS, FAULT_PLAN_NAMES
    from harness.compare.boundary import LIMITS
    from harness.compare.drive import FAULT_PLANS

    assert tuple(LIMITS) == BOUNDARY_FLOWS and tuple(FAULT_PLANS) == FAULT_PLAN_NAMES
