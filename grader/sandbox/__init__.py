"""Sandboxes: where student code runs next to a fresh Kafka cluster.

A sandbox is anything that satisfies :class:`Sandbox`; checks only use this protocol, so the same
checks run unchanged on every implementation.
"""

from grader.sandbox.base import Sandbox, SandboxProcess
from grader.sandbox.local import LocalSandbox

__all__ = ["LocalSandbox", "Sandbox", "SandboxProcess"]
