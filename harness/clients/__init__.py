"""Clients of the async-download flow: the service client (every operation, recorded to a history), its SSE
follower, the fast engine Locust uses for short requests (`clients.fast`, needs geventhttpclient) and the seeded
mixed workload."""

from harness.clients.service import Answer, ServiceClient

__all__ = ["Answer", "ServiceClient"]
