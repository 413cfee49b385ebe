"""Put the course policy and the TA's overrides on a grading result (the batch's and the service's last step).

:func:`apply_to_result` starts again from the autograde every time (earlier overrides and timings in
the result are dropped first), so applying it after a regrade, a ``--resume`` or a changed overrides
file always gives the same answer as applying it once to a fresh grading.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from grader.policy.durations import format_duration
from grader.policy.model import CoursePolicy
from grader.policy.overrides import OverrideRow, apply_overrides
from grader.policy.scoring import Attempt, Extension, apply_policy
from grader.results import AssignmentResult, SubmissionResult, Timing


def autograde_only(result: SubmissionResult) -> SubmissionResult:
    """``result`` without any overrides, timings or policy notes: what the checks alone gave."""
    bare = [a.model_copy(update={"overrides": [], "timing": None}) for a in result.assignments]
    return result.model_copy(update={"assignments": bare, "policy_notes": []})


def apply_to_result(
    result: SubmissionResult,
    policy: CoursePolicy | None,
    *,
    student: str,
    overrides: Sequence[OverrideRow] = (),
    extensions: Sequence[Extension] = (),
    submitted_at: datetime | None = None,
    source: str = "",
) -> SubmissionResult:
    """``result`` with ``student``'s overrides applied, then (with a ``policy``) their late penalties.

    One grading is one attempt per assignment, handed in at ``submitted_at`` (None: unknown, so never
    late). Assignments the grader could not grade keep their error and use no grace day.
    """
    base = autograde_only(result)
    mine = [o for o in overrides if o.student == student]
    adjusted: list[AssignmentResult] = [
        a.model_copy(update={"overrides": apply_overrides(a, [o for o in mine if o.assignment == a.id])})
        for a in base.assignments
    ]
    if policy is None:
        return base.model_copy(update={"assignments": adjusted})
    graded = [a for a in adjusted if not a.has_error]
    outcome = apply_policy(
        policy,
        {a.id: [Attempt(a.points, a.max_points, submitted_at, source)] for a in graded},
        student=student,
        extensions=extensions,
        max_points={a.id: a.max_points for a in graded},
    )
    final: list[AssignmentResult] = []
    for a in adjusted:
        counted = outcome.counted.get(a.id)
        if counted is None or (policy.rule(a.id).due is None and submitted_at is None):
            final.append(a)
            continue
        timing = Timing(
            submitted_at=counted.submitted_at,
            source=counted.source,
            due=counted.due,
            effective_due=counted.effective_due,
            extension=(counted.extension.comment if counted.extension is not None else None),
            grace_days=counted.grace_days,
            late_s=counted.late_s,
            credit=counted.credit,
            explanation=counted.explanation,
        )
        final.append(a.model_copy(update={"timing": timing}))
    return base.model_copy(update={"assignments": final, "policy_notes": outcome.notes})


def _pts(value: float) -> str:
    return f"{round(value, 2):g}"


def summarize(a: AssignmentResult) -> str:
    """How overrides and the policy changed an assignment's score, for the gradebook; "" when nothing did.

    E.g. ``autograde 8/10, override +2 (flaky broker; ta1), 1 grace day, 1 d 2 h late: 90 % counts = 9``.
    """
    timing = a.timing
    late = timing is not None and timing.credit < 100
    used = timing is not None and (timing.grace_days > 0 or timing.extension is not None)
    if a.has_error or not (a.overrides or late or used):
        return ""
    parts = [f"autograde {_pts(a.autograde_points)}/{_pts(a.max_points)}"]
    for o in a.overrides:
        who = f"; {o.by}" if o.by else ""
        target = f" {o.check}" if o.check else ""
        parts.append(f"override{target} {o.delta:+g} ({o.comment}{who})")
    if timing is not None and timing.extension is not None:
        parts.append(f"extension ({timing.extension})" if timing.extension else "extension")
    if timing is not None and timing.grace_days:
        parts.append(f"{timing.grace_days} grace day{'s' if timing.grace_days != 1 else ''}")
    if timing is not None and late:
        parts.append(f"{format_duration(timing.late_s or 0)} late: {timing.credit:g} % counts")
    return ", ".join(parts) + f" = {_pts(a.points)}"
