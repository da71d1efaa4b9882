"""Boot a whole stack (the service behind nginx fronts and Toxiproxy) and tear it down, whatever happens.

with Stack(StackConfig(proxy_config="nginx-defaults", time_scale=0.05)) as stack:
    stack.endpoints.edge_url   # where clients go
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from harness.stack.config import Endpoints, StackConfig
from harness.stack.local import LocalStack

if TYPE_CHECKING:
    from harness.stack.containers import ContainerStack

__all__ = ["Endpoints", "Stack", "StackConfig"]


def Stack(config: StackConfig | None = None, **overrides: object) -> LocalStack | ContainerStack:
    """The stack for `config` on its backend: local processes, containers, or `auto` (containers when a Docker
    engine answers and the stack's images are in it, else local; the choice and its reason go to stderr)."""
    config = (config or StackConfig.from_env()).replace(**overrides) if overrides else (config or StackConfig())
    if config.backend == "auto":
        from harness.stack.containers.engine import choose_backend

        backend, why = choose_backend()
        print(f"harness: backend auto -> {backend}: {why}", file=sys.stderr, flush=True)
        config = config.replace(backend=backend)
    if config.backend == "containers":
        from harness.stack.containers import ContainerStack

        return ContainerStack(config)
    return LocalStack(config)
