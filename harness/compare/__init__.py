"""Compare proxy configs: the same seeded workload behind each (a fresh stack each), one verdict per flow."""
