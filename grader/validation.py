"""``grader validate``: grade every reference, stub and case of the course and print the kill matrix.

The course's own proof that its checks work: every reference solution gets full marks, every stub
gets zero with a hint on each failed check, every case gets exactly what its ``expect.toml`` says
(``grader.cases``), no wrong case gets full marks, and every check catches (fails) at least one
wrong submission. The kill matrix shows, per assignment, which case each check catches.

Cases of different assignments are graded together (the i-th case of each assignment in one
submission, so one sandbox serves up to one case per assignment, and the word count's waiting tail
overlaps the others), and those submissions run as jobs on the batch's pool (``--jobs``), each in
a fresh worker process, by the same ``run_job`` as ``grader check``.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from grader.cases import Case, judge, load_cases
from grader.registry import Assignment
from grader.results import AssignmentResult, Status, SubmissionResult
from grader.submission_files import copy_tree

Kind = Literal["reference", "stub", "case"]
MARKS = {Status.PASSED: ".", Status.FAILED: "X", Status.SKIPPED: "s", Status.ERROR: "E"}
"""Kill-matrix cells: X the check caught (failed) the submission, s skipped, . passed, E grader error."""


@dataclass
class Column:
    """One graded submission of one assignment: its reference, its stub or one of its cases."""

    assignment: str
    name: str
    kind: Kind
    case: Case | None = None
    result: AssignmentResult | None = None
    trouble: str = ""
    """Why there is no result (the job timed out, crashed, ...)."""


@dataclass
class Group:
    """A submission made of at most one column per assignment, graded in one sandbox."""

    key: str
    columns: list[Column]


@dataclass
class Validation:
    """Outcome of ``grader validate``."""

    problems: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    columns: dict[str, list[Column]] = field(default_factory=dict)
    """Assignment id -> its reference, stub and cases, graded."""
    results: dict[str, SubmissionResult] = field(default_factory=dict)
    """Group key (``reference``, ``stub``, ``cases-01``, ...) -> its grading."""
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems


GradeGroups = Callable[[list[tuple[Group, Path]]], Iterable[tuple[Group, SubmissionResult | None, str]]]
"""Grades (group, submission folder) pairs; yields (group, result or None, trouble) as each ends."""


def plan(
    assignments: list[Assignment],
    with_cases: bool = True,
    select_case: Callable[[Case], bool] | None = None,
) -> list[Group]:
    """The submissions to grade: all references, all stubs, then the cases (those ``select_case``
    keeps), the i-th of each assignment together (a case marked ``alone`` in one of its own)."""
    groups = [
        Group("reference", [Column(a.id, "reference", "reference") for a in assignments]),
        Group("stub", [Column(a.id, "stub", "stub") for a in assignments]),
    ]
    if not with_cases:
        return groups
    shared: dict[str, list[Case]] = {}
    for a in assignments:
        for case in load_cases(a.id, a.cases):
            if select_case is not None and not select_case(case):
                continue
            if case.expect.alone:
                groups.append(Group(f"alone-{a.id}-{case.name}", [Column(a.id, case.name, "case", case)]))
            else:
                shared.setdefault(a.id, []).append(case)
    depth = max((len(cases) for cases in shared.values()), default=0)
    for i in range(depth):
        columns = [
            Column(aid, cases[i].name, "case", cases[i]) for aid, cases in shared.items() if i < len(cases)
        ]
        groups.append(Group(f"cases-{i + 1:02d}", columns))
    return groups


def _source(column: Column, assignment: Assignment) -> Path:
    if column.kind == "reference":
        return assignment.reference
    if column.kind == "stub":
        return assignment.stub
    assert column.case is not None
    return column.case.folder


def lay_out(group: Group, by_id: dict[str, Assignment], root: Path) -> Path:
    """The group as a submission folder under ``root`` (one ``<id>/`` per column)."""
    folder = root / group.key
    folder.mkdir(parents=True)
    for column in group.columns:
        source = _source(column, by_id[column.assignment])
        if source.is_dir():
            copy_tree(source, folder / column.assignment, skip={"expect.toml"})
    return folder


def validate(
    assignments: list[Assignment],
    grade_groups: GradeGroups,
    *,
    with_cases: bool = True,
    select_case: Callable[[Case], bool] | None = None,
    out: Path | None = None,
    write: Callable[[SubmissionResult, Path], object] | None = None,
) -> Validation:
    """Grade the course's references, stubs and cases with ``grade_groups`` and judge every result."""
    began = time.monotonic()
    by_id = {a.id: a for a in assignments}
    report = Validation()
    groups = plan(assignments, with_cases, select_case)
    for group in groups:
        for column in group.columns:
            report.columns.setdefault(column.assignment, []).append(column)
    with tempfile.TemporaryDirectory(prefix="grader-validate-") as tmp:
        laid = [(group, lay_out(group, by_id, Path(tmp))) for group in groups]
        for group, result, trouble in grade_groups(laid):
            if result is not None:
                report.results[group.key] = result
                if out is not None and write is not None:
                    write(result, out / group.key)
            graded = {a.id: a for a in result.assignments} if result is not None else {}
            for column in group.columns:
                column.result = graded.get(column.assignment)
                column.trouble = trouble if column.result is None else ""
            shutil.rmtree(Path(tmp) / group.key, ignore_errors=True)
    every_case = with_cases and select_case is None  # only then can a check be said to catch nothing
    for a in assignments:
        columns = report.columns.get(a.id, [])
        report.problems += _judge_assignment(a, columns, every_case)
        report.lines += kill_matrix(a, columns)
    report.duration_s = round(time.monotonic() - began, 1)
    return report


