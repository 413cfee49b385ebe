"""Per-student extensions: ``extensions.csv`` or a column of the roster; each moves a due date.

``extensions.csv`` has ``student``, optionally ``assignment`` (empty or ``*``: every assignment), then
``due`` (a date or date and time, in the course's time zone unless it says otherwise) or ``days`` (the
course's due date plus that many days), and a ``comment``. In the roster, a column ``extension`` (every
assignment) or ``extension <assignment-id>`` holds a date or a number of days. An extension never costs
grace days; an extension without a date is refused before any grading.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from pathlib import Path

from grader.errors import UsageError
from grader.policy.csvfile import number, read_rows
from grader.policy.model import CoursePolicy, localize
from grader.policy.scoring import Extension
from grader.policy.students import Students

ALIASES = {
    "student": {"student", "student_id", "student id", "id", "sid", "login", "email"},
    "assignment": {"assignment", "assignment_id", "assignment id"},
    "due": {"due", "due date", "until", "new due date", "extended due"},
    "days": {"days", "extra days"},
    "comment": {"comment", "reason"},
}
ALL = {"", "*", "all"}
_COLUMN = re.compile(r"^(?:extension|extended due)(?:\s*[:/]?\s*(?P<assignment>[a-z][a-z0-9-]*))?$")


def _due(
    policy: CoursePolicy, assignment: str | None, due: str, days: str, assignments: Iterable[str]
) -> tuple[datetime | dict[str, datetime] | None, str]:
    """The extended due date (one, or one per assignment for ``days`` on all), or None and the reason."""
    if due:
        when = localize(due, policy.tz)
        if not isinstance(when, datetime):
            return None, f"{due!r} is not a date; fix: write 2026-12-05 or 2026-12-05T23:59"
        return when, ""
    if not days:
        return None, "an extension without a date; fix: give due (2026-12-05T23:59) or days (e.g. 3)"
    try:
        extra = number(days.lower().removesuffix("d").strip())
    except ValueError:
        return None, f"days {days!r} is not a number; fix: write e.g. 3"
    targets = [assignment] if assignment else list(assignments)
    moved: dict[str, datetime] = {}
    for a in targets:
        base = policy.rule(a).due
        if base is not None:
            moved[a] = base + timedelta(days=extra)
        elif assignment:
            return None, f"{a} has no due date in course.toml to add {days} days to; fix: give a due date"
    return moved, ""


def _extensions(
    student: str, assignment: str | None, when: datetime | dict[str, datetime], comment: str, origin: str
) -> list[Extension]:
    if isinstance(when, dict):
        return [Extension(student, d, a, comment, origin) for a, d in when.items()]
    return [Extension(student, when, assignment, comment, origin)]


def _from_rows(
    path: Path, rows: Iterable[tuple[int, Mapping[str, str]]], policy: CoursePolicy, students: Students,
    assignments: Iterable[str],
) -> list[Extension]:  # fmt: skip
    """Extensions from rows of ``path``; every problem is refused at once."""
    known = list(assignments)
    problems: list[str] = []
    out: list[Extension] = []
    for line, row in rows:
        origin = f"{path}:{line}"
        student = students.resolve(row.get("student", ""))
        if student is None:
            problems.append(f"{origin}: {students.unknown(row.get('student', ''))}")
            continue
        assignment = row.get("assignment", "").strip()
        if assignment.lower() in ALL:
            assignment = ""
        elif assignment not in known:
            problems.append(
                f"{origin}: no assignment {assignment!r}; fix: use one of {', '.join(known)} or *"
            )
            continue
        when, why = _due(policy, assignment or None, row.get("due", ""), row.get("days", ""), known)
        if when is None:
            problems.append(f"{origin}: {student}: {why}")
            continue
        out.extend(_extensions(student, assignment or None, when, row.get("comment", ""), origin))
    if problems:
        raise UsageError("extensions refused before grading:\n" + "\n".join(problems))
    return out


def read_extensions(
    path: Path, policy: CoursePolicy, students: Students, assignments: Iterable[str]
) -> list[Extension]:
    """``extensions.csv``: student, assignment (empty or * for all), due or days, comment."""
    rows = read_rows(path, ALIASES, {"student"}, "extensions file")
    return _from_rows(path, rows, policy, students, assignments)


def roster_extensions(
    path: Path,
    rows: Iterable[tuple[int, str, Mapping[str, str]]],
    policy: CoursePolicy,
    students: Students,
    assignments: Iterable[str],
) -> list[Extension]:
    """Extensions from roster columns ``extension`` / ``extension <id>``: (line, student id, extra columns).

    An empty cell is no extension; anything else must be a date or a number of days.
    """
    known = list(assignments)
    flat: list[tuple[int, dict[str, str]]] = []
    problems: list[str] = []
    for line, student, extra in rows:
        for header, value in extra.items():
            m = _COLUMN.match(header.strip().lower())
            if m is None or not value.strip():
                continue
            assignment = m["assignment"] or ""
            if assignment and assignment not in known:
                problems.append(
                    f"{path}:1: column {header!r} names no assignment; fix: name it extension <one of "
                    f"{', '.join(known)}>"
                )
                continue
            is_days = re.fullmatch(r"\+?\s*\d+(?:[.,]\d+)?\s*d?(?:ays?)?", value.strip().lower()) is not None
            cell = value.strip().lstrip("+").lower().removesuffix("days").removesuffix("day")
            flat.append(
                (line, {"student": student, "assignment": assignment, "due": "" if is_days else value.strip(),
                        "days": cell if is_days else "", "comment": f"roster column {header}"})
            )  # fmt: skip
    if problems:
        raise UsageError("extensions refused before grading:\n" + "\n".join(sorted(set(problems))))
    return _from_rows(path, flat, policy, students, known)
