"""Grade one submission: one fresh sandbox, then each assignment's prepare -> act -> checks."""

from __future__ import annotations

import re
import threading
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import grader
from grader.checks import RUN, STUDENT_SECONDS, TIMINGS, Check, CheckContext, CheckFailed
from grader.kafka_util import KafkaView
from grader.registry import Assignment
from grader.results import AssignmentResult, CheckResult, Note, Status, SubmissionResult
from grader.sandbox.base import Sandbox, SandboxFactory
from grader.state import StateKey
from grader.submission_files import Inventory, SubmissionRefused, inspect

_DOWN_BEFORE_STUDENT = StateKey[dict[int, str]]("brokers_down_before_student")
# A broker whose log ends in one of these died by itself (the grader's problem); one whose log just
# stops, or ends with the signal it received, was stopped from outside: by student code, since the
# grader never stops its brokers while it grades.
_DAMAGE_SEE_FIRST = "not checked because your script damaged the grader's cluster (see the first check)"
_CRASH = re.compile(r"OutOfMemoryError|FATAL|Fatal error|Halting|Exiting Kafka due to fatal")


def _default_act(ctx: CheckContext) -> None:
    ctx.state[RUN] = ctx.run_entrypoint("run")


def _cluster_damage(
    sandbox: Sandbox, ctx: CheckContext, stopped_by_student: dict[int, str], errored: bool
) -> tuple[str, str] | None:
    """(message, broker log tail) when brokers are down because of the student's code, else None.

    A broker that stopped between the start of the student's code and the end of the checks
    without a crash in its log was stopped by that code: a failed check, not a grader error. One
    that was down before the student's code ran is the grader's problem, unless student code of an
    earlier assignment of this submission stopped it (``stopped_by_student``: broker -> assignment).
    """
    try:
        down = sandbox.dead_brokers()
    except Exception:
        return None
    before = ctx.state.get(_DOWN_BEFORE_STUDENT)
    if before is not None:
        new = {b: tail for b, tail in down.items() if b not in before and not _CRASH.search(tail)}
        if new:
            for broker in new:
                stopped_by_student[broker] = ctx.spec.id
            broker, tail = min(new.items())
            last = (tail.strip().splitlines() or ["(empty)"])[-1]
            return (
                f"broker {broker} stopped while your script ran: expected every broker of the grader's "
                f"cluster to keep running; found broker(s) {', '.join(map(str, sorted(new)))} stopped with "
                f"no crash in the log (broker {broker}'s log ends with: {last[:200]}). Never stop, kill or "
                "restart brokers from your script (no kafka-server-stop, no kill/pkill of java).",
                tail,
            )
    earlier = {b: stopped_by_student[b] for b in down if b in stopped_by_student}
    if errored and earlier and len(earlier) == len(down):
        broker, assignment = min(earlier.items())
        return (
            f"not graded: broker {broker} was stopped by your script in '{assignment}', so the cluster "
            "could not grade this assignment",
            down[broker],
        )
    return None


def _first_fails(
    checks: list[Check], message: str, details: str, *, hint: str, rest: str
) -> list[CheckResult]:
    """The first check fails with ``message`` and ``hint``; the others are not checked (``rest`` says why)."""
    return [
        CheckResult(
            id=chk.id,
            title=chk.title,
            status=Status.FAILED if i == 0 else Status.SKIPPED,
            points=0.0,
            max_points=chk.points,
            message=message if i == 0 else rest,
            hint=hint if i == 0 else "",
            details=details if i == 0 else "",
            visibility=chk.visibility,
        )
        for i, chk in enumerate(checks)
    ]


def _damage_results(checks: list[Check], message: str, details: str) -> list[CheckResult]:
    """The checks of an assignment whose cluster student code damaged: the first fails, the rest are
    not checked (they would only report the damage's consequences)."""
    return _first_fails(
        checks,
        message,
        details,
        hint="Leave the grader's cluster alone: use its brokers only through your topic.",
        rest=_DAMAGE_SEE_FIRST,
    )


def _errored(assignment: Assignment, exc: BaseException) -> AssignmentResult:
    """An assignment the grader could not grade at all: a grader error with the exception, full max points."""
    return AssignmentResult(
        id=assignment.id,
        title=assignment.spec.title,
        max_points=assignment.spec.points,
        error=f"{type(exc).__name__}: {exc}",
    )


_REFUSED_SEE_FIRST = "not checked: the submission was not graded (see the first check)"


def refused_result(
    submission: Path, assignments: list[Assignment], seed: int, reason: str
) -> SubmissionResult:
    """A submission the grader will not copy or run (a file over the size limit, ...): the student's
    problem, so every assignment's first check fails with ``reason`` and no sandbox is started."""
    result = SubmissionResult(
        submission=submission.name,
        seed=seed,
        grader_version=grader.__version__,
        started_at=datetime.now(UTC),
    )
    for assignment in assignments:
        try:
            checks = assignment.checks
        except Exception as exc:  # a broken check module stays the grader's problem
            result.assignments.append(_errored(assignment, exc))
            continue
        result.assignments.append(
            AssignmentResult(
                id=assignment.id,
                title=assignment.spec.title,
                max_points=assignment.spec.points,
                params=assignment.spec.draw_params(seed),
                checks=_first_fails(
                    checks,
                    f"the submission was not graded: {reason}",
                    "",
                    hint="Hand in your scripts only (like student_template/); nothing is graded until "
                    "the submission is within the limits.",
                    rest=_REFUSED_SEE_FIRST,
                ),
            )
        )
    return result


