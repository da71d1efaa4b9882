"""Polling clients only: `locust -f scenarios/polling.py` (initiate, then status at the pace the service asks)."""

from harness.locust import plugin, users

assert plugin  # imported for its Locust listeners and flags


class Poller(users.Poller):
    weight = 1
