"""One exception hierarchy for the harness; every message names the value at fault and a way out."""

from __future__ import annotations


class HarnessError(Exception):
    """Base of every error the harness raises on purpose."""


class ConfigError(HarnessError):
    """A configuration value is invalid (bad time scale, unknown proxy config name, ...)."""


class StackStartError(HarnessError):
    """A component of a stack did not become ready; the message names it, notes carry its last log lines."""


class ToxiproxyError(HarnessError):
    """The Toxiproxy REST API refused a call or could not be reached."""


class FaultError(HarnessError):
    """A fault could not be applied or removed."""


class ContractViolation(HarnessError):
    """The target answered in a way the contract does not allow."""
