"""A fake job runner for policy batch tests: the real checks of each assignment, no sandbox.

``<submission>/<assignment>/failed`` lists the check ids that fail (one per line); every other check
passes with its full points. Each start is appended to ``$FAKE_LOG`` (``start <key>``), so a test
can tell a regrade from a kept result. Workers import it as ``policy_fake:run_job`` (tests/ on PYTHONPATH).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import grader
from grader.batch.jobs import GradeJob, JobResult, JobStatus
from grader.registry import select
from grader.report import REPORT_FILES, render_all
from grader.results import AssignmentResult, CheckResult, Status, SubmissionResult

RUNNER = "policy_fake:run_job"
HERE = Path(__file__).parent


def run_job(job: GradeJob) -> JobResult:
    """Grade ``job`` by its ``failed`` files, with the assignments' real check ids and points."""
    assert job.submission_path is not None
    folder = Path(job.submission_path)
    log = os.environ.get("FAKE_LOG")
    if log:
        with open(log, "a") as f:
            f.write(f"start {job.key}\n")
    result = SubmissionResult(
        submission=job.key, seed=job.seed, grader_version=grader.__version__, started_at=datetime.now(UTC)
    )
    for a in select(job.assignments):
        marker = folder / a.id / "failed"
        failed = set(marker.read_text().split()) if marker.exists() else set()
        checks = [
            CheckResult(
                id=c.id, title=c.title, max_points=c.points,
                status=Status.FAILED if c.id in failed else Status.PASSED,
                points=0.0 if c.id in failed else c.points,
                message="not as expected" if c.id in failed else "",
            )
            for c in a.checks
        ]  # fmt: skip
        result.assignments.append(
            AssignmentResult(id=a.id, title=a.spec.title, max_points=a.spec.points, checks=checks)
        )
    files = {REPORT_FILES[k].as_posix(): data for k, data in render_all(result).items()}
    return JobResult(key=job.key, status=JobStatus.GRADED, result=result, files=files, worker="fake")
