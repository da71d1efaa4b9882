"""Locust glue for the harness: users, job-level metrics, thresholds and the plugin that a locustfile imports.

Protocol code stays in `harness.clients`; the locustfiles in `scenarios/` hold weights and wiring only.
Importing `harness.locust.plugin` imports Locust (and so gevent's monkey-patching): pytest code imports only
`harness.locust.thresholds`, which does not.
"""
