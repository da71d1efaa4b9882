"""Targets: what faults act on and clients reach. A `Stack` is one (the harness booted it); a `RemoteTarget` is a
service the harness did not start, reached by URL, with the components the user hands over control of."""

from harness.targets.base import RecordingTarget, Target, heal
from harness.targets.remote import ComponentControl, DockerControl, RemoteTarget, ShellControl

__all__ = ["ComponentControl", "DockerControl", "RecordingTarget", "RemoteTarget", "ShellControl", "Target", "heal"]
