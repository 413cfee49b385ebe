"""The class roster: an optional CSV (id, name, email, login) joined onto the submissions found.

Headers are matched case-insensitively with common LMS spellings (``Student ID``, ``ID number``,
``Full name``, ``Email address``, ``Username``, ``GitHub``...). A submission joins the roster row
whose id, login or e-mail equals its student id (or login / e-mail); students on the roster
without a submission get a ``missing`` row; submissions not on the roster are graded and flagged.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from grader.batch.intake import Submission
from grader.errors import UsageError

ALIASES = {
    "id": {"id", "student id", "student_id", "sid", "id number", "idnumber", "matriculation", "matrikel"},
    "name": {"name", "full name", "fullname", "student", "student name"},
    "email": {"email", "e-mail", "email address", "mail"},
    "login": {"login", "username", "user", "github", "github username", "github_username", "sis login id"},
}


@dataclass(frozen=True)
class Student:
    """One roster row."""

    id: str
    name: str = ""
    email: str = ""
    login: str = ""
    line: int = 0
    """Its line in the roster file (for messages about its other columns)."""
    extra: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    """The row's other columns by header, e.g. ``extension`` (see :mod:`grader.policy.extensions`)."""


def _column(headers: list[str], field: str) -> str | None:
    for h in headers:
        if h.strip().lower() in ALIASES[field]:
            return h
    return None


def load_roster(path: Path) -> list[Student]:
    """Read the roster CSV; a missing id column or duplicate ids are a usage error naming the row."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise UsageError(f"cannot read the roster {path}: {exc}") from exc
    reader = csv.DictReader(text.splitlines())
    headers = list(reader.fieldnames or [])
    columns = {f: _column(headers, f) for f in ALIASES}
    if columns["id"] is None and columns["login"] is None:
        raise UsageError(
            f"{path}: no id column (looked for {', '.join(sorted(ALIASES['id']))}); found {headers}"
        )
    students: list[Student] = []
    seen: set[str] = set()
    for line, row in enumerate(reader, start=2):
        values = {f: (row.get(c) or "").strip() if c else "" for f, c in columns.items()}
        sid = values["id"] or values["login"]
        if not sid:
            continue
        if sid in seen:
            raise UsageError(f"{path}:{line}: student id {sid!r} appears twice")
        seen.add(sid)
        used = {c for c in columns.values() if c}
        extra = {h: (row.get(h) or "").strip() for h in headers if h not in used}
        students.append(Student(sid, values["name"], values["email"], values["login"], line, extra))
    return students


def join(subs: list[Submission], roster: list[Student]) -> tuple[list[Submission], list[Student]]:
    """Fill identities from the roster; returns (submissions, roster students with no submission).

    A submission matched by login or e-mail takes the roster's id, so the gradebook is keyed by the
    institution's ids whatever the LMS called the student.
    """
    index: dict[str, Student] = {}
    for s in roster:
        for value in (s.id, s.login, s.email):
            if value:
                index.setdefault(value.lower(), s)
    matched: set[str] = set()
    for sub in subs:
        student = next(
            (index[v.lower()] for v in (sub.student_id, sub.login, sub.email) if v and v.lower() in index),
            None,
        )
        if student is None:
            sub.note = (sub.note + "; " if sub.note else "") + "not on the roster"
            continue
        if student.id in matched:
            sub.note = (sub.note + "; " if sub.note else "") + f"a second submission for {student.id}"
        matched.add(student.id)
        sub.student_id = student.id
        sub.name = sub.name or student.name
        sub.email = sub.email or student.email
        sub.login = sub.login or student.login
    missing = [s for s in roster if s.id not in matched]
    return subs, missing
