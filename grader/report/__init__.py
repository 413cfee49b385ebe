"""Write a grading run's reports: HTML for people; JSON, Gradescope, PrairieLearn, JUnit for machines.

Every format is rendered from the results model alone. Without ``formats`` every report goes into
one folder in a fixed layout (``report.html``, ``results.json``, ``gradescope/results.json``, ...);
with ``formats`` each named report is written under its platform's own file name directly in the
output folder (``--format gradescope --out /autograder/results`` gives
``/autograder/results/results.json`` in Gradescope's format and nothing else there).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from grader.errors import UsageError
from grader.report.classroom import classroom_json, summary_md
from grader.report.gradescope import AutograderFailure, autograder_root, gradescope_json
from grader.report.html import View, render_html
from grader.report.junit import junit_xml
from grader.report.machine import results_json_bytes
from grader.report.prairielearn import RESULTS_DIR as PRAIRIELEARN_DIR
from grader.report.prairielearn import prairielearn_json
from grader.results import SCHEMA_FILE, SubmissionResult

__all__ = [
    "FORMATS",
    "REPORT_FILES",
    "AutograderFailure",
    "Format",
    "default_out_for",
    "render_all",
    "report_targets",
    "write_atomic",
    "write_reports",
]


@dataclass(frozen=True)
class Format:
    """One report format: where it goes and how it is rendered."""

    name: str
    layout: Path
    """Its path in the all-reports layout."""
    filename: str
    """Its file name when written alone (the platform's own name)."""
    render: Callable[[SubmissionResult], bytes]
    platform_dir: Callable[[], Path] | None = None
    """Where the platform reads it, the default output folder when this format is written alone."""


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("html", Path("report.html"), "report.html", lambda r: render_html(r).encode("utf-8")),
        Format("json", Path("results.json"), "results.json", results_json_bytes),
        Format(
            "gradescope",
            Path("gradescope") / "results.json",
            "results.json",
            gradescope_json,
            lambda: autograder_root() / "results",
        ),
        Format(
            "prairielearn",
            Path("prairielearn") / "results.json",
            "results.json",
            prairielearn_json,
            lambda: Path(PRAIRIELEARN_DIR),
        ),
        Format("junit", Path("junit.xml"), "junit.xml", junit_xml),
        Format("classroom", Path("classroom") / "results.json", "classroom.json", classroom_json),
        Format("summary", Path("summary.md"), "summary.md", summary_md),
    )
}

REPORT_FILES: dict[str, Path] = {name: f.layout for name, f in FORMATS.items()}
"""Format -> path in the all-reports layout."""


def render_all(result: SubmissionResult, *, view: View = "ta") -> dict[str, bytes]:
    """Every report's content, keyed like :data:`REPORT_FILES` (Gradescope left out on a grader error)."""
    contents: dict[str, bytes] = {}
    for name, fmt in FORMATS.items():
        try:
            contents[name] = (
                render_html(result, view).encode("utf-8") if name == "html" else fmt.render(result)
            )
        except AutograderFailure:
            continue
    return contents


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


def report_targets(formats: Sequence[str] | None, out_dir: Path) -> dict[str, Path]:
    """Format -> file path in ``out_dir``; a usage error for unknown formats or two writing one file."""
    if not formats:
        for name, f in FORMATS.items():
            if f.platform_dir is not None and out_dir.resolve() == f.platform_dir().resolve():
                # Our results.json there would be read as the platform's own (and rejected or misread).
                raise UsageError(f"{out_dir} is where {name} reads its results.json: add --format {name}")
        return {name: out_dir / f.layout for name, f in FORMATS.items()}
    unknown = [n for n in formats if n not in FORMATS]
    if unknown:
        raise UsageError(f"unknown format(s) {', '.join(unknown)}; choose from {', '.join(FORMATS)}")
    targets: dict[str, Path] = {}
    for name in dict.fromkeys(formats):
        path = out_dir / FORMATS[name].filename
        clash = [other for other, p in targets.items() if p == path]
        if clash:
            raise UsageError(
                f"--format {name} and --format {clash[0]} both write {path.name}; "
                "give them separate --out folders"
            )
        targets[name] = path
    return targets


def default_out_for(formats: Sequence[str] | None) -> Path | None:
    """The platform's own folder when exactly one platform format is asked for, else None."""
    if formats and len(set(formats)) == 1:
        fmt = FORMATS.get(formats[0])
        if fmt is not None and fmt.platform_dir is not None:
            return fmt.platform_dir()
    return None


def write_reports(
    result: SubmissionResult, out_dir: Path, formats: Sequence[str] | None = None, *, view: View = "ta"
) -> dict[str, Path]:
    """Write the reports (all of them, or ``formats``) into ``out_dir``; returns format -> path written.

    A platform that must not receive a file on a grader error (Gradescope) gets none, and a stale
    file at its path is removed, so that the platform shows its own autograder-failure state.
    """
    written: dict[str, Path] = {}
    for name, path in report_targets(formats, out_dir).items():
        try:
            data = (
                render_html(result, view).encode("utf-8") if name == "html" else FORMATS[name].render(result)
            )
        except AutograderFailure:
            # Gradescope's own failure path: no results file, so no score is posted.
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            continue
        write_atomic(path, data)
        written[name] = path
        if name == "json":
            from grader.report.schema import schema_bytes  # not at import: `python -m grader.report.schema`

            write_atomic(path.parent / SCHEMA_FILE, schema_bytes())
    return written
