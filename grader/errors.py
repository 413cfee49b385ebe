"""Exceptions the grader raises for problems that are not the student's fault.

Every message says what happened, what was expected and what to do: the CLI prints
``str(exc)`` as is, so these messages are the user interface of a failure.
"""


class GraderError(Exception):
    """A problem of the grader, its runtime or its configuration (never a student's mistake)."""

    exit_code = 3


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

    exit_code = 4
