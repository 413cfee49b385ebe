"""The grader's public API; the CLI is a thin layer over these functions."""

from __future__ import annotations

import secrets
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import grader
from grader.errors import GraderError, UsageError
from grader.registry import Assignment, select, template_root
from grader.results import AssignmentResult, Status, SubmissionResult
from grader.runner import grade_submission
from grader.sandbox import SandboxFactory, factory
from grader.submission_files import NOT_SUBMITTED, SubmissionRefused, copy_tree, inspect


def new_seed() -> int:
    """A fresh random seed (recorded in every report, so a regrade can reuse it)."""
    return secrets.randbelow(1_000_000)


def default_out(submission: Path) -> Path:
    """``reports/<submission folder name>/``."""
    return Path("reports") / (submission.resolve().name or "submission")


def _left_out(submission: Path, out: Path) -> set[str]:
    """Paths inside ``submission`` that are not graded: its report folders and the output folder."""
    skip = set(NOT_SUBMITTED)
    if out.resolve().is_relative_to(submission.resolve()) and out.resolve() != submission.resolve():
        skip.add(out.resolve().relative_to(submission.resolve()).as_posix())
    return skip


def grading_copy(submission: Path, out: Path, tmp: Path) -> Path:
    """``submission`` without its report folders: ``grader check .`` must not grade its own reports.

    Returns ``submission`` itself when there is nothing to leave out, else a copy under ``tmp``
    with the same folder name (reports name the submission by it). The copy keeps links as links
    and leaves special files out, like the sandboxes' own copies.
    """
    skip = _left_out(submission, out)
    if not any((submission / rel).exists() for rel in skip):
        return submission
    copy = tmp / (submission.resolve().name or "submission")
    copy_tree(submission, copy, skip=skip)
    return copy


def _readable(submission: Path, out: Path) -> bool:
    """False when the submission breaks a limit (the runner refuses it without a copy); a usage error
    when the grader's user cannot read part of it."""
    try:
        inventory = inspect(submission, skip=_left_out(submission, out))
    except SubmissionRefused:
        return False
    if inventory.unreadable:
        shown = ", ".join(str(submission / rel) for rel in inventory.unreadable[:3])
        raise UsageError(
            f"cannot read {shown} (permission denied): make the submission readable by the user "
            "running the grader (chmod -R a+rX)"
        )
    return True


def grader_failure(submission: Path, seed: int, error: str) -> SubmissionResult:
    """A result for a run the grader could not even start (e.g. a broken spec): one grader error."""
    return SubmissionResult(
        submission=submission.resolve().name or "submission",
        seed=seed,
        grader_version=grader.__version__,
        started_at=datetime.now(UTC),
        assignments=[AssignmentResult(id="grader", title="Grader set-up", max_points=0, error=error)],
    )


def check(
    submission: Path,
    assignment_ids: list[str] | None = None,
    *,
    out: Path | None = None,
    seed: int | None = None,
    sandbox_factory: SandboxFactory | None = None,
    formats: list[str] | None = None,
    view: Literal["ta", "student"] = "ta",
) -> tuple[SubmissionResult, dict[str, Path]]:
    """Grade ``submission`` (a folder with one sub-folder per assignment) and write its reports.

    ``formats`` limits the reports to those named, each under its platform's file name; one
    platform format alone (``gradescope``, ``prairielearn``) defaults ``out`` to the platform's folder.
    """
    from grader.report import default_out_for, report_targets, write_reports

    if not submission.is_dir():
        raise UsageError(
            f"{submission} is not a folder; pass the folder that holds topic-create/, produce-sequence/, ..."
        )
    out = out or default_out_for(formats) or default_out(submission)
    report_targets(formats, out)  # a clash of file names is a usage error before, not after, grading
    seed = new_seed() if seed is None else seed
    try:
        assignments = select(assignment_ids)
    except GraderError as exc:
        if not isinstance(exc, UsageError):
            # A broken course set-up: the reports (a platform's above all) must still say it is not
            # the student's fault, e.g. PrairieLearn's "gradable": false instead of a generic failure.
            write_reports(grader_failure(submission, seed, str(exc)), out, formats, view=view)
        raise
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="grader-submission-") as tmp:
        # A submission over the size limits is never copied: the runner refuses it as it is.
        source = grading_copy(submission, out, Path(tmp)) if _readable(submission, out) else submission
        result = grade_submission(
            source,
            assignments,
            seed=seed,
            sandbox_factory=sandbox_factory or factory(),
            logs_dir=out / "logs",
        )
    return result, write_reports(result, out, formats, view=view)


@dataclass
class Validation:
    """Outcome of ``grader validate``: every reference full marks, every stub zero with guidance."""

    problems: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    results: dict[str, SubmissionResult] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


def _as_submission(assignments: list[Assignment], source: dict[str, Path], root: Path) -> Path:
    for a in assignments:
        if source[a.id].is_dir():
            copy_tree(source[a.id], root / a.id)
    return root


def validate(
    assignment_ids: list[str] | None = None,
    *,
    out: Path | None = None,
    seed: int | None = None,
    sandbox_factory: SandboxFactory | None = None,
) -> Validation:
    """Grade every reference solution (expect full marks) and template stub (expect zero, with hints)."""
    from grader.report import write_reports

    assignments = select(assignment_ids)
    seed = new_seed() if seed is None else seed
    report = Validation()
    sandbox_factory = sandbox_factory or factory()
    kinds = {
        "reference": {a.id: a.reference for a in assignments},
        "template": {a.id: template_root() / a.id for a in assignments},
    }
    for kind, sources in kinds.items():
        with tempfile.TemporaryDirectory(prefix="grader-validate-") as tmp:
            submission = _as_submission(assignments, sources, Path(tmp) / kind)
            result = grade_submission(submission, assignments, seed=seed, sandbox_factory=sandbox_factory)
        report.results[kind] = result
        if out is not None:
            write_reports(result, out / kind)
        for a in result.assignments:
            score = f"{a.points:g}/{a.max_points:g}"
            if a.has_error:
                report.problems.append(f"{kind} of {a.id}: grader error: {a.error or 'a check errored'}")
            elif kind == "reference" and a.points != a.max_points:
                failed = [f"{c.id}: {c.message}" for c in a.checks if c.status is not Status.PASSED]
                report.problems.append(
                    f"reference of {a.id} scores {score}, not full marks: " + "; ".join(failed)
                )
            elif kind == "template" and a.points != 0:
                report.problems.append(f"template stub of {a.id} scores {score}; a stub must score 0")
            elif kind == "template" and any(not c.hint for c in a.checks if c.status is not Status.PASSED):
                report.problems.append(f"template stub of {a.id}: a failing check gives no hint")
            report.lines.append(f"{kind:<9} {a.id:<20} {score:>8}")
    return report
