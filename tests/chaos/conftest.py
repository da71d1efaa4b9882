"""The chaos tier: one stack per module (Redis AOF `always`, the no-loss profile), built with the harness's own
pytest plugin fixtures (`stack_factory`, `history`), so the suite is also the plugin's first user."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from harness.chaos.pytest_plugin import StackFactory
from harness.stack.config import StackConfig
from harness.targets.base import Target, heal

CHAOS_JOBS = int(os.environ.get("HARNESS_CHAOS_JOBS", "24"))


@pytest.fixture(scope="module")
def chaos_stack(stack_factory: StackFactory) -> Iterator[Target]:
    stack = stack_factory(aof="always", workers=2)
    try:
        yield stack
    finally:
        stack.close()


@pytest.fixture
def healed(chaos_stack: Target) -> Target:
    """The module's stack, whole again before the test (no toxics, every component up, /health 200)."""
    heal(chaos_stack)
    return chaos_stack


@pytest.fixture(scope="session")
def front(harness_config: StackConfig) -> str:
    """The front the chaos stacks use: the plugin's --harness-proxy-config (default `recommended`)."""
    return harness_config.proxy_config
