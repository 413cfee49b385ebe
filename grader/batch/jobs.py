"""Grading jobs: one serialisable value per submission and the one function that runs it.

A :class:`GradeJob` carries everything a worker needs (the submission as a path or as tar bytes,
the assignment ids and their versions, the seed, the sandbox kind, a wall-clock limit), so the same
job runs in a local worker process or on a remote Dask worker. :func:`run_job` grades it through
the same code path as ``grader check`` and returns the results model *and* the report files'
bytes: the batch client alone writes ``--out``, atomically.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import tarfile
import tempfile
import time
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

import grader
from grader.registry import Assignment, select
from grader.results import SubmissionResult

LOG_CAP_BYTES = 512 * 1024
"""Largest broker log returned to the client per file (the tail is kept)."""


class JobStatus(StrEnum):
    """How a job ended, before looking at the grading result inside it."""

    GRADED = "graded"
    """The grader ran; ``result`` says passed / failed / grader error per check."""
    TIMEOUT = "timeout"
    """The whole job exceeded the batch's per-submission wall-clock limit and was killed."""
    CRASHED = "crashed"
    """The worker process died or raised (a grader fault, never the student's)."""
    REFUSED = "refused"
    """The worker refused the job (e.g. a different grader or assignment version)."""


class GradeJob(BaseModel):
    """Everything needed to grade one submission, as one serialisable value."""

    model_config = ConfigDict(frozen=True, ser_json_bytes="base64", val_json_bytes="base64")

    key: str
    """The student's key in the batch (also their folder name under ``--out``)."""
    submission_path: str | None = None
    """The submission folder, when the worker shares the client's file system."""
    submission_tar: bytes | None = None
    """The submission folder as an uncompressed tar, when it does not (e.g. Dask workers)."""
    assignments: list[str]
    """Assignment ids to grade, in order."""
    versions: dict[str, str]
    """Assignment id -> content hash of its spec and checks (see :func:`assignment_version`)."""
    grader_version: str = grader.__version__
    seed: int
    sandbox: str = "local"
    """Sandbox kind for ``grader.sandbox.factory``: ``auto`` | ``docker`` | ``local``."""
    timeout_s: float = Field(gt=0)
    """Wall-clock limit of the whole job; the executor kills it after that."""


class JobResult(BaseModel):
    """What a job gives back: its status, the results model and every report file's bytes."""

    model_config = ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")

    key: str
    status: JobStatus
    result: SubmissionResult | None = None
    files: dict[str, bytes] = Field(default_factory=dict)
    """Path relative to the student's output folder -> content (reports, kept broker logs)."""
    message: str = ""
    """For anything but ``graded``: what happened, for the TA."""
    duration_s: float = 0.0
    worker: str = ""
    """Which worker ran it (host:pid), for the TA when something went wrong."""


def _hash_file_into(digest: hashlib._Hash, path: Path) -> None:
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)


def tree_hash(root: Path) -> str:
    """SHA-256 over a folder's relative paths, kinds, executable bits and contents (links not followed).

    Timestamps, owners and ``.git/`` are left out, so a re-downloaded or re-extracted submission with the same
    content hashes the same.
    """
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*"), key=lambda p: p.relative_to(root).as_posix()):
        rel = path.relative_to(root).as_posix()
        if ".git" in path.relative_to(root).parts:
            continue  # git's own bookkeeping changes without the content changing
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode):
            digest.update(f"L {rel} -> {os.readlink(path)}\n".encode())
        elif stat.S_ISDIR(mode):
            digest.update(f"D {rel}\n".encode())
        elif stat.S_ISREG(mode):
            digest.update(f"F {rel} {int(bool(mode & 0o111))} {path.stat().st_size}\n".encode())
            _hash_file_into(digest, path)
    return digest.hexdigest()


