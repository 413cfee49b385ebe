"""LMS exports of a batch, besides the plain ``gradebook.csv``.

- **Moodle**: the offline grading worksheet (``moodle-grading-worksheet.csv``: the columns Moodle's
  "Download grading worksheet" writes; its importer reads ``Identifier`` = ``Participant <id>``, ``Grade``,
  ``Last modified (grade)`` and ``Feedback comments``), joined on the participant ids of a Moodle download,
  and ``moodle-feedback.zip``, one folder per participant named the way Moodle's "Upload multiple
  feedback files in a zip" expects (``<full name>_<participant id>_assignfeedback_file_/``) holding the
  student's report.
- **Canvas**: ``canvas-gradebook.csv`` with ``Student``, ``ID``, ``SIS User ID``, ``SIS Login ID``,
  ``Section``, one column per Canvas assignment and the ``Points Possible`` row under the header.

The total goes into one LMS assignment (the whole lab), in points or percent (``[export] grade``);
rows whose grade the grader could not compute are left blank, never a zero.
"""

from __future__ import annotations

import csv
import html
import io
import zipfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from grader.batch.records import Grading, StudentRecord
from grader.errors import UsageError
from grader.policy import CoursePolicy, ExportSettings
from grader.registry import Assignment
from grader.report import write_atomic
from grader.report.html import render_html
from grader.results import SubmissionResult

EXPORTS = ("moodle", "canvas")
MOODLE_WORKSHEET = "moodle-grading-worksheet.csv"
MOODLE_FEEDBACK = "moodle-feedback.zip"
CANVAS_GRADEBOOK = "canvas-gradebook.csv"
MOODLE_COLUMNS = [
    "Identifier", "Full name", "Email address", "Status", "Grade", "Maximum Grade", "Grade can be changed",
    "Last modified (submission)", "Last modified (grade)", "Feedback comments",
]  # fmt: skip
CANVAS_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
POINTS_POSSIBLE = "    Points Possible"
"""Canvas's own export writes the row's label this way; its importer looks for "Points Possible"."""


def check_exports(exports: Sequence[str], layout: str) -> None:
    """Refuse, before grading, an export the download cannot feed (the LMS ids come from its layout)."""
    unknown = sorted(set(exports) - set(EXPORTS))
    if unknown:
        raise UsageError(f"unknown --export {', '.join(unknown)}; choose from {', '.join(EXPORTS)}")
    for lms in ("moodle", "canvas"):
        if lms in exports and layout != lms:
            name = lms.capitalize()
            raise UsageError(
                f"--export {lms} needs a {name} download (its file names carry the {name} ids the import "
                f"is joined on), but this one is a {layout} layout; pass the zip {name} gave you, or leave "
                f"--export {lms} out"
            )


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{round(value, 2):g}"


def _grade(record: StudentRecord, settings: ExportSettings) -> str:
    if settings.grade == "percent":
        return _fmt(record.percent)
    return _fmt(record.total)


def _possible(record: StudentRecord, settings: ExportSettings) -> str:
    return "100" if settings.grade == "percent" else _fmt(record.max_total)


def feedback_text(record: StudentRecord) -> str:
    """A short feedback comment: the score, each assignment's points and what overrides and lateness did."""
    total = _fmt(record.total) if record.total is not None else "not graded yet"
    lines = [f"Autograder: {total} / {_fmt(record.max_total)} points ({record.status.value})."]
    for aid, points in record.points.items():
        text = record.adjustments.get(aid) or ""
        lines.append(f"{aid}: {_fmt(points) or 'not graded'} / {_fmt(record.max_points.get(aid))}" + (
            f" ({text})" if text else ""
        ))  # fmt: skip
    if record.note:
        lines.append(record.note)
    return "\n".join(lines)


