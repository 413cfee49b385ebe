"""Write the class's files into ``--out``: ``gradebook.csv``, ``summary.json``, ``junit.xml``, ``index.html``.

The one place that knows both the tables (:mod:`grader.batch.gradebook`) and the page
(:mod:`grader.batch.index`), so neither of them imports the other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from grader.batch.gradebook import combined_junit, gradebook_csv, summary
from grader.batch.index import render_index
from grader.batch.records import StudentRecord
from grader.report import write_atomic
from grader.report.machine import dump_json
from grader.results import SubmissionResult


def write_class_outputs(
    out: Path,
    records: list[StudentRecord],
    results: dict[str, SubmissionResult],
    assignment_ids: list[str],
    meta: dict[str, Any],
) -> dict[str, Path]:
    """Write gradebook.csv, summary.json, junit.xml and index.html into ``out`` (each atomically)."""
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
