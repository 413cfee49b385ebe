"""A TA's hand on the grades: ``overrides.csv`` (or ``.toml``), kept in git by the course.

Each row names a student, an assignment and optionally a check, then either ``points`` (what it is
worth now) or an ``adjustment`` (+/- points), a ``comment`` the student reads, ``by`` (who) and ``at``
(when). Overrides are never stored in place of the autograde: they are applied again after every
grading, regrade, ``--resume`` and ``--rerun-errors``, so a regrade cannot overwrite them, and the
report shows "autograde 8/10, override +2 (reason)".

:func:`load_overrides` reads the file; :func:`check_overrides` refuses, before any grading, a row whose
student, assignment or check does not exist or whose points are more than the maximum;
:func:`apply_overrides` turns a student's rows into :class:`grader.results.Override` values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

from grader.errors import UsageError
from grader.policy.csvfile import number, read_rows
from grader.policy.load import read_toml
from grader.policy.students import Students
from grader.policy.tomlpos import key_lines, line_of
from grader.results import AssignmentResult, Override

ALIASES = {
    "student": {"student", "student_id", "student id", "id", "sid", "login", "email"},
    "assignment": {"assignment", "assignment_id", "assignment id"},
    "check": {"check", "check_id", "check id"},
    "points": {"points", "set", "score"},
    "adjustment": {"adjustment", "adjust", "delta", "change"},
    "comment": {"comment", "reason", "feedback"},
    "by": {"by", "who", "ta", "grader", "author"},
    "at": {"at", "when", "date"},
}


@dataclass(frozen=True)
class OverrideRow:
    """One row of the overrides file."""

    student: str
    assignment: str
    check: str | None
    points: float | None
    """Set the check's (or assignment's) points to this."""
    adjustment: float | None
    """Or add this many points (negative: take away)."""
    comment: str
    by: str = ""
    at: str = ""
    origin: str = ""
    """``overrides.csv:4``: where it is written, for error messages."""


def _row(origin: str, values: Mapping[str, Any], problems: list[str]) -> OverrideRow | None:
    def text(key: str) -> str:
        value = values.get(key)
        if isinstance(value, datetime | date):
            return value.isoformat()
        return "" if value is None else str(value).strip()

    amounts: dict[str, float | None] = {}
    for key in ("points", "adjustment"):
        raw = values.get(key)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            amounts[key] = None
            continue
        try:
            amounts[key] = float(raw) if isinstance(raw, int | float) else number(str(raw))
        except ValueError:
            problems.append(f"{origin}: {key} {raw!r} is not a number; fix: write e.g. 8, 2.5 or -1")
            return None
    missing = [k for k in ("student", "assignment", "comment") if not text(k)]
    if missing:
        fix = "the student reads the comment: say why" if missing == ["comment"] else "fill it in"
        problems.append(f"{origin}: no {', '.join(missing)}; fix: {fix}")
        return None
    if (amounts["points"] is None) == (amounts["adjustment"] is None):
        problems.append(
            f"{origin}: give either points (the new value) or adjustment (+/- points), not "
            f"{'both' if amounts['points'] is not None else 'neither'}"
        )
        return None
    return OverrideRow(
        student=text("student"), assignment=text("assignment"), check=text("check") or None,
        points=amounts["points"], adjustment=amounts["adjustment"], comment=text("comment"), by=text("by"),
        at=text("at"), origin=origin,
    )  # fmt: skip


def load_overrides(path: Path) -> list[OverrideRow]:
    """The rows of ``overrides.csv`` or ``overrides.toml`` (``[[override]]`` tables), in file order.

    Every malformed row is reported at once in one usage error naming the file and line.
    """
    problems: list[str] = []
    rows: list[OverrideRow] = []
    if path.suffix.lower() == ".toml":
        text, data = read_toml(path)
        lines = key_lines(text)
        entries = data.get("override", [])
        unknown = sorted(set(data) - {"override"})
        if unknown or not isinstance(entries, list):
            raise UsageError(
                f"{path}: expected [[override]] tables only, found {', '.join(unknown) or 'override = ...'}; "
                "fix: write each override as an [[override]] table"
            )
        for i, entry in enumerate(entries):
            origin = f"{path}:{line_of(lines, ('override', i)) or 1}"
            extra = sorted(set(entry) - set(ALIASES))
            if extra:
                problems.append(f"{origin}: unknown key {extra[0]!r}; fix: use {', '.join(ALIASES)}")
                continue
            row = _row(origin, entry, problems)
            if row is not None:
                rows.append(row)
    else:
        for line, values in read_rows(path, ALIASES, {"student", "assignment", "comment"}, "overrides file"):
            row = _row(f"{path}:{line}", values, problems)
            if row is not None:
                rows.append(row)
    if problems:
        raise UsageError(f"{path} has problems:\n" + "\n".join(problems))
    return rows


def check_overrides(
    rows: Sequence[OverrideRow],
    students: Students,
    checks: Mapping[str, Mapping[str, float]],
    points: Mapping[str, float],
) -> list[OverrideRow]:
    """The rows with each student resolved to their id; every unknown name is refused at once.

    ``checks`` maps assignment id -> check id -> its points; ``points`` assignment id -> its points.
    """
    problems: list[str] = []
    out: list[OverrideRow] = []
    for row in rows:
        student = students.resolve(row.student)
        if student is None:
            problems.append(f"{row.origin}: {students.unknown(row.student)}")
            continue
        if row.assignment not in checks:
            problems.append(
                f"{row.origin}: no assignment {row.assignment!r}; fix: use one of {', '.join(checks)}"
            )
            continue
        top = points[row.assignment]
        if row.check is not None:
            if row.check not in checks[row.assignment]:
                problems.append(
                    f"{row.origin}: {row.assignment} has no check {row.check!r}; fix: use one of "
                    f"{', '.join(checks[row.assignment])} (grader list --json shows them)"
                )
                continue
            top = checks[row.assignment][row.check]
        if row.points is not None and not 0 <= row.points <= top:
            where = f"check {row.check}" if row.check else row.assignment
            problems.append(
                f"{row.origin}: points {row.points:g} for {where}, which is worth {top:g}; fix: write 0 to "
                f"{top:g} (an override never gives more than 100 %)"
            )
            continue
        out.append(replace(row, student=student))
    if problems:
        raise UsageError("overrides refused before grading:\n" + "\n".join(problems))
    return out


def apply_overrides(assignment: AssignmentResult, rows: Sequence[OverrideRow]) -> list[Override]:
    """The overrides ``rows`` (this student's, for this assignment, in file order) make on its checks.

    Points stay within 0 and the check's (or the assignment's) maximum; a row whose check this
    result does not have (e.g. a grader error stopped the assignment first) changes nothing.
    """
    earned = {c.id: c.points for c in assignment.checks}
    top = {c.id: c.max_points for c in assignment.checks}
    changed: dict[str, float] = {}
    out: list[Override] = []
    for row in rows:
        if row.assignment != assignment.id:
            continue
        if row.check is not None:
            if row.check not in earned:
                continue
            now = earned[row.check] + changed.get(row.check, 0.0)
            ceiling = top[row.check]
        else:
            now = assignment.autograde_points + sum(o.delta for o in out)
            ceiling = assignment.max_points
        wanted = row.points if row.points is not None else now + (row.adjustment or 0.0)
        kept = min(ceiling, max(0.0, wanted))
        delta = round(kept - now, 4)
        if row.check is not None:
            changed[row.check] = changed.get(row.check, 0.0) + delta
        out.append(
            Override(
                check=row.check, delta=delta, set_to=row.points, comment=row.comment, by=row.by, at=row.at,
                capped=abs(kept - wanted) > 1e-9,
            )
        )  # fmt: skip
    return out
