"""Sandboxes: where student code runs next to a fresh Kafka cluster.

A sandbox is anything that satisfies :class:`Sandbox`; the runner and the checks only use this
protocol, so the same checks run unchanged on every implementation. :func:`factory` picks one by
kind: ``local`` (processes of the grader's user), ``docker`` (one fresh locked-down container per
submission) or ``auto`` (docker when an engine and the grading image are there, else local).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Literal

from grader.sandbox.base import Sandbox, SandboxFactory, SandboxProcess
from grader.spec import Limits

SandboxKind = Literal["auto", "docker", "local"]
KINDS: tuple[str, ...] = ("auto", "docker", "local")


def _local(submission: Path, brokers: int, limits: Limits) -> Sandbox:
    from grader.sandbox.local import LocalSandbox

    return LocalSandbox(submission, brokers=brokers, limits=limits)


def _docker(submission: Path, brokers: int, limits: Limits) -> Sandbox:
    from grader.sandbox.docker import DockerSandbox

    return DockerSandbox(submission, brokers=brokers, limits=limits)


def resolve_kind(kind: str, *, warn: bool = True) -> str:
    """``auto`` -> ``docker`` when usable, else ``local`` (with a one-line warning on stderr)."""
    if kind not in KINDS:
        raise ValueError(f"unknown sandbox kind {kind!r}; choose one of {', '.join(KINDS)}")
    if kind != "auto":
        return kind
    from grader.sandbox.docker import docker_unavailable_reason

    reason = docker_unavailable_reason()
    if reason is None:
        return "docker"
    if warn:
        print(
            f"warning: grading with the local sandbox: student code runs unisolated as your user ({reason})",
            file=sys.stderr,
        )
    return "local"


def factory(kind: str | None = None, *, warn: bool = True) -> SandboxFactory:
    """The sandbox factory for ``kind`` (default ``$GRADER_SANDBOX`` or ``auto``, resolved now, once)."""
    kind = kind or os.environ.get("GRADER_SANDBOX") or "auto"
    return _docker if resolve_kind(kind, warn=warn) == "docker" else _local


__all__ = ["KINDS", "Sandbox", "SandboxFactory", "SandboxKind", "SandboxProcess", "factory", "resolve_kind"]
