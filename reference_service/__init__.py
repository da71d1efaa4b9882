"""Reference implementation of the async download pattern: initiate -> poll/SSE -> signed download."""

__version__ = "0.1.0"