def _left_out_notes(result: SubmissionResult, inventory: Inventory) -> None:
    """Tell each assignment which of its entries were not copied (FIFOs, sockets, devices)."""
    if not inventory.left_out or not result.assignments:
        return
    for entry in inventory.left_out:
        owner = next((a for a in result.assignments if entry.startswith(f"{a.id}/")), result.assignments[0])
        owner.notes.append(
            Note(
                text=f"{entry} was left out of the grading copy: only folders, regular files and "
                "links are graded"
            )
        )


def _run_checks(assignment: Assignment, ctx: CheckContext, result: AssignmentResult) -> None:
    outcome: dict[str, Status] = {}
    for chk in assignment.checks:
        began = time.monotonic()
        blocked = [r for r in chk.requires if outcome.get(r) is not Status.PASSED]
        if blocked:
            status, message, details = Status.SKIPPED, f"not checked because '{blocked[0]}' did not pass", ""
        else:
            try:
                chk.fn(ctx)
                status, message, details = Status.PASSED, "", ""
            except CheckFailed as failure:
                status, message, details = Status.FAILED, failure.message, failure.details
            except Exception as exc:
                status = Status.ERROR
                message = (
                    f"the grader failed while checking this ({type(exc).__name__}: {exc}); not your fault"
                )
                details = traceback.format_exc()
        outcome[chk.id] = status
        result.checks.append(
            CheckResult(
                id=chk.id,
                title=chk.title,
                status=status,
                points=chk.points if status is Status.PASSED else 0.0,
                max_points=chk.points,
                message=message,
                hint="" if status is Status.PASSED else chk.hint,
                details=details,
                duration_s=round(time.monotonic() - began, 6),
                visibility=chk.visibility,
            )
        )


def grade_assignment(
    assignment: Assignment,
    sandbox: Sandbox,
    seed: int,
    stopped_by_student: dict[int, str] | None = None,
    on_overlap: Callable[[], None] | None = None,
) -> AssignmentResult:
    """Prepare, run the student's code and run every check; grader faults become ``error``, damage
    done to the cluster by the student's code a failed check.

    ``stopped_by_student`` (broker id -> assignment id) carries such damage from one assignment of
    a submission to the next. ``on_overlap`` is called when the assignment lets others run beside
    it (see ``CheckContext.allow_overlap``).
    """
    stopped_by_student = {} if stopped_by_student is None else stopped_by_student
    began = time.monotonic()
    spec = assignment.spec
    params = spec.draw_params(seed)
    result = AssignmentResult(id=spec.id, title=spec.title, max_points=spec.points, params=params)
    kafka = KafkaView(sandbox.bootstrap_servers)
    ctx = CheckContext(spec=spec, params=params, sandbox=sandbox, kafka=kafka, on_overlap=on_overlap)
    try:
        checks = assignment.checks
        module = assignment.module
    except Exception as exc:
        result.error = f"{type(exc).__name__}: {exc}"
        kafka.close()
        return result
    try:
        entry = ctx.entrypoint()
        result.entrypoint = f"{spec.id}/{entry.path.name}" if entry else None
        prepare = getattr(module, "prepare", None)
        if prepare is not None:
            prepare(ctx)
        ctx.state[_DOWN_BEFORE_STUDENT] = sandbox.dead_brokers()
        getattr(module, "act", _default_act)(ctx)
        for t in sandbox.translations():
            if t.assignment == spec.id:
                ctx.note(t.message(), kind="seminar")
        _run_checks(assignment, ctx, result)
    except Exception as exc:
        result.error = f"{type(exc).__name__}: {exc}"
        result.checks = [
            CheckResult(
                id=c.id,
                title=c.title,
                status=Status.ERROR,
                points=0.0,
                max_points=c.points,
                message="not checked: the grader failed before this check (see the error above); "
                "not your fault",
                details=traceback.format_exc(),
                visibility=c.visibility,
            )
            for c in checks
        ]
    finally:
        kafka.close()
    damage = _cluster_damage(sandbox, ctx, stopped_by_student, errored=result.has_error)
    if damage is not None:
        result.error = None
        result.checks = _damage_results(checks, *damage)
    result.notes = ctx.notes
    result.runs = ctx.runs
    student = sum(r.duration_s for r in ctx.runs) + ctx.state.get(STUDENT_SECONDS, 0.0)
    total = time.monotonic() - began
    result.timings = {
        "student": round(student, 3),
        "grader": round(max(0.0, total - student), 3),
        "total": round(total, 3),
        **ctx.state.get(TIMINGS, {}),
    }
    return result


