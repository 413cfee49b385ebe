"""The class's tables: ``gradebook.csv``, ``summary.json`` and the class's ``junit.xml``.

Rows are :class:`~grader.batch.records.StudentRecord` values (re-exported here for existing callers).
Grader-side outcomes (error, timeout, crashed) keep empty cells and are listed apart, to be re-run.
The class page is :mod:`grader.batch.index`; :mod:`grader.batch.outputs` writes them all.
"""

from __future__ import annotations

import csv
import io
import statistics
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any

from grader.batch.records import (
    RECORD_FILE,
    Grading,
    StudentRecord,
    load_record,
    load_result,
    record_for_result,
    save_record,
)
from grader.report.machine import junit_xml, xml_safe
from grader.results import Status, SubmissionResult

__all__ = [
    "RECORD_FILE",
    "Grading",
    "StudentRecord",
    "check_stats",
    "combined_junit",
    "gradebook_csv",
    "histogram",
    "load_record",
    "load_result",
    "policy_summary",
    "record_for_result",
    "save_record",
    "summary",
]

# -- gradebook.csv -----------------------------------------------------------------------------------


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{round(value, 2):g}"


def gradebook_csv(records: list[StudentRecord], assignment_ids: list[str]) -> bytes:
    """One row per student: ids, a column per assignment, total, percent, status (LMS-importable).

    The assignment columns are the points that count; ``adjustments`` says how overrides and the late
    policy got there from the autograde ("topic-create: autograde 8/10, override +2 (reason) = 10").
    """
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(
        ["student_id", "name", "email", "login", *assignment_ids, "total", "max_points", "percent",
         "status", "note", "submitted_at", "grace_days", "adjustments", "report"]
    )  # fmt: skip
    for r in records:
        adjustments = "; ".join(f"{a}: {r.adjustments[a]}" for a in assignment_ids if a in r.adjustments)
        writer.writerow(
            [r.student_id, r.name, r.email, r.login,
             *[_fmt(r.points.get(a)) for a in assignment_ids],
             _fmt(r.total), _fmt(r.max_total) if r.max_points else "", _fmt(r.percent),
             r.status.value, r.note.replace("\n", " "),
             r.submitted_at.isoformat(timespec="seconds") if r.submitted_at else "",
             str(r.grace_days_used) if r.grace_days_used else "", adjustments, r.report or ""]
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


def policy_summary(records: list[StudentRecord], results: dict[str, SubmissionResult]) -> dict[str, Any]:
    """What overrides and the course policy did: adjusted scores, late work, grace days, unknown times."""
    by_key = {r.key: r for r in records}
    adjusted = [
        {"student_id": r.student_id, "key": r.key, "assignment": a, "autograde": r.autograde.get(a),
         "points": r.points.get(a), "what": text}
        for r in records for a, text in r.adjustments.items()
    ]  # fmt: skip
    late = []
    unknown = 0
    timed = 0
    for key, result in results.items():
        timings = [a for a in result.assignments if a.timing is not None]
        timed += bool(timings)
        unknown += any(a.timing.submitted_at is None for a in timings if a.timing is not None)
        for a in timings:
            assert a.timing is not None
            if a.timing.late_s or a.timing.grace_days or a.timing.extension is not None:
                record = by_key.get(key)
                late.append(
                    {"student_id": record.student_id if record else key, "key": key, "assignment": a.id,
                     "late_s": a.timing.late_s, "grace_days": a.timing.grace_days, "credit": a.timing.credit,
                     "extension": a.timing.extension, "explanation": a.timing.explanation}
                )  # fmt: skip
    return {
        "adjusted": adjusted,
        "overrides": sum(len(a.overrides) for r in results.values() for a in r.assignments),
        "late": late,
        "grace_days_used": sum(r.grace_days_used for r in records),
        "timed": timed,
        "unknown_times": unknown,
    }


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
        "policy": policy_summary(records, results),
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
