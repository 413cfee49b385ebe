"""The grader's public API; the CLI is a thin layer over these functions."""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import grader
from grader.cases import Case
from grader.errors import GraderError, UsageError
from grader.registry import Assignment, select
from grader.results import AssignmentResult, SubmissionResult
from grader.runner import grade_submission
from grader.sandbox import SandboxFactory, factory
from grader.submission_files import NOT_SUBMITTED, SubmissionRefused, copy_tree, inspect
from grader.validation import GradeGroups, Group, Validation
from grader.validation import validate as run_validation


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


def validate(
    assignment_ids: list[str] | None = None,
    *,
    out: Path | None = None,
    seed: int | None = None,
    sandbox: str = "auto",
    jobs: int | None = None,
    with_cases: bool = True,
    select_case: Callable[[Case], bool] | None = None,
    sandbox_factory: SandboxFactory | None = None,
) -> Validation:
    """Grade every reference (full marks), stub (zero, with hints) and case (its ``expect.toml``) and
    build the kill matrix (see :mod:`grader.validation`).

    The submissions run as jobs on the batch's local pool (``jobs`` at once, default: what the
    machine holds) in ``sandbox``; with ``sandbox_factory`` they are graded one after another in
    this process instead (tests share one cluster that way).
    """
    from grader.report import write_reports

    assignments = select(assignment_ids)
    seed = new_seed() if seed is None else seed
    if sandbox_factory is not None:
        grade_groups = _in_process(assignments, seed, sandbox_factory)
    else:
        grade_groups = _on_the_pool(assignments, seed, sandbox, jobs)
    return run_validation(
        assignments,
        grade_groups,
        with_cases=with_cases,
        select_case=select_case,
        out=out,
        write=write_reports,
    )


def _in_process(assignments: list[Assignment], seed: int, sandbox_factory: SandboxFactory) -> GradeGroups:
    by_id = {a.id: a for a in assignments}

    def grade(laid: list[tuple[Group, Path]]) -> Iterator[tuple[Group, SubmissionResult | None, str]]:
        for n, (group, folder) in enumerate(laid):
            chosen = [by_id[c.assignment] for c in group.columns]
            yield group, grade_submission(folder, chosen, seed=seed + n, sandbox_factory=sandbox_factory), ""

    return grade


def _on_the_pool(assignments: list[Assignment], seed: int, sandbox: str, jobs: int | None) -> GradeGroups:
    from grader.batch.executor import Finished, LocalExecutor, default_jobs
    from grader.batch.jobs import GradeJob, JobStatus, assignment_version
    from grader.batch.run import default_timeout
    from grader.sandbox import resolve_kind

    by_id = {a.id: a for a in assignments}
    kind = resolve_kind(sandbox)
    spark = any(a.spec.overlap for a in assignments)
    slots = jobs or default_jobs(with_spark=spark)

    def grade(laid: list[tuple[Group, Path]]) -> Iterator[tuple[Group, SubmissionResult | None, str]]:
        by_key = {group.key: group for group, _ in laid}
        batch = []
        for n, (group, folder) in enumerate(laid):
            chosen = [by_id[c.assignment] for c in group.columns]
            batch.append(
                GradeJob(
                    key=group.key,
                    submission_path=str(folder),
                    assignments=[a.id for a in chosen],
                    versions={a.id: assignment_version(a) for a in chosen},
                    seed=seed + n,
                    sandbox=kind,
                    timeout_s=default_timeout(chosen),
                )
            )
        with tempfile.TemporaryDirectory(prefix="grader-validate-pool-") as work:
            for event in LocalExecutor(slots, Path(work)).run(batch):
                if isinstance(event, Finished):
                    done = event.result
                    ok = done.status is JobStatus.GRADED and done.result is not None
                    trouble = "" if ok else f"{done.status.value}: {done.message}"
                    yield by_key[done.key], done.result if ok else None, trouble

    return grade
