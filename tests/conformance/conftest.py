"""The second implementation (tests/other_impl: its own API, workers and Redis layout) booted from its service
spec, and its profile. `other_service` is its API's URL, for tests that treat it as a service the harness did not
start; `OTHER_DEFECTS` (its planted defects, see tests/other_impl/defects.py) is unset there: racy idempotency."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.contract import ContractProfile
from harness.contract.profiles import load_profile
from harness.stack import Stack, StackConfig

ROOT = Path(__file__).resolve().parents[2]
OTHER_SPEC = ROOT / "tests" / "other_impl" / "spec.toml"
OTHER_PROFILE = ROOT / "tests" / "other_impl" / "profile.toml"


@pytest.fixture(scope="session")
def other_profile() -> ContractProfile:
    return load_profile(OTHER_PROFILE)


@pytest.fixture(scope="session")
def other_stack(time_scale: float) -> Iterator[Stack]:
    """The other implementation as it ships (one planted defect), behind the recommended front."""
    with Stack(StackConfig(service=str(OTHER_SPEC), time_scale=time_scale, workers=2)) as stack:
        yield stack


@pytest.fixture(scope="session")
def other_service(other_stack: Stack) -> str:
    """The URL of its API process, as a user would give the URL of a deployment."""
    return other_stack.endpoints.api_url
