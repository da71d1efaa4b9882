"""The stack in Docker through testcontainers: the stack itself (`stack`), its containers (`components`,
`parts`), wait strategies (`wait`) and the engine (`engine`: labels, leftovers, backend choice)."""

from harness.stack.containers.stack import ContainerStack

__all__ = ["ContainerStack"]
