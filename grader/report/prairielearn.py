"""PrairieLearn's external-grader ``results.json``, built through a pydantic model of its documented format.

PrairieLearn reads ``/grade/results/results.json``: ``gradable``, ``score`` (0..1), ``message``,
``output``, ``format_errors`` and ``tests`` (``name``, ``description``, ``points``, ``max_points``,
``message``, ``output``). A grader error is ``"gradable": false``: PrairieLearn then changes no
score and counts no attempt, which is its not-the-student's-fault path. The file must stay under
1 MB, so outputs shrink until it fits.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from grader.report.gradescope import grader_error_text
from grader.report.text import NOT_YOUR_FAULT, cap, check_feedback, fmt_points
from grader.results import AssignmentResult, CheckResult, Status, SubmissionResult, Visibility

MAX_BYTES = 1_000_000
"""PrairieLearn's limit on the results file."""
RESULTS_DIR = "/grade/results"
"""Where PrairieLearn's external grader expects ``results.json``."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PrairieLearnTest(_Model):
    """One test of PrairieLearn's grading results."""

    name: str = Field(min_length=1)
    description: str = ""
    points: float = Field(ge=0)
    max_points: float = Field(ge=0)
    message: str = ""
    output: str = ""


class PrairieLearnResults(_Model):
    """The whole ``results.json`` PrairieLearn reads from ``/grade/results/``."""

    gradable: bool
    score: float | None = Field(default=None, ge=0, le=1)
    """Fraction of full marks; required when gradable, ignored (and left out) when not."""
    message: str = ""
    output: str = ""
    format_errors: list[str] = Field(default_factory=list)
    tests: list[PrairieLearnTest] = Field(default_factory=list)

    @model_validator(mode="after")
    def _score_when_gradable(self) -> PrairieLearnResults:
        if self.gradable and self.score is None:
            raise ValueError("a gradable result needs a score")
        return self


def _test(assignment: AssignmentResult, check: CheckResult, limit: int) -> PrairieLearnTest:
    return PrairieLearnTest(
        name=f"{assignment.title}: {check.title}",
        description=f"{assignment.id}/{check.id}",
        points=check.points,
        max_points=check.max_points,
        message=check_feedback(check, limit=limit),
        output=check_feedback(check, details=True, limit=limit) if check.details else "",
    )


def _build(result: SubmissionResult, limit: int) -> PrairieLearnResults:
    if result.has_error:
        return PrairieLearnResults(
            gradable=False,
            message=f"The grader could not grade this submission, so it does not count. {NOT_YOUR_FAULT}",
            output=cap(grader_error_text(result), limit),
        )
    # PrairieLearn has no per-test visibility: results students may not see yet are left out
    # of the list (their points still count in the score, as on Gradescope).
    shown = [
        _test(a, c, limit) for a in result.assignments for c in a.checks if c.visibility is Visibility.VISIBLE
    ]
    held_back = sum(1 for a in result.assignments for c in a.checks if c.visibility is not Visibility.VISIBLE)
    score = result.points / result.max_points if result.max_points > 0 else 0.0
    message = f"{fmt_points(result.points)} / {fmt_points(result.max_points)} points (seed {result.seed})."
    if held_back:
        message += f" {held_back} more check(s) count but are not shown."
    failed = [c for a in result.assignments for c in a.checks if c.status is not Status.PASSED]
    if not failed:
        message += " Every check passed."
    return PrairieLearnResults(gradable=True, score=min(1.0, max(0.0, score)), message=message, tests=shown)


def prairielearn_results(result: SubmissionResult) -> PrairieLearnResults:
    """The validated PrairieLearn results for ``result``, shrunk until the file is under 1 MB."""
    for limit in (16_000, 4_000, 1_000, 200):
        model = _build(result, limit)
        if len(prairielearn_bytes(model)) < MAX_BYTES:
            return model
    raise ValueError("PrairieLearn results stay above 1 MB even with 200 characters per test")


def prairielearn_bytes(model: PrairieLearnResults) -> bytes:
    """The file's bytes (``score`` left out when not gradable, as PrairieLearn ignores it then)."""
    return (model.model_dump_json(indent=2, exclude_none=True) + "\n").encode("utf-8")


def prairielearn_json(result: SubmissionResult) -> bytes:
    """``results.json`` bytes for PrairieLearn's external grader (validated, under 1 MB)."""
    return prairielearn_bytes(prairielearn_results(result))
