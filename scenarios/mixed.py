"""Every kind of client of the async-download pattern at once: `locust -f scenarios/mixed.py`.

Without --host it boots a stack (--proxy-config, --time-scale, --workers, --backend) and tears it down at the
end; with --host it drives an existing deployment. Weights below; override with --weights, e.g.
`--weights LegacySync=1` to add the synchronous negative control. See harness/locust/ for the rest.
"""

from harness.locust import plugin, users

assert plugin  # imported for its Locust listeners and flags


class Poller(users.Poller):
    weight = 4


class SseFollower(users.SseFollower):
    weight = 3


class Downloader(users.Downloader):
    weight = 2


class Abandoner(users.Abandoner):
    weight = 1


class Retrier(users.Retrier):
    weight = 1


class LegacySync(users.LegacySync):
    weight = 0
