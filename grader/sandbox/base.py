"""The sandbox protocol and the process handle it returns."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol, runtime_checkable

from grader.results import ExecRecord
from grader.runtime.shims import Translation
from grader.spec import Limits


@runtime_checkable
class SandboxProcess(Protocol):
    """A running student process (its whole process group)."""

    def poll(self) -> int | None:
        """Exit status if it has ended, else None."""

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait up to ``timeout`` s; the exit status, or None if still running."""

    def terminate(self, grace: float = 10.0) -> int | None:
        """SIGTERM the group, SIGKILL it after ``grace`` s; marks the run as stopped by the grader."""

    def kill_at_limit(self) -> None:
        """SIGKILL the group because it hit its time limit."""

    def record(self) -> ExecRecord:
        """What happened so far: command, exit, capped output, duration."""


@runtime_checkable
class Sandbox(Protocol):
    """Student code + a fresh Kafka cluster, with the seminar's CLI on PATH.

    Paths handed out by a sandbox (``workdir``, ``scratch_dir``) are valid both for the grader and,
    unchanged, for the student's processes, so a check can pass them in environment variables.
    """

    name: str
    """Short kind name shown in reports ("local", "docker")."""
    limits: Limits
    """Limits of a process started without its own (``spawn``/``run`` take each run's limits)."""

    @property
    def bootstrap_servers(self) -> str:
        """The cluster's brokers as ``host:port,...``."""

    @property
    def workdir(self) -> Path:
        """Root of the (copied) submission inside the sandbox."""

    @property
    def cluster_start_seconds(self) -> float:
        """How long the cluster took to become ready."""

    def start(self) -> Sandbox:
        """Start the cluster and prepare the work dir."""

    def stop(self, keep_logs_to: Path | None = None) -> None:
        """Stop everything and delete every temp file; optionally keep broker logs."""

    def scratch_dir(self, name: str) -> Path:
        """A fresh folder inside the sandbox for the grader's own files (checkpoints, outputs)."""

    def spawn(
        self,
        cmd: list[str],
        *,
        label: str,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        stdin: bytes | None = None,
        limits: Limits | None = None,
    ) -> SandboxProcess:
        """Start ``cmd`` in the background under ``limits`` (default: the sandbox's).

        Runs may overlap (the runner grades a submission's short assignments while a long one only
        waits on its app): the end of one run stops everything *that run* started, never another
        run that is still going.
        """

    def run(
        self,
        cmd: list[str],
        *,
        label: str,
        timeout: float,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        stdin: bytes | None = None,
        limits: Limits | None = None,
    ) -> ExecRecord:
        """Run ``cmd`` to completion or until ``timeout`` (then everything it started is killed)."""

    def translations(self) -> list[Translation]:
        """Seminar-era CLI usages the shims translated so far."""

    def dead_brokers(self) -> dict[int, str]:
        """Brokers of the sandbox's cluster that are no longer running -> the last lines of their logs."""

    def has_command(self, name: str) -> bool:
        """Whether ``name`` (e.g. an interpreter named in a shebang) exists for the student's processes."""


SandboxFactory = Callable[[Path, int, Limits], Sandbox]
"""Makes an unstarted sandbox for (submission, brokers, limits); see ``grader.sandbox.factory``."""
