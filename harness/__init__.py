"""Drive, break and judge an async-download stack: stack, faults, clients, histories, checker, reports."""

__version__ = "0.1.0"
