"""Grade a whole class: intake -> roster -> jobs (skipping what is done) -> executor -> outputs.

Everything goes under ``--out``: one folder per student (reports + ``batch.json``), the class files
(``gradebook.csv``, ``summary.json``, ``junit.xml``, ``index.html``) and ``.work/`` (extracted
archives and the workers' temp files; emptied at every start, so a hard kill leaves nothing that
matters). A student's files are written before their ``batch.json``, which is removed first when
they are regraded: a student is done exactly when ``batch.json`` exists with the fingerprint of
their submission content, the assignment versions, their seed and the grader version.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import shutil
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grader
from grader.batch.executor import Executor, Finished, LocalExecutor, Started, default_jobs
from grader.batch.intake import IntakeStatus, Submission, assign_keys, collect, safe_key
from grader.batch.jobs import GradeJob, JobResult, JobStatus, assignment_version, derive_seed, tree_hash
from grader.batch.outputs import write_class_outputs
from grader.batch.progress import PlainProgress, Progress
from grader.batch.records import (
    RECORD_FILE,
    Grading,
    StudentRecord,
    load_record,
    load_result,
    record_for_result,
    save_record,
)
from grader.batch.roster import join, load_roster
from grader.registry import Assignment, select
from grader.report import write_atomic
from grader.results import SubmissionResult

STATE_FILE = "batch-state.json"
WORK_DIR = ".work"
WRITE_EVERY_S = 5.0
"""The class files are rewritten at most this often while grading (and always at the end)."""


@dataclass
class BatchOptions:
    """What ``grader batch`` was asked to do."""

    source: Path
    out: Path
    assignment_ids: list[str] | None = None
    roster: Path | None = None
    jobs: int | None = None
    """Sandboxes at once; None sizes the pool from the machine (see ``default_jobs``)."""
    sandbox: str = "auto"
    resume: bool = False
    rerun_errors: bool = False
    """Resume, and also regrade students whose last grading was a grader error, time-out or crash."""
    course_seed: int | None = None
    """None: the one recorded in ``--out`` by an earlier run, else a new random one (recorded)."""
    deadline: datetime | None = None
    timeout_s: float | None = None
    """Wall-clock limit per submission; None derives it from the assignments' time limits."""
    layout: str = "auto"


@dataclass
class BatchOutcome:
    """What a batch did."""

    records: list[StudentRecord]
    paths: dict[str, Path]
    graded: int = 0
    """Students graded in this run."""
    kept: int = 0
    """Students whose earlier result was kept (``--resume``)."""
    course_seed: int = 0
    layout: str = ""
    counts: dict[str, int] = field(default_factory=dict)


def default_timeout(assignments: list[Assignment]) -> float:
    """Per-submission limit: three runs' worth of every assignment's time limit plus start-up slack."""
    return 120.0 + sum(3 * a.spec.limits.run_seconds for a in assignments)


def fingerprint(tree: str, versions: dict[str, str], seed: int) -> str:
    """What decides whether a saved result is still valid for a student."""
    blob = json.dumps(
        {"tree": tree, "versions": versions, "seed": seed, "grader": grader.__version__}, sort_keys=True
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def _course_seed(out: Path, wanted: int | None) -> int:
    state = out / STATE_FILE
    saved: int | None = None
    try:
        saved = int(json.loads(state.read_text("utf-8"))["course_seed"])
    except (OSError, ValueError, KeyError, TypeError):
        saved = None
    seed = wanted if wanted is not None else saved if saved is not None else secrets.randbelow(1_000_000)
    if seed != saved:
        write_atomic(state, json.dumps({"course_seed": seed}, indent=2).encode() + b"\n")
    return seed


def _base_record(sub: Submission) -> StudentRecord:
    return StudentRecord(
        key=sub.key,
        student_id=sub.student_id,
        name=sub.name,
        email=sub.email,
        login=sub.login,
        source=sub.source,
        status=Grading.FAILED,
        note=sub.note,
    )


def _clear_student(out: Path, key: str) -> None:
    """Forget a student's earlier outcome: the record first (so a kill now means "not done")."""
    folder = out / key
    (folder / RECORD_FILE).unlink(missing_ok=True)
    if folder.is_dir():
        for child in folder.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)


def _store(
    out: Path, base: StudentRecord, outcome: JobResult, assignments: list[Assignment]
) -> StudentRecord:
    """Write a finished job's files, then its record; returns the record."""
    _clear_student(out, base.key)
    max_points = {a.id: a.spec.points for a in assignments}
    if outcome.status is JobStatus.GRADED and outcome.result is not None:
        for rel, data in outcome.files.items():
            target = (out / base.key / rel).resolve()
            if (out / base.key).resolve() not in target.parents:
                continue  # file names come from our own reports; never write outside the folder anyway
            write_atomic(target, data)
        record = record_for_result(base, outcome.result)
        record.report = f"{base.key}/report.html"
    else:
        status = {JobStatus.TIMEOUT: Grading.TIMEOUT, JobStatus.CRASHED: Grading.CRASHED}.get(
            outcome.status, Grading.ERROR
        )
        note = outcome.message.strip() or outcome.status.value
        record = base.model_copy(
            update={
                "status": status,
                "note": "; ".join(n for n in (base.note, note) if n),
                "points": {a: None for a in max_points},
                "max_points": max_points,
            }
        )
    record.duration_s = outcome.duration_s
    record.worker = outcome.worker
    record.graded_at = datetime.now(UTC)
    save_record(out, record)
    return record


