"""Exceptions the grader raises for problems that are not the student's fault.

Every message says what happened, what was expected and what to do: the CLI prints
``str(exc)`` as is, so these messages are the user interface of a failure.
"""

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit statuses that CI can act on; each error class below carries its own."""

    OK = 0
    """Everything passed (full marks)."""
    FAILED = 1
    """Some checks failed: the student's work is not complete."""
    INTERRUPTED = 2
    """Stopped by Ctrl-C or SIGTERM (everything started was cleaned up)."""
    GRADER_ERROR = 3
    """The grader, its runtime or a spec is broken: not the student's fault."""
    USAGE = 4
    """Wrong command line or path."""


class GraderError(Exception):
    """A problem of the grader, its runtime or its configuration (never a student's mistake)."""

    exit_code: ExitCode = ExitCode.GRADER_ERROR


class RuntimeProvisionError(GraderError):
    """Java or the Kafka/Spark jars are missing and cannot be provided."""


class ClusterStartError(GraderError):
    """A Kafka cluster did not become ready; the message carries the broker's last log lines."""

    port_conflict: bool = False
    """True when a broker died because its port was taken (a fresh set of ports may work)."""


class SpecError(GraderError):
    """An assignment's spec or check module is broken (the course maintainer's fault)."""


class UsageError(GraderError):
    """The command line or the submission path is wrong."""

    exit_code = ExitCode.USAGE
