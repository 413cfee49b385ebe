"""GitHub Classroom: the autograding reporter's runner-results JSON, and a Markdown job summary.

GitHub Classroom's ``autograding-grading-reporter`` action reads, per runner, base64-encoded JSON
from ``<RUNNER>_RESULTS`` (``version``, ``status`` pass/fail/error, ``max_score``, ``tests`` with
``name``, ``status``, ``score``, ``message``), prints it, and records "Points X/Y" on the workflow's
"Autograding Tests" check run, which Classroom reads as the grade. A grader error is ``status:
"error"`` with ``max_score`` 0: the reporter then records no points (never a silent zero) and fails
the job with "Some tests errored".
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from grader.report.text import NOT_YOUR_FAULT, cap, check_feedback, clean_output, fmt_points
from grader.results import AssignmentResult, CheckResult, Status, SubmissionResult, Visibility


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClassroomTest(_Model):
    """One test as the reporter prints it."""

    name: str
    status: Literal["pass", "fail", "error"]
    score: float = Field(ge=0)
    message: str = ""
    test_code: str = ""
    filename: str = ""
    line_no: int = 0
    execution_time: str = ""


class ClassroomRunner(_Model):
    """One runner's results, the JSON an autograding grader action outputs (before base64)."""

    version: Literal[1] = 1
    status: Literal["pass", "fail", "error"]
    max_score: float = Field(ge=0)
    tests: list[ClassroomTest] = Field(default_factory=list)


def _name(assignment: AssignmentResult, check: CheckResult) -> str:
    if check.visibility is not Visibility.VISIBLE:
        return f"{assignment.title}: a check shown later"
    return f"{assignment.title}: {check.title}"


def classroom_runner(result: SubmissionResult) -> ClassroomRunner:
    """The reporter's runner results for ``result``."""
    if result.has_error:
        return ClassroomRunner(
            status="error",
            max_score=0,
            tests=[
                ClassroomTest(
                    name="grader",
                    status="error",
                    score=0,
                    message="The grader could not grade this push, so no points are recorded. "
                    + NOT_YOUR_FAULT,
                )
            ],
        )
    tests = [
        ClassroomTest(
            name=_name(a, c),
            status="pass" if c.status is Status.PASSED else "fail",
            score=c.points,
            message="" if c.visibility is not Visibility.VISIBLE else check_feedback(c, limit=2000),
            filename=a.entrypoint or "",
            execution_time=f"{c.duration_s:.2f}s",
        )
        for a in result.assignments
        for c in a.checks
    ]
    return ClassroomRunner(
        status="pass" if result.passed else "fail", max_score=result.max_points, tests=tests
    )


def classroom_json(result: SubmissionResult) -> bytes:
    """The runner results as JSON bytes (the workflow base64-encodes them for the reporter)."""
    return (classroom_runner(result).model_dump_json() + "\n").encode("utf-8")


def _code(text: str) -> str:
    """``text`` as a fenced block that nothing inside can close (student output is never Markdown)."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def _inline(text: str) -> str:
    """One line of plain text, Markdown and HTML specials escaped."""
    flat = " ".join(clean_output(text).split())
    return re.sub(r"([\\`*_{}\[\]()#+!|<>~])", r"\\\1", flat)


def classroom_summary(result: SubmissionResult) -> str:
    """A Markdown summary for the job summary page: the score, then every failed check and its hint."""
    lines = [f"## Grading: {fmt_points(result.points)} / {fmt_points(result.max_points)} points", ""]
    if result.has_error:
        lines += [f"**Grader error**: some checks could not be graded. {NOT_YOUR_FAULT}", ""]
    elif result.passed:
        lines += ["Every check passed.", ""]
    lines += ["| assignment | points | outcome |", "|---|---|---|"]
    for a in result.assignments:
        lines.append(
            f"| {_inline(a.title)} | {fmt_points(a.points)} / {fmt_points(a.max_points)} | {a.outcome} |"
        )
    for a in result.assignments:
        shown = [c for c in a.checks if c.status is not Status.PASSED and c.visibility is Visibility.VISIBLE]
        if not shown and not a.error:
            continue
        lines += ["", f"### {_inline(a.title)}"]
        if a.error:
            lines += ["", f"**Grader error** (not your fault): {_inline(a.error)}"]
        for c in shown:
            label = {Status.FAILED: "Failed", Status.SKIPPED: "Skipped", Status.ERROR: "Grader error"}[
                c.status
            ]
            lines += ["", f"- **{label}**: {_inline(c.title)} ({fmt_points(c.max_points)} points)", ""]
            lines.append(_code(cap(check_feedback(c), 2000)))
        for n in a.notes:
            lines += ["", f"> note: {_inline(n.text)}"]
    lines += ["", f"Seed {result.seed}: `grader check . --seed {result.seed}` repeats this run.", ""]
    return "\n".join(lines)


def summary_md(result: SubmissionResult) -> bytes:
    """The Markdown job summary as UTF-8 bytes."""
    return classroom_summary(result).encode("utf-8")