def _intake_record(sub: Submission, assignments: list[Assignment]) -> StudentRecord:
    """The row of a submission that cannot be graded: zero points, the reason in the note."""
    status = {
        IntakeStatus.EMPTY: Grading.EMPTY,
        IntakeStatus.UNRECOGNISED: Grading.UNRECOGNISED,
        IntakeStatus.REFUSED: Grading.REFUSED,
    }[sub.status]
    return _base_record(sub).model_copy(
        update={
            "status": status,
            "points": {a.id: 0.0 for a in assignments},
            "max_points": {a.id: a.spec.points for a in assignments},
        }
    )


def run_batch(
    opts: BatchOptions,
    *,
    executor: Executor | None = None,
    progress: Progress | None = None,
) -> BatchOutcome:
    """Grade every submission in ``opts.source`` into ``opts.out``; see the module docstring."""
    from grader.sandbox import resolve_kind

    began = time.monotonic()
    assignments = select(opts.assignment_ids)
    ids = [a.id for a in assignments]
    versions = {a.id: assignment_version(a) for a in assignments}
    out = opts.out
    out.mkdir(parents=True, exist_ok=True)
    work = out / WORK_DIR
    shutil.rmtree(work / "jobs", ignore_errors=True)  # leftovers of a batch that was killed
    course_seed = _course_seed(out, opts.course_seed)
    sandbox = resolve_kind(opts.sandbox)
    layout, subs = collect(opts.source, work / "intake", ids, layout=opts.layout, deadline=opts.deadline)
    missing: list[StudentRecord] = []
    if opts.roster is not None:
        subs, absent = join(subs, load_roster(opts.roster))
        assign_keys(subs)
        missing = [
            StudentRecord(key=safe_key(s.id), student_id=s.id, name=s.name, email=s.email, login=s.login,
                          status=Grading.MISSING, note="no submission found")
            for s in absent
        ]  # fmt: skip
    records: dict[str, StudentRecord] = {}
    results: dict[str, SubmissionResult] = {}
    pending: list[tuple[GradeJob, StudentRecord]] = []
    timeout = opts.timeout_s or default_timeout(assignments)
    resume = opts.resume or opts.rerun_errors
    kept = 0
    for sub in subs:
        if sub.status is not IntakeStatus.OK or sub.root is None:
            record = _intake_record(sub, assignments)
            _clear_student(out, sub.key)
            save_record(out, record)
            records[sub.key] = record
            continue
        seed = derive_seed(course_seed, sub.student_id)
        base = _base_record(sub).model_copy(
            update={"seed": seed, "fingerprint": fingerprint(tree_hash(sub.root), versions, seed)}
        )
        saved = load_record(out, sub.key) if resume else None
        saved_result = load_result(out, sub.key) if saved is not None else None
        if (
            saved is not None
            and saved.fingerprint == base.fingerprint
            and not (opts.rerun_errors and saved.status.grader_side)
            and (saved_result is not None or saved.status.grader_side)
        ):
            records[sub.key] = saved.model_copy(
                update={"name": base.name, "email": base.email, "login": base.login, "note": saved.note}
            )
            if saved_result is not None:
                results[sub.key] = saved_result
            kept += 1
            continue
        job = GradeJob(
            key=sub.key, submission_path=str(sub.root), assignments=ids, versions=versions, seed=seed,
            sandbox=sandbox, timeout_s=timeout,
        )  # fmt: skip
        pending.append((job, base))
    slots = opts.jobs or default_jobs(with_spark="stateful-wordcount" in ids)
    executor = executor or LocalExecutor(min(slots, max(1, len(pending))), work / "jobs")
    progress = progress or PlainProgress()
    meta: dict[str, Any] = {
        "course_seed": course_seed,
        "grader_version": grader.__version__,
        "assignments": versions,
        "sandbox": sandbox,
        "layout": layout,
        "source": str(opts.source),
        "slots": executor.slots,
    }

    def write_outputs() -> dict[str, Path]:
        meta["duration_s"] = round(time.monotonic() - began, 1)
        return write_class_outputs(out, [*records.values(), *missing], results, ids, meta)

    bases = {job.key: base for job, base in pending}
    graded = 0
    last_write = 0.0
    progress.begin(len(pending), kept, executor.slots)
    events = executor.run([job for job, _ in pending])
    try:
        for event in events:
            if isinstance(event, Started):
                progress.started(event.job.key)
            elif isinstance(event, Finished):
                record = _store(out, bases[event.job.key], event.result, assignments)
                records[record.key] = record
                if event.result.result is not None:
                    results[record.key] = event.result.result
                graded += 1
                progress.finished(record)
                if time.monotonic() - last_write > WRITE_EVERY_S:
                    write_outputs()
                    last_write = time.monotonic()
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()
        progress.end()
        paths = write_outputs()
        # Extracted archives and worker temp files: nothing in them is needed once the batch is over.
        shutil.rmtree(work, ignore_errors=True)
    all_records = [*records.values(), *missing]
    return BatchOutcome(
        records=sorted(all_records, key=lambda r: (r.student_id.lower(), r.key)),
        paths=paths,
        graded=graded,
        kept=kept,
        course_seed=course_seed,
        layout=layout,
        counts={g.value: sum(r.status is g for r in all_records) for g in Grading},
    )
