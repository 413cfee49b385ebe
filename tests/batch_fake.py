"""A fake job runner for batch tests: no sandbox, behaviour chosen by the submission's own files.

``<submission>/topic-create/fake`` holds a number of points (graded, out of the spec's points), or
``crash`` (the worker dies), ``hang`` (sleeps forever), ``raise`` (an exception). Every start and
end is appended to ``$FAKE_LOG``; ``$FAKE_SLEEP`` seconds (or those in ``topic-create/sleep``) pass
before a result. The worker runs it as ``batch_fake:run_job`` with this folder on ``PYTHONPATH``.
Jobs that carry their submission as tar bytes (Dask) are unpacked first, as ``run_job`` does.
"""

from __future__ import annotations

import io
import os
import tarfile
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import grader
from grader.batch.jobs import GradeJob, JobResult, JobStatus
from grader.registry import select
from grader.report import REPORT_FILES, render_all
from grader.results import AssignmentResult, CheckResult, Status, SubmissionResult

RUNNER = "batch_fake:run_job"
HERE = Path(__file__).parent


def _log(line: str) -> None:
    path = os.environ.get("FAKE_LOG")
    if path:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{line}\n".encode())
        finally:
            os.close(fd)


def run_job(job: GradeJob) -> JobResult:
    """Pretend to grade ``job`` according to its ``fake`` file."""
    if job.submission_tar is not None:
        folder = Path(tempfile.mkdtemp(prefix="fake-job-"))
        with tarfile.open(fileobj=io.BytesIO(job.submission_tar)) as tar:
            tar.extractall(folder, filter="data")
    else:
        assert job.submission_path is not None
        folder = Path(job.submission_path)
    behaviour = (folder / "topic-create" / "fake").read_text().strip()
    sleep = folder / "topic-create" / "sleep"
    _log(f"start {job.key} {os.getpid()} seed={job.seed}")
    time.sleep(float(sleep.read_text() if sleep.exists() else os.environ.get("FAKE_SLEEP", "0")))
    if behaviour == "crash":
        os._exit(7)
    if behaviour == "hang":
        time.sleep(3600)
    if behaviour == "raise":
        raise RuntimeError("the fake grader broke")
    result = SubmissionResult(
        submission=job.key, seed=job.seed, grader_version=grader.__version__, started_at=datetime.now(UTC)
    )
    for a in select(job.assignments):
        points = min(float(behaviour), a.spec.points)
        status = Status.PASSED if points == a.spec.points else Status.FAILED
        result.assignments.append(
            AssignmentResult(
                id=a.id,
                title=a.spec.title,
                max_points=a.spec.points,
                checks=[
                    CheckResult(id="whole", title="Everything", status=status, points=points,
                                max_points=a.spec.points, message="" if points else "nothing works",
                                hint="" if points else "read the README"),
                ],
            )
        )  # fmt: skip
    files = {REPORT_FILES[k].as_posix(): data for k, data in render_all(result).items()}
    _log(f"end {job.key}")
    return JobResult(key=job.key, status=JobStatus.GRADED, result=result, files=files, worker="fake")
