"""Write a grading run's reports: HTML for people, JSON/Gradescope/JUnit for machines."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from grader.report.html import render_html
from grader.report.machine import dump_json, gradescope_json, junit_xml, results_json
from grader.results import SubmissionResult

__all__ = ["write_reports"]

REPORT_FILES = {
    "html": Path("report.html"),
    "json": Path("results.json"),
    "gradescope": Path("gradescope") / "results.json",
    "junit": Path("junit.xml"),
}


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temp file in the same folder and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def render_all(result: SubmissionResult) -> dict[str, bytes]:
    """Every report's content, keyed like :data:`REPORT_FILES`."""
    return {
        "html": render_html(result).encode("utf-8"),
        "json": dump_json(results_json(result)),
        "gradescope": dump_json(gradescope_json(result)),
        "junit": junit_xml(result),
    }


def write_reports(result: SubmissionResult, out_dir: Path) -> dict[str, Path]:
    """Write report.html, results.json, gradescope/results.json and junit.xml into ``out_dir``."""
    contents = render_all(result)
    paths: dict[str, Path] = {}
    for kind, relative in REPORT_FILES.items():
        paths[kind] = out_dir / relative
        write_atomic(paths[kind], contents[kind])
    return paths
