"""The negative control alone: `locust -f scenarios/legacy.py --proxy-config nginx-defaults` must show 504s.

The synchronous endpoint holds each request for the whole job (10-120 s x time scale); any front whose timer
is shorter cuts it, and the default `proxy_timeouts==0` threshold fails the run, as it should.
"""

from harness.locust import plugin, users

assert plugin  # imported for its Locust listeners and flags


class LegacySync(users.LegacySync):
    weight = 1
