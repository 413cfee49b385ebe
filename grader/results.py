"""The results model: what a grading run found. Renderers (HTML, JSON, Gradescope) read only this."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

SCHEMA_VERSION = 1


class Status(StrEnum):
    """Outcome of one check."""

    PASSED = "passed"
    """The student's work meets the check."""
    FAILED = "failed"
    """The student's work does not meet the check (the student's fault; feedback says why)."""
    ERROR = "error"
    """The grader itself broke while checking: never a silent zero, always shown as a grader error."""
    SKIPPED = "skipped"
    """Not run because a check it depends on did not pass."""


class ExecRecord(BaseModel):
    """One student process the grader ran: command, exit, captured (capped) output, duration."""

    label: str
    """What this run was for, e.g. ``first run`` or ``restart after checkpoint``."""
    command: list[str]
    returncode: int | None
    """Exit status; negative for a signal; None if it could not be started."""
    timed_out: bool = False
    """Killed by the grader at the time limit."""
    killed_by_grader: bool = False
    """Stopped on purpose by the grader (e.g. to test a restart), not a failure by itself."""
    duration_s: float
    stdout: str = ""
    stderr: str = ""
    stdout_truncated_bytes: int = 0
    stderr_truncated_bytes: int = 0


class CheckResult(BaseModel):
    """The result of one check."""

    id: str
    title: str
    status: Status
    points: float
    """Points earned."""
    max_points: float
    message: str = ""
    """Expected vs found, in plain words."""
    hint: str = ""
    """What to do to pass; shown when the check did not pass."""
    details: str = ""
    """Longer evidence (a diff, a table); shown collapsed."""
    duration_s: float = 0.0


class Note(BaseModel):
    """Advice that costs no points, e.g. a seminar-era flag the sandbox translated."""

    text: str
    kind: str = "info"


class AssignmentResult(BaseModel):
    """All checks of one assignment for one submission."""

    id: str
    title: str
    max_points: float
    """The assignment's total points (from its spec, so a grader error never shrinks it)."""
    entrypoint: str | None = None
    """The submission file that was run, relative to the submission folder."""
    params: dict[str, str | int | float] = Field(default_factory=dict)
    checks: list[CheckResult] = Field(default_factory=list)
    notes: list[Note] = Field(default_factory=list)
    runs: list[ExecRecord] = Field(default_factory=list)
    error: str | None = None
    """A grader error that stopped this assignment before its checks could run."""
    timings: dict[str, float] = Field(default_factory=dict)
    """Seconds per phase: ``cluster_start``, ``student``, ``grader``, ``total`` (and others)."""
    logs: dict[str, str] = Field(default_factory=dict)
    """Name -> path (relative to the output folder) of kept logs, e.g. broker logs on failure."""

    @property
    def points(self) -> float:
        return sum(c.points for c in self.checks)

    @property
    def has_error(self) -> bool:
        return self.error is not None or any(c.status is Status.ERROR for c in self.checks)

    @property
    def passed(self) -> bool:
        return (
            not self.has_error and all(c.status is Status.PASSED for c in self.checks) and bool(self.checks)
        )


class SubmissionResult(BaseModel):
    """A whole grading run of one submission folder."""

    schema_version: int = SCHEMA_VERSION
    submission: str
    """The submission's name (its folder name)."""
    seed: int
    grader_version: str
    started_at: datetime
    duration_s: float = 0.0
    sandbox: str = "local"
    timings: dict[str, float] = Field(default_factory=dict)
    """Seconds: ``cluster_start``, ``student`` (their processes), ``grader`` (everything else), ``total``."""
    assignments: list[AssignmentResult] = Field(default_factory=list)

    @property
    def points(self) -> float:
        return sum(a.points for a in self.assignments)

    @property
    def max_points(self) -> float:
        return sum(a.max_points for a in self.assignments)

    @property
    def has_error(self) -> bool:
        return any(a.has_error for a in self.assignments)

    @property
    def passed(self) -> bool:
        return bool(self.assignments) and all(a.passed for a in self.assignments)
