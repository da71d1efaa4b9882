"""The proxy-front model: named nginx templates rendered for a stack (`nginx`), and the timer chain a config sets
for each flow (`timers`), which the stack, the checker, the report and the boundary search all read."""

from harness.fronts.nginx import FLOWS, ProxyConfig, available_configs, load_proxy_config
from harness.fronts.timers import TimeoutChain, chain_timers, check_params

__all__ = [
    "FLOWS",
    "ProxyConfig",
    "TimeoutChain",
    "available_configs",
    "chain_timers",
    "check_params",
    "load_proxy_config",
]