class _Lead(threading.Thread):
    """Grades the submission's overlapping assignment in the background; ``ready`` is set once it
    lets others run beside it (or it ended)."""

    def __init__(self, assignment: Assignment, sandbox: Sandbox, seed: int, stopped: dict[int, str]) -> None:
        super().__init__(name=f"grade-{assignment.id}", daemon=True)
        self.assignment, self.sandbox, self.seed, self.stopped = assignment, sandbox, seed, stopped
        self.ready = threading.Event()
        self.result: AssignmentResult | None = None
        self.failure: BaseException | None = None

    def _overlap(self) -> None:
        self.ready.set()

    def run(self) -> None:
        try:
            self.result = grade_assignment(
                self.assignment, self.sandbox, self.seed, self.stopped, self._overlap
            )
        except BaseException as exc:  # handed to the main thread
            self.failure = exc
        finally:
            self.ready.set()


def _grade_all(
    assignments: list[Assignment], sandbox: Sandbox, seed: int, stopped: dict[int, str]
) -> dict[str, AssignmentResult]:
    """Grade ``assignments`` in ``sandbox``: one after another, except that the first whose spec says
    ``overlap = true`` goes first, and once it only waits on the student's app the others are graded
    beside it (a full submission is graded ~15 s sooner). Results by assignment id."""
    graded: dict[str, AssignmentResult] = {}
    lead_assignment = next((a for a in assignments if a.spec.overlap), None)
    if lead_assignment is None or len(assignments) == 1:
        for assignment in assignments:
            graded[assignment.id] = grade_assignment(assignment, sandbox, seed, stopped)
        return graded
    lead = _Lead(lead_assignment, sandbox, seed, stopped)
    lead.start()
    # Short waits, so that Ctrl-C reaches this thread; the caller then stops the sandbox, which
    # ends the lead's runs (its thread is a daemon and is not waited for).
    while not lead.ready.wait(0.2):
        pass
    for assignment in assignments:
        if assignment is not lead_assignment:
            graded[assignment.id] = grade_assignment(assignment, sandbox, seed, stopped)
    while lead.is_alive():
        lead.join(0.2)
    if lead.failure is not None:
        raise lead.failure
    assert lead.result is not None
    graded[lead_assignment.id] = lead.result
    return graded


def grade_submission(
    submission: Path,
    assignments: list[Assignment],
    *,
    seed: int,
    sandbox_factory: SandboxFactory,
    logs_dir: Path | None = None,
) -> SubmissionResult:
    """Grade ``submission`` on ``assignments`` in one fresh sandbox sized for the largest of them.

    A submission over the limits of :mod:`grader.submission_files` is not copied or run: its
    result fails every assignment with the reason (the student's problem, not a grader error).
    """
    began = time.monotonic()
    try:
        inventory = inspect(submission)
        refusal = inventory.refusal()
    except SubmissionRefused as exc:
        refusal = str(exc)
    if refusal:
        refused = refused_result(submission, assignments, seed, refusal)
        refused.duration_s = round(time.monotonic() - began, 3)
        return refused
    result = SubmissionResult(
        submission=submission.name,
        seed=seed,
        grader_version=grader.__version__,
        started_at=datetime.now(UTC),
    )
    brokers = max(a.spec.brokers for a in assignments)
    limits = assignments[0].spec.limits
    sandbox = sandbox_factory(submission, brokers, limits)
    stopped_by_student: dict[int, str] = {}
    cluster_seconds = 0.0
    keep_logs = False
    try:
        sandbox.start()
        cluster_seconds = sandbox.cluster_start_seconds
        result.sandbox = sandbox.name
        graded = _grade_all(assignments, sandbox, seed, stopped_by_student)
        result.assignments.extend(graded[a.id] for a in assignments)
        keep_logs = any(res.has_error for res in result.assignments)
    except Exception as exc:
        # The sandbox itself failed (e.g. the cluster did not start): every assignment is a grader error.
        done = {a.id for a in result.assignments}
        for assignment in assignments:
            if assignment.id not in done:
                result.assignments.append(_errored(assignment, exc))
        keep_logs = True
    finally:
        sandbox.stop(keep_logs_to=logs_dir if (keep_logs and logs_dir) else None)
    _left_out_notes(result, inventory)
    if keep_logs and logs_dir is not None and logs_dir.is_dir() and result.assignments:
        for log in sorted(logs_dir.glob("broker-*.log")):
            result.assignments[0].logs[log.stem] = f"{logs_dir.name}/{log.name}"
    result.duration_s = round(time.monotonic() - began, 3)
    student = sum(a.timings.get("student", 0.0) for a in result.assignments)
    result.timings = {
        "cluster_start": round(cluster_seconds, 3),
        "student": round(student, 3),
        "grader": round(max(0.0, result.duration_s - cluster_seconds - student), 3),
        "total": result.duration_s,
    }
    return result