def assignment_version(assignment: Assignment) -> str:
    """Content hash of what decides an assignment's grade: its spec, its modules and its data.

    Not its README, reference, stub, cases or tools: editing a case's expectation must not make a
    worker refuse the jobs of a batch (or of ``grader validate``) that is running.
    """
    digest = hashlib.sha256()
    for path in sorted(assignment.folder.rglob("*")):
        rel = path.relative_to(assignment.folder)
        top_level = len(rel.parts) == 1 and (path.suffix == ".py" or path.name == "spec.toml")
        if not path.is_file() or not (top_level or rel.parts[0] == "data"):
            continue
        digest.update(f"{rel.as_posix()}\n".encode())
        _hash_file_into(digest, path)
    return digest.hexdigest()[:16]


def derive_seed(course_seed: int, student_id: str) -> int:
    """The student's parameter seed: a stable function of the course seed and their id."""
    digest = hashlib.sha256(f"grader-batch:{course_seed}:{student_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 1_000_000


def pack_tree(root: Path) -> bytes:
    """The folder as an uncompressed tar (relative names, no owners), for a job that travels."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path in sorted(root.rglob("*")):
            info = tar.gettarinfo(str(path), arcname=path.relative_to(root).as_posix())
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if info.isfile():
                with path.open("rb") as f:
                    tar.addfile(info, f)
            else:
                tar.addfile(info)
    return buf.getvalue()


def _unpack(data: bytes, target: Path) -> None:
    from grader.batch.safety import safe_extract_tar

    safe_extract_tar(io.BytesIO(data), target)


def _tail(path: Path) -> bytes:
    size = path.stat().st_size
    with path.open("rb") as f:
        f.seek(max(0, size - LOG_CAP_BYTES))
        return f.read()


def _refusal(job: GradeJob, assignments: list[Assignment]) -> str:
    """Why this worker must not grade ``job`` (other grader or assignment versions), or ``""``."""
    if job.grader_version != grader.__version__:
        return (
            f"this worker runs grader {grader.__version__} but the job was made by grader "
            f"{job.grader_version}; install the same version on every worker"
        )
    mine = {a.id: assignment_version(a) for a in assignments}
    differing = sorted(i for i in job.assignments if mine.get(i) != job.versions.get(i))
    if differing:
        return (
            f"this worker's assignments {', '.join(differing)} differ from the client's "
            "(other checks or specs); update the course checkout on every worker"
        )
    return ""


def run_job(job: GradeJob) -> JobResult:
    """Grade one job exactly as ``grader check`` would and return the results and the report bytes.

    Never raises for a grading problem: the runner turns sandbox and check failures into grader
    errors inside the result. Exceptions escaping here are the executor's to report as ``crashed``.
    """
    from grader.report import REPORT_FILES, render_all
    from grader.runner import grade_submission
    from grader.sandbox import factory

    began = time.monotonic()
    worker = f"{os.uname().nodename}:{os.getpid()}"
    assignments = select(job.assignments)
    refusal = _refusal(job, assignments)
    if refusal:
        return JobResult(key=job.key, status=JobStatus.REFUSED, message=refusal, worker=worker)
    with tempfile.TemporaryDirectory(prefix="grader-job-") as tmp:
        if job.submission_tar is not None:
            submission = Path(tmp) / job.key
            submission.mkdir()
            _unpack(job.submission_tar, submission)
        elif job.submission_path is not None:
            submission = Path(job.submission_path)
        else:
            raise ValueError(f"job {job.key!r} carries no submission")
        logs = Path(tmp) / "logs"
        result = grade_submission(
            submission,
            assignments,
            seed=job.seed,
            sandbox_factory=factory(job.sandbox, warn=False),
            logs_dir=logs,
        )
        result.submission = job.key
        files = {REPORT_FILES[kind].as_posix(): data for kind, data in render_all(result).items()}
        if logs.is_dir():
            for log in sorted(logs.glob("*")):
                if log.is_file():
                    files[f"logs/{log.name}"] = _tail(log)
    return JobResult(
        key=job.key,
        status=JobStatus.GRADED,
        result=result,
        files=files,
        duration_s=round(time.monotonic() - began, 3),
        worker=worker,
    )