def _judge_assignment(a: Assignment, columns: list[Column], every_case: bool) -> list[str]:
    problems: list[str] = []
    ids = [c.id for c in a.checks]
    for column in columns:
        where = f"{column.kind} of {a.id}" if column.kind != "case" else f"case {a.id}/{column.name}"
        res = column.result
        if res is None:
            problems.append(f"{where}: not graded: {column.trouble or 'no result'}")
            continue
        score = f"{res.points:g}/{res.max_points:g}"
        if column.kind == "case":
            assert column.case is not None
            problems += [f"{where}: {p}" for p in judge(column.case, res, ids)]
        elif res.has_error:
            problems.append(f"{where}: grader error: {res.error or 'a check errored'}")
        elif column.kind == "reference" and res.points != res.max_points:
            failed = [f"{c.id}: {c.message}" for c in res.checks if c.status is not Status.PASSED]
            problems.append(f"{where} scores {score}, not full marks: " + "; ".join(failed))
        elif column.kind == "stub" and res.points != 0:
            problems.append(f"{where} scores {score}; a stub must score 0")
        elif column.kind == "stub" and any(not c.hint for c in res.checks if c.status is Status.FAILED):
            problems.append(f"{where}: a failing check gives no hint")
    wrong = [c for c in columns if c.kind == "stub" or (c.case is not None and not c.case.expect.alternative)]
    for check_id in ids if every_case else []:
        caught = [c for c in wrong if c.result is not None and _status(c.result, check_id) is Status.FAILED]
        if not caught and all(c.result is not None for c in wrong):
            problems.append(
                f"check {a.id}/{check_id} catches no wrong submission: add a case to "
                f"assignments/{a.id}/cases/ that it fails (or drop the check)"
            )
    return problems


def _mark(status: Status | None) -> str:
    return "?" if status is None else MARKS[status]


def _status(result: AssignmentResult, check_id: str) -> Status | None:
    return next((c.status for c in result.checks if c.id == check_id), None)


def kill_matrix(a: Assignment, columns: list[Column]) -> list[str]:
    """The assignment's kill matrix as text: a row per graded submission, a column per check."""
    ids = [c.id for c in a.checks]
    width = max([len(c.name) for c in columns] + [9])
    numbers = "".join(f"{i + 1:>3}" for i in range(len(ids)))
    lines = [f"{a.id}: {len(ids)} checks; X = caught (failed), s = skipped, . = passed, E = grader error"]
    lines.append(f"  {'':<{width}} {numbers}   score")
    for column in columns:
        res = column.result
        if res is None:
            lines.append(f"  {column.name:<{width}} {'not graded: ' + (column.trouble or '?')[:60]}")
            continue
        cells = "".join(f"{_mark(_status(res, i)):>3}" for i in ids)
        tag = " (alternative)" if column.case is not None and column.case.expect.alternative else ""
        lines.append(f"  {column.name:<{width}} {cells}   {res.points:g}/{res.max_points:g}{tag}")
    wrong = [c for c in columns if c.kind == "stub" or (c.case is not None and not c.case.expect.alternative)]
    counts = "".join(
        f"{sum(1 for c in wrong if c.result is not None and _status(c.result, i) is Status.FAILED):>3}"
        for i in ids
    )
    lines.append(f"  {'caught':<{width}} {counts}")
    lines.append(
        "  "
        + "  ".join(f"{n + 1} {i} ({c.points:g})" for n, (i, c) in enumerate(zip(ids, a.checks, strict=True)))
    )
    return lines
