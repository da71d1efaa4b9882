"""Boot a whole stack (the service behind nginx fronts and Toxiproxy) and tear it down, whatever happens.

with Stack(StackConfig(proxy_config="nginx-defaults", time_scale=0.05)) as stack:
    stack.endpoints.edge_url   # where clients go
"""

from __future__ import annotations

from harness.errors import ConfigError
from harness.stack.config import Endpoints, StackConfig
from harness.stack.local import LocalStack

__all__ = ["Endpoints", "Stack", "StackConfig"]


def Stack(config: StackConfig | None = None, **overrides: object) -> LocalStack:
    """The stack for `config` on its backend (local processes; containers when that backend is chosen)."""
    config = (config or StackConfig.from_env()).replace(**overrides) if overrides else (config or StackConfig())
    if config.backend == "containers":
        raise ConfigError("backend 'containers' is not available in this build; use --backend local")
    return LocalStack(config)
