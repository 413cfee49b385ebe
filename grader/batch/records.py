"""A student's gradebook row (:class:`StudentRecord`) and its file ``batch.json``.

The record is written last (atomically) into the student's folder, so its presence with a matching
fingerprint means "this student is done" for ``--resume``. Grader-side outcomes (error, timeout,
crashed, refused by a worker) never turn into zeros: their cells stay empty, to be re-run.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, Field

from grader.policy.apply import summarize
from grader.report import write_atomic
from grader.report.machine import outcome
from grader.results import SubmissionResult

RECORD_FILE = "batch.json"


class Grading(StrEnum):
    """A student's row status in the gradebook."""

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    """The grader broke on some check: not the student's fault; re-run with --rerun-errors."""
    TIMEOUT = "timeout"
    """The whole submission exceeded the batch's time limit (grader side; re-run)."""
    CRASHED = "crashed"
    """The grading worker died (grader side; re-run)."""
    EMPTY = "empty"
    UNRECOGNISED = "unrecognised"
    REFUSED = "refused"
    """An unsafe archive or link: nothing was extracted or run."""
    MISSING = "missing"
    """On the roster, but no submission was found."""

    @property
    def grader_side(self) -> bool:
        """Whether this is the grader's problem (to re-run), not a grade."""
        return self in {Grading.ERROR, Grading.TIMEOUT, Grading.CRASHED}


class StudentRecord(BaseModel):
    """One student's row: identity, status, points per assignment and what decides a regrade."""

    key: str
    """Folder name under ``--out``."""
    student_id: str
    name: str = ""
    email: str = ""
    login: str = ""
    source: str = ""
    """Where the submission came from in the download."""
    status: Grading
    note: str = ""
    points: dict[str, float | None] = Field(default_factory=dict)
    """Assignment id -> points; None where the grader could not grade it."""
    max_points: dict[str, float] = Field(default_factory=dict)
    seed: int | None = None
    fingerprint: str = ""
    """Hash of submission content + assignment versions + seed + grader version (see ``--resume``)."""
    report: str | None = None
    """The HTML report, relative to ``--out``."""
    duration_s: float = 0.0
    worker: str = ""
    graded_at: datetime | None = None
    lms_id: str = ""
    """The LMS's id of the student (Moodle participant, Canvas user): what the LMS exports join on."""
    submitted_at: datetime | None = None
    """When the intake says it was handed in; None: unknown (then nothing is late)."""
    time_source: str = ""
    autograde: dict[str, float | None] = Field(default_factory=dict)
    """Assignment id -> what the checks alone gave (``points`` is after overrides and late penalties)."""
    adjustments: dict[str, str] = Field(default_factory=dict)
    """Assignment id -> what the overrides and the policy did: "autograde 8/10, override +2 (reason)"."""
    grace_days_used: int = 0

    @property
    def total(self) -> float | None:
        """Sum of points; None when any assignment could not be graded (never a silent zero)."""
        if self.status is Grading.MISSING or any(v is None for v in self.points.values()):
            return None
        return sum(v for v in self.points.values() if v is not None)

    @property
    def max_total(self) -> float:
        """Points possible over the assignments of this row."""
        return sum(self.max_points.values())

    @property
    def percent(self) -> float | None:
        """Total as a percentage of the points possible; None when the total is unknown."""
        total = self.total
        if total is None or not self.max_total:
            return None
        return round(100 * total / self.max_total, 1)


def record_for_result(base: StudentRecord, result: SubmissionResult) -> StudentRecord:
    """The record of a graded submission: points per assignment, grader errors as empty cells.

    The status is the checks' outcome; the points are what counts (after overrides and late penalties),
    and ``adjustments`` says how one became the other.
    """
    points: dict[str, float | None] = {a.id: (None if a.has_error else a.points) for a in result.assignments}
    status = {"passed": Grading.PASSED, "failed": Grading.FAILED, "error": Grading.ERROR}[outcome(result)]
    return base.model_copy(
        update={
            "status": status,
            "points": points,
            "autograde": {a.id: (None if a.has_error else a.autograde_points) for a in result.assignments},
            "adjustments": {a.id: text for a in result.assignments if (text := summarize(a))},
            "grace_days_used": sum(a.timing.grace_days for a in result.assignments if a.timing is not None),
            "max_points": {a.id: a.max_points for a in result.assignments},
            "seed": result.seed,
            "duration_s": result.duration_s,
        }
    )


def save_record(out: Path, record: StudentRecord) -> None:
    """Write the record into the student's folder, atomically (the last file of a finished student)."""
    write_atomic(out / record.key / RECORD_FILE, record.model_dump_json(indent=2).encode("utf-8"))


def load_record(out: Path, key: str) -> StudentRecord | None:
    """The saved record of ``key``, or None when there is none or it cannot be read."""
    path = out / key / RECORD_FILE
    try:
        return StudentRecord.model_validate_json(path.read_bytes())
    except (OSError, ValueError):
        return None


def load_result(out: Path, key: str) -> SubmissionResult | None:
    """The saved results.json of ``key``, if any."""
    try:
        return SubmissionResult.model_validate_json((out / key / "results.json").read_bytes())
    except (OSError, ValueError):
        return None
