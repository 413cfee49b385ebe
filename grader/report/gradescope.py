"""Gradescope's autograder ``results.json``, built through a pydantic model of its documented format.

The format (Gradescope's "Autograder Specifications"): top-level ``score``, ``execution_time``,
``output`` (+ ``output_format``), ``test_output_format``, ``test_name_format``, ``visibility``,
``stdout_visibility``, ``extra_data`` and ``tests``; each test has ``score``, ``max_score``,
``status`` (passed/failed), ``name``, ``number``, ``output`` (+ ``output_format``), ``tags``,
``visibility`` and ``extra_data``. Every text is ``"text"`` format: student output must never be
rendered as HTML or Markdown.

A grader error (not the student's fault) must not be posted as a score. Gradescope's documented
path for an autograder that could not grade is *no valid results.json* ("The autograder failed to
execute correctly"): the submission gets no score and the course staff can re-run it. So
:func:`gradescope_results` raises :class:`AutograderFailure` instead of building a file, and the
writer leaves the results file absent, with the reason on stdout (which Gradescope keeps for staff).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from grader.report.text import cap, check_feedback, clean_output, fmt_points
from grader.results import AssignmentResult, CheckResult, Status, SubmissionResult, Visibility

GsVisibility = Literal["hidden", "after_due_date", "after_published", "visible"]
GsFormat = Literal["text", "html", "simple_format", "md", "ansi"]

OUTPUT_LIMIT = 16_000
"""Characters kept per test output (the rest is cut in the middle); Gradescope shows it in a <pre>."""


class AutograderFailure(Exception):
    """The grader could not grade this submission: Gradescope must show its autograder-failure state."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GradescopeTest(_Model):
    """One test case of Gradescope's results format."""

    score: float = Field(ge=0)
    max_score: float = Field(ge=0)
    status: Literal["passed", "failed"]
    name: str = Field(min_length=1)
    name_format: GsFormat = "text"
    number: str = Field(pattern=r"^\d+(\.\d+)*$")
    output: str = ""
    output_format: GsFormat = "text"
    tags: list[str] = Field(default_factory=list)
    visibility: GsVisibility = "visible"
    extra_data: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _score_within_max(self) -> GradescopeTest:
        if self.score > self.max_score + 1e-9:
            raise ValueError(f"test {self.name!r}: score {self.score} exceeds max_score {self.max_score}")
        return self


class GradescopeResults(_Model):
    """The whole ``results.json`` Gradescope reads from ``/autograder/results/``."""

    score: float = Field(ge=0)
    execution_time: int = Field(ge=0)
    output: str = ""
    output_format: GsFormat = "text"
    test_output_format: GsFormat = "text"
    test_name_format: GsFormat = "text"
    visibility: GsVisibility = "visible"
    stdout_visibility: GsVisibility = "hidden"
    """The autograder's stdout is for course staff (it names the grader's own diagnostics)."""
    extra_data: dict[str, Any] = Field(default_factory=dict)
    tests: list[GradescopeTest] = Field(default_factory=list)

    @model_validator(mode="after")
    def _score_is_sum(self) -> GradescopeResults:
        total = sum(t.score for t in self.tests)
        if self.tests and abs(total - self.score) > 1e-6:
            raise ValueError(f"score {self.score} is not the sum of the tests' scores ({total})")
        return self


def autograder_root() -> Path:
    """``$AUTOGRADER_ROOT`` (for tests and local dry runs) or Gradescope's ``/autograder``."""
    return Path(os.environ.get("AUTOGRADER_ROOT") or "/autograder")


def _test(number: str, assignment: AssignmentResult, check: CheckResult) -> GradescopeTest:
    return GradescopeTest(
        score=check.points,
        max_score=check.max_points,
        status="passed" if check.status is Status.PASSED else "failed",
        name=f"{assignment.title}: {check.title}",
        number=number,
        output=check_feedback(check, details=True, limit=OUTPUT_LIMIT),
        tags=[assignment.id, check.id, check.status.value],
        visibility=check.visibility.value,
        extra_data={"assignment": assignment.id, "check": check.id, "status": check.status.value},
    )


def _summary(result: SubmissionResult) -> str:
    """The text above the tests; counts only what students may see right away."""
    visible = [(a, [c for c in a.checks if c.visibility is Visibility.VISIBLE]) for a in result.assignments]
    lines = [f"{clean_output(result.submission)}: graded with seed {result.seed}."]
    if result.passed:
        lines.append("Every check passed.")
    else:
        lines.append("Some checks did not pass; each one below says what was expected and what to do.")
    for a, checks in visible:
        got = sum(c.points for c in checks)
        most = sum(c.max_points for c in checks)
        later = len(a.checks) - len(checks)
        more = f" (+ {later} check(s) shown later)" if later else ""
        lines.append(f"- {a.title}: {fmt_points(got)} / {fmt_points(most)}{more}")
        lines.extend(f"  note: {clean_output(n.text)}" for n in a.notes)
    return cap("\n".join(lines), OUTPUT_LIMIT)


def grader_error_text(result: SubmissionResult) -> str:
    """Why the grader could not grade ``result`` (for staff: Gradescope keeps the autograder's stdout)."""
    lines = ["GRADER ERROR: the grader could not grade this submission; no score was posted."]
    for a in result.assignments:
        if a.error:
            lines.append(f"- {a.id}: {a.error}")
        lines.extend(
            f"- {a.id}/{c.id}: {c.message}" for c in a.checks if c.status is Status.ERROR and not a.error
        )
    lines.append("Re-run the autograder once the cause is fixed; the student is not at fault.")
    return "\n".join(lines)


def gradescope_results(result: SubmissionResult) -> GradescopeResults:
    """The validated Gradescope results; raises :class:`AutograderFailure` on a grader error."""
    if result.has_error:
        raise AutograderFailure(grader_error_text(result))
    tests = [
        _test(f"{i}.{j}", a, c)
        for i, a in enumerate(result.assignments, start=1)
        for j, c in enumerate(a.checks, start=1)
    ]
    return GradescopeResults(
        score=round(sum(t.score for t in tests), 6),
        execution_time=round(result.duration_s or result.timings.get("total", 0.0)),
        output=_summary(result),
        extra_data={
            "submission": result.submission,
            "seed": result.seed,
            "grader_version": result.grader_version,
            "sandbox": result.sandbox,
            "params": {a.id: a.params for a in result.assignments},
            "points": result.points,
            "max_points": result.max_points,
        },
        tests=tests,
    )


def gradescope_json(result: SubmissionResult) -> bytes:
    """``results.json`` bytes for Gradescope; raises :class:`AutograderFailure` on a grader error."""
    return (gradescope_results(result).model_dump_json(indent=2) + "\n").encode("utf-8")
