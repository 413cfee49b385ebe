"""The class's outputs: student records, ``gradebook.csv``, ``summary.json``, ``junit.xml``, ``index.html``.

A :class:`StudentRecord` is one gradebook row; it is written last (atomically) into the student's
folder as ``batch.json``, so its presence with a matching fingerprint means "this student is done"
for ``--resume``. Grader-side outcomes (error, timeout, crashed, refused by a worker) never turn
into zeros: their cells stay empty and they are listed apart, to be re-run.
"""

from __future__ import annotations

import csv
import io
import statistics
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from grader.report import write_atomic
from grader.report.machine import dump_json, junit_xml, outcome, xml_safe
from grader.results import Status, SubmissionResult

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

    @property
    def total(self) -> float | None:
        """Sum of points; None when any assignment could not be graded (never a silent zero)."""
        if self.status is Grading.MISSING or any(v is None for v in self.points.values()):
            return None
        return sum(v for v in self.points.values() if v is not None)

    @property
    def max_total(self) -> float:
        return sum(self.max_points.values())

    @property
    def percent(self) -> float | None:
        total = self.total
        if total is None or not self.max_total:
            return None
        return round(100 * total / self.max_total, 1)


def record_for_result(base: StudentRecord, result: SubmissionResult) -> StudentRecord:
    """The record of a graded submission: points per assignment, grader errors as empty cells."""
    points: dict[str, float | None] = {a.id: (None if a.has_error else a.points) for a in result.assignments}
    status = {"passed": Grading.PASSED, "failed": Grading.FAILED, "error": Grading.ERROR}[outcome(result)]
    return base.model_copy(
        update={
            "status": status,
            "points": points,
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


# -- gradebook.csv -----------------------------------------------------------------------------------


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{round(value, 2):g}"


def gradebook_csv(records: list[StudentRecord], assignment_ids: list[str]) -> bytes:
    """One row per student: ids, a column per assignment, total, percent, status (LMS-importable)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(
        ["student_id", "name", "email", "login", *assignment_ids, "total", "max_points", "percent",
         "status", "note", "report"]
    )  # fmt: skip
    for r in records:
        writer.writerow(
            [r.student_id, r.name, r.email, r.login,
             *[_fmt(r.points.get(a)) for a in assignment_ids],
             _fmt(r.total), _fmt(r.max_total) if r.max_points else "", _fmt(r.percent),
             r.status.value, r.note.replace("\n", " "), r.report or ""]
        )  # fmt: skip
    return buf.getvalue().encode("utf-8")


# -- summary -------------------------------------------------------------------------------------------


def check_stats(results: dict[str, SubmissionResult]) -> list[dict[str, Any]]:
    """Per check: how many passed / failed / errored / were skipped; most-failed first."""
    stats: dict[tuple[str, str], dict[str, Any]] = {}
    for result in results.values():
        for a in result.assignments:
            for c in a.checks:
                row = stats.setdefault(
                    (a.id, c.id),
                    {"assignment": a.id, "check": c.id, "title": c.title, "points": c.max_points,
                     "passed": 0, "failed": 0, "error": 0, "skipped": 0, "failed_by": []},
                )  # fmt: skip
                row[c.status.value] += 1
                if c.status in {Status.FAILED, Status.SKIPPED}:
                    row["failed_by"].append(result.submission)
    rows = list(stats.values())
    for row in rows:
        graded = row["passed"] + row["failed"] + row["skipped"]
        row["graded"] = graded
        row["pass_rate"] = round(row["passed"] / graded, 3) if graded else None
    return sorted(
        rows, key=lambda r: (r["pass_rate"] if r["pass_rate"] is not None else 2.0, r["assignment"])
    )


def histogram(records: list[StudentRecord], bins: int = 10) -> list[dict[str, Any]]:
    """Counts of percent scores in ``bins`` equal bins (the last one includes 100)."""
    width = 100 / bins
    counts = [0] * bins
    for r in records:
        if r.percent is not None:
            counts[min(bins - 1, int(r.percent // width))] += 1
    return [
        {"low": round(i * width), "high": round((i + 1) * width), "count": n} for i, n in enumerate(counts)
    ]


def summary(
    records: list[StudentRecord],
    results: dict[str, SubmissionResult],
    meta: dict[str, Any],
) -> dict[str, Any]:
    """``summary.json``: counts per status, score statistics, per-check pass rates, grader problems."""
    scores = [r.percent for r in records if r.percent is not None]
    counts = {g.value: sum(r.status is g for r in records) for g in Grading}
    return {
        **meta,
        "students": len(records),
        "counts": counts,
        "grader_problems": [
            {
                "student_id": r.student_id,
                "key": r.key,
                "status": r.status.value,
                "note": r.note,
                "report": r.report,
            }
            for r in records
            if r.status.grader_side
        ],
        "mean_percent": round(statistics.fmean(scores), 1) if scores else None,
        "median_percent": round(statistics.median(scores), 1) if scores else None,
        "histogram": histogram(records),
        "checks": check_stats(results),
        "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


# -- junit.xml -------------------------------------------------------------------------------------------


def combined_junit(records: list[StudentRecord], results: dict[str, SubmissionResult]) -> bytes:
    """One JUnit file for the class: a testsuite per student and assignment (``key/assignment``).

    Students without a grading result get one testsuite with a single testcase: a ``failure`` for
    their own problems (empty, unrecognised, refused), an ``error`` for the grader's.
    """
    root = ET.Element("testsuites", name="class")
    for r in records:
        result = results.get(r.key)
        if result is not None:
            for suite in ET.fromstring(junit_xml(result)):
                suite.set("name", xml_safe(f"{r.key}/{suite.get('name')}"))
                root.append(suite)
        if result is None or r.status in {Grading.TIMEOUT, Grading.CRASHED}:
            tag = "error" if r.status.grader_side else "skipped" if r.status is Grading.MISSING else "failure"
            suite = ET.SubElement(
                root, "testsuite", name=xml_safe(r.key), tests="1", failures=str(int(tag == "failure")),
                errors=str(int(tag == "error")), skipped=str(int(tag == "skipped")), time="0.000",
            )  # fmt: skip
            case = ET.SubElement(suite, "testcase", classname=xml_safe(r.key), name="submission", time="0")
            child = ET.SubElement(case, tag, message=xml_safe(r.status.value), type=r.status.value)
            child.text = xml_safe(r.note)
    for attr in ("tests", "failures", "errors", "skipped"):
        root.set(attr, str(sum(int(s.get(attr, "0")) for s in root)))
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


# -- writing everything ------------------------------------------------------------------------------------


def write_class_outputs(
    out: Path,
    records: list[StudentRecord],
    results: dict[str, SubmissionResult],
    assignment_ids: list[str],
    meta: dict[str, Any],
) -> dict[str, Path]:
    """Write gradebook.csv, summary.json, junit.xml and index.html into ``out`` (each atomically)."""
    from grader.batch.index import render_index

    records = sorted(records, key=lambda r: (r.student_id.lower(), r.key))
    data = summary(records, results, meta)
    paths = {
        "gradebook": out / "gradebook.csv",
        "summary": out / "summary.json",
        "junit": out / "junit.xml",
        "index": out / "index.html",
    }
    write_atomic(paths["gradebook"], gradebook_csv(records, assignment_ids))
    write_atomic(paths["summary"], dump_json(data))
    write_atomic(paths["junit"], combined_junit(records, results))
    write_atomic(paths["index"], render_index(records, data, assignment_ids).encode("utf-8"))
    return paths
