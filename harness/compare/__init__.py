"""Compare proxy configs: the same seeded workload behind each (a fresh stack each), one verdict per flow.

The names below are what the CLI offers before it imports anything heavy (stacks, plots)."""

DEFAULT_CONFIGS = ("recommended", "nginx-defaults", "short", "buffered-sse", "cloudflare-edge", "alb-edge")
FAULT_PLAN_NAMES = ("none", "demo")
BOUNDARY_FLOWS = ("legacy", "sse")