def moodle_worksheet(records: Sequence[StudentRecord], settings: ExportSettings, now: datetime) -> bytes:
    """Moodle's offline grading worksheet: one row per participant of the Moodle download."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(MOODLE_COLUMNS)
    stamp = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")  # PHP's strtotime reads ISO 8601
    for r in sorted(
        (r for r in records if r.lms_id), key=lambda r: int(r.lms_id) if r.lms_id.isdigit() else 0
    ):
        graded = r.status not in {Grading.MISSING} and not r.status.grader_side
        submitted = (
            r.submitted_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00") if r.submitted_at else "-"
        )
        writer.writerow(
            [f"Participant {r.lms_id}", r.name, r.email, f"graded by grader: {r.status.value}",
             _grade(r, settings) if graded else "", _possible(r, settings), "Yes", submitted, stamp,
             "<p>" + html.escape(feedback_text(r)).replace("\n", "<br>") + "</p>"]
        )  # fmt: skip
    return buf.getvalue().encode("utf-8")


def moodle_folder(record: StudentRecord) -> str:
    """``Full Name_123456_assignfeedback_file_``: Moodle splits on '_', so the name must hold none."""
    name = record.name.replace("_", " ").strip() or f"Participant {record.lms_id}"
    return f"{name}_{record.lms_id}_assignfeedback_file_"


def moodle_feedback_zip(records: Sequence[StudentRecord], results: dict[str, SubmissionResult]) -> bytes:
    """A zip of each participant's student-view report, in the folders Moodle's feedback import expects."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for r in records:
            result = results.get(r.key)
            if not r.lms_id or result is None:
                continue
            z.writestr(f"{moodle_folder(r)}/feedback.html", render_html(result, "student"))
    return buf.getvalue()


def canvas_columns(assignments: Sequence[Assignment], policy: CoursePolicy) -> dict[str, list[str]]:
    """Canvas column header -> the assignment ids whose points go into it."""
    per = {a.id: policy.rule(a.id).canvas_column for a in assignments if policy.rule(a.id).canvas_column}
    if per:
        columns: dict[str, list[str]] = {}
        for aid, header in per.items():
            columns.setdefault(header, []).append(aid)
        return columns
    header = policy.export.canvas_column or (
        f"{policy.course.name} (grader)" if policy.course.name else "grader"
    )
    return {header: [a.id for a in assignments]}


def canvas_gradebook(
    records: Sequence[StudentRecord], assignments: Sequence[Assignment], policy: CoursePolicy
) -> bytes:
    """Canvas's gradebook CSV: identity columns, a column per Canvas assignment, the Points Possible row."""
    columns = canvas_columns(assignments, policy)
    percent = policy.export.grade == "percent"
    top = {a.id: a.spec.points for a in assignments}
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([*CANVAS_COLUMNS, *columns])
    possible = ["100" if percent else _fmt(sum(top[a] for a in ids)) for ids in columns.values()]
    writer.writerow([POINTS_POSSIBLE, "", "", "", "", *possible])
    for r in sorted((r for r in records if r.lms_id), key=lambda r: r.lms_id):
        cells = []
        for ids in columns.values():
            values = [r.points.get(a) for a in ids]
            if r.status is Grading.MISSING or any(v is None for v in values):
                cells.append("")
                continue
            got = sum(v for v in values if v is not None)
            most = sum(top[a] for a in ids)
            cells.append(_fmt(100 * got / most if percent and most else got))
        sis = r.student_id if r.student_id != r.lms_id else ""
        writer.writerow([r.name or r.login, r.lms_id, sis, r.login, "", *cells])
    return buf.getvalue().encode("utf-8")


def write_exports(
    out: Path,
    exports: Sequence[str],
    records: Sequence[StudentRecord],
    results: dict[str, SubmissionResult],
    assignments: Sequence[Assignment],
    policy: CoursePolicy | None,
) -> dict[str, Path]:
    """Write the asked-for LMS files into ``out`` (each atomically); returns name -> path."""
    policy = policy or CoursePolicy()
    paths: dict[str, Path] = {}
    if "moodle" in exports:
        paths["moodle_worksheet"] = out / MOODLE_WORKSHEET
        write_atomic(paths["moodle_worksheet"], moodle_worksheet(records, policy.export, datetime.now(UTC)))
        paths["moodle_feedback"] = out / MOODLE_FEEDBACK
        write_atomic(paths["moodle_feedback"], moodle_feedback_zip(records, results))
    if "canvas" in exports:
        paths["canvas_gradebook"] = out / CANVAS_GRADEBOOK
        write_atomic(paths["canvas_gradebook"], canvas_gradebook(records, assignments, policy))
    return paths
