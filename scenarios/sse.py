"""SSE clients only: `locust -f scenarios/sse.py` (initiate, then follow the stream, resuming when cut)."""

from harness.locust import plugin, users

assert plugin  # imported for its Locust listeners and flags


class SseFollower(users.SseFollower):
    weight = 1
