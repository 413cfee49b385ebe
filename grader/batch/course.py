"""The course's own files in a batch: ``course.toml``, ``overrides.csv``, ``extensions.csv`` (and the roster's
extension columns). They are read and checked against the class before any grading starts, and applied
to every student's result after each grading and on every ``--resume`` (the reports are rendered again
when that changes them), so a regrade can never overwrite a TA's override.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from pathlib import Path

from grader.batch.intake import Submission
from grader.batch.records import StudentRecord
from grader.batch.roster import Student
from grader.errors import UsageError
from grader.policy import CoursePolicy, Extension
from grader.policy.apply import apply_to_result
from grader.policy.extensions import read_extensions, roster_extensions
from grader.policy.overrides import OverrideRow, check_overrides, load_overrides
from grader.policy.students import Students
from grader.registry import Assignment
from grader.report import REPORT_FILES, render_all
from grader.results import SubmissionResult


@dataclass
class CourseFiles:
    """What the course decided, checked against this class."""

    policy: CoursePolicy | None = None
    overrides: list[OverrideRow] = field(default_factory=list)
    extensions: list[Extension] = field(default_factory=list)

    @property
    def active(self) -> bool:
        """Whether anything here can change a result."""
        return self.policy is not None or bool(self.overrides)

    @property
    def tz(self) -> tzinfo:
        """The course's time zone (UTC without a course.toml)."""
        return self.policy.tz if self.policy is not None else UTC

    def overrides_of(self, student: str) -> list[OverrideRow]:
        """``student``'s overrides, in file order."""
        return [o for o in self.overrides if o.student == student]

    def apply(self, record: StudentRecord, result: SubmissionResult) -> SubmissionResult:
        """``result`` with this student's overrides and the policy (their submission time from the intake)."""
        if not self.active:
            return result
        return apply_to_result(
            result,
            self.policy,
            student=record.student_id,
            overrides=self.overrides,
            extensions=[e for e in self.extensions if e.student == record.student_id],
            submitted_at=record.submitted_at,
            source=record.time_source,
        )


def class_members(subs: list[Submission], roster: list[Student]) -> Students:
    """Everyone a course file may name: submissions and roster rows, by id, login, e-mail and LMS id."""
    students = Students()
    for sub in subs:
        students.add(sub.student_id, sub.login, sub.email, sub.lms_id)
    for s in roster:
        students.add(s.id, s.login, s.email)
    return students


def load_course_files(
    policy: CoursePolicy | None,
    overrides: Path | None,
    extensions: Path | None,
    roster: tuple[Path, list[Student]] | None,
    students: Students,
    assignments: list[Assignment],
) -> CourseFiles:
    """Read the overrides and extensions and check every name in them; usage errors before any grading.

    ``assignments`` are all the course's assignments (an override for one not graded in this batch is
    kept for the batch that grades it).
    """
    files = CourseFiles(policy=policy)
    ids = [a.id for a in assignments]
    if overrides is not None:
        checks = {a.id: {c.id: c.points for c in a.checks} for a in assignments}
        points = {a.id: a.spec.points for a in assignments}
        files.overrides = check_overrides(load_overrides(overrides), students, checks, points)
    if extensions is not None:
        if policy is None:
            raise UsageError(
                f"--extensions {extensions}: extensions move due dates, and there are none without a course "
                "policy; pass --policy course.toml with the assignments' due dates"
            )
        files.extensions = read_extensions(extensions, policy, students, ids)
    if roster is not None and policy is not None:
        path, rows = roster
        files.extensions += roster_extensions(
            path, [(s.line, s.id, s.extra) for s in rows], policy, students, ids
        )
    return files


def report_files(result: SubmissionResult) -> dict[str, bytes]:
    """Every report of ``result``, keyed by its path in the student's folder (as the workers return them)."""
    return {REPORT_FILES[kind].as_posix(): data for kind, data in render_all(result).items()}
