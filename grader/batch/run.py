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
from grader.batch.course import CourseFiles, class_members, load_course_files, report_files
from grader.batch.executor import Executor, Finished, LocalExecutor, Started, default_jobs
from grader.batch.exports import check_exports, write_exports
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
from grader.policy import CopySettings, load_policy
from grader.registry import Assignment, discover, select
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
    policy: Path | None = None
    """``course.toml``: due dates, late penalties, grace days, the course seed (see :mod:`grader.policy`)."""
    overrides: Path | None = None
    """``overrides.csv`` / ``.toml``: the TA's changes, applied after every grading and resume."""
    extensions: Path | None = None
    """``extensions.csv``: per-student due dates."""
    exports: list[str] = field(default_factory=list)
    """LMS files to write besides gradebook.csv: ``moodle`` (worksheet + feedback zip), ``canvas``."""


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
        lms_id=sub.lms_id,
        submitted_at=sub.submitted_at,
        time_source=sub.time_source,
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
    out: Path, base: StudentRecord, outcome: JobResult, assignments: list[Assignment], course: CourseFiles
) -> tuple[StudentRecord, SubmissionResult | None]:
    """Write a finished job's files (the course's overrides and policy applied), then its record."""
    _clear_student(out, base.key)
    max_points = {a.id: a.spec.points for a in assignments}
    result = outcome.result
    if outcome.status is JobStatus.GRADED and result is not None:
        files = dict(outcome.files)
        applied = course.apply(base, result)
        if applied is not result:
            files.update(report_files(applied))
            result = applied
        for rel, data in files.items():
            target = (out / base.key / rel).resolve()
            if (out / base.key).resolve() not in target.parents:
                continue  # file names come from our own reports; never write outside the folder anyway
            write_atomic(target, data)
        record = record_for_result(base, result)
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
    return record, result


def _reapply(
    out: Path, saved: StudentRecord, base: StudentRecord, result: SubmissionResult, course: CourseFiles
) -> tuple[StudentRecord, SubmissionResult]:
    """A kept student with today's overrides and policy: reports and record rewritten only if they change."""
    applied = course.apply(base, result) if course.active else result
    # Without any course files a kept result may still carry overrides from an earlier run: drop them.
    if not course.active and any(a.overrides or a.timing for a in result.assignments):
        from grader.policy.apply import autograde_only

        applied = autograde_only(result)
    record = saved.model_copy(
        update={
            k: getattr(base, k) for k in ("name", "email", "login", "lms_id", "submitted_at", "time_source")
        }
    )
    if applied.model_dump(mode="json") == result.model_dump(mode="json"):
        return record, result
    (out / base.key / RECORD_FILE).unlink(missing_ok=True)  # not done until the new reports are in place
    for rel, data in report_files(applied).items():
        write_atomic(out / base.key / rel, data)
    record = record_for_result(record, applied)
    save_record(out, record)
    return record, applied


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


def _copy_evidence(
    subs: list[Submission],
    records: dict[str, StudentRecord],
    assignments: list[Assignment],
    settings: CopySettings | None,
    opts: BatchOptions,
) -> dict[str, Any]:
    """Copy evidence over the gradable submissions (``summary.json``'s ``copies``); never a penalty."""
    from grader.policy.copies import Candidate, find_copies

    settings = settings or CopySettings()
    if not settings.enabled:
        return {"enabled": False}
    candidates = [
        Candidate(sub.key, sub.student_id, record.seed, sub.root)
        for sub in subs
        if sub.root is not None and (record := records.get(sub.key)) is not None and record.seed is not None
    ]
    base = opts.policy.parent if opts.policy is not None else Path.cwd()
    try:
        return find_copies(candidates, assignments, settings, base=base).model_dump(mode="json")
    except Exception as exc:  # evidence is an aid for the TA: its failure must not cost the class its grades
        return {"enabled": True, "error": f"copy evidence could not be computed: {exc!r}"}


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
    everything = discover()
    ids = [a.id for a in assignments]
    versions = {a.id: assignment_version(a) for a in assignments}
    policy = load_policy(opts.policy, known_assignments=[a.id for a in everything]) if opts.policy else None
    out = opts.out
    out.mkdir(parents=True, exist_ok=True)
    work = out / WORK_DIR
    shutil.rmtree(work / "jobs", ignore_errors=True)  # leftovers of a batch that was killed
    wanted_seed = opts.course_seed if opts.course_seed is not None else policy.course.seed if policy else None
    course_seed = _course_seed(out, wanted_seed)
    sandbox = resolve_kind(opts.sandbox)
    layout, subs = collect(
        opts.source, work / "intake", ids, layout=opts.layout, deadline=opts.deadline,
        tz=policy.tz if policy else UTC,
    )  # fmt: skip
    check_exports(opts.exports, layout)
    missing: list[StudentRecord] = []
    roster = load_roster(opts.roster) if opts.roster is not None else []
    if opts.roster is not None:
        subs, absent = join(subs, roster)
        assign_keys(subs)
        missing = [
            StudentRecord(key=safe_key(s.id), student_id=s.id, name=s.name, email=s.email, login=s.login,
                          status=Grading.MISSING, note="no submission found")
            for s in absent
        ]  # fmt: skip
    # Every name in the course's files is checked against this class now, before anything is graded.
    course = load_course_files(
        policy, opts.overrides, opts.extensions, (opts.roster, roster) if opts.roster else None,
        class_members(subs, roster), everything,
    )  # fmt: skip
    records: dict[str, StudentRecord] = {}
    results: dict[str, SubmissionResult] = {}
    pending: list[tuple[GradeJob, StudentRecord]] = []
    timeout = opts.timeout_s or default_timeout(assignments)
    resume = opts.resume or opts.rerun_errors
    kept = 0
    for sub in subs:
        if sub.status is not IntakeStatus.OK or sub.root is None:
            record = _intake_record(sub, assignments)
            if course.overrides_of(sub.student_id):
                record.note += "; an override waits: it applies once a submission is graded"
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
            if saved_result is not None:
                records[sub.key], results[sub.key] = _reapply(out, saved, base, saved_result, course)
            else:
                records[sub.key] = saved.model_copy(
                    update={"name": base.name, "email": base.email, "login": base.login}
                )
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
    finished = False
    progress.begin(len(pending), kept, executor.slots)
    events = executor.run([job for job, _ in pending])
    try:
        for event in events:
            if isinstance(event, Started):
                progress.started(event.job.key)
            elif isinstance(event, Finished):
                record, result = _store(out, bases[event.job.key], event.result, assignments, course)
                records[record.key] = record
                if result is not None:
                    results[record.key] = result
                graded += 1
                progress.finished(record)
                if time.monotonic() - last_write > WRITE_EVERY_S:
                    write_outputs()
                    last_write = time.monotonic()
        finished = True
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()
        progress.end()
        if finished:
            # The submissions are still extracted under .work/: the last moment to compare them.
            meta["copies"] = _copy_evidence(
                subs, records, assignments, policy.copies if policy else None, opts
            )
        paths = write_outputs()
        # Extracted archives and worker temp files: nothing in them is needed once the batch is over.
        shutil.rmtree(work, ignore_errors=True)
    all_records = [*records.values(), *missing]
    paths.update(write_exports(out, opts.exports, all_records, results, assignments, policy))
    return BatchOutcome(
        records=sorted(all_records, key=lambda r: (r.student_id.lower(), r.key)),
        paths=paths,
        graded=graded,
        kept=kept,
        course_seed=course_seed,
        layout=layout,
        counts={g.value: sum(r.status is g for r in all_records) for g in Grading},
    )
