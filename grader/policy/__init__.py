"""Course policy: ``course.toml`` (deadlines, late penalties, grace days, attempts, service limits) and
the pure functions that turn a student's attempts into the score that counts.

``grader batch`` and ``grader serve`` both read the policy through this module, so they can never
disagree. The public front:

- :class:`CoursePolicy` (with :class:`CourseInfo`, :class:`ServiceLimits`, :class:`AssignmentPolicy`,
  :class:`LatePenalty`) and :func:`load_policy` (a usage error names the file, the line and the fix);
- :class:`Attempt`, :class:`Extension` in; :class:`Counted`, :class:`StudentOutcome` out;
- :func:`final_score` (one assignment), :func:`apply_policy` (a student, grace days placed where they
  save the most points), :func:`credit_for` (the credit left after some lateness).
"""

from grader.policy.durations import format_duration, parse_duration
from grader.policy.load import load_policy
from grader.policy.model import (
    AssignmentPolicy,
    CopySettings,
    CourseInfo,
    CoursePolicy,
    CreditStep,
    ExportSettings,
    LatePenalty,
    ServiceLimits,
)
from grader.policy.scoring import (
    Attempt,
    Counted,
    Extension,
    StudentOutcome,
    apply_policy,
    credit_for,
    extension_for,
    final_score,
    show_time,
)

__all__ = [
    "AssignmentPolicy",
    "Attempt",
    "CopySettings",
    "Counted",
    "CourseInfo",
    "CoursePolicy",
    "CreditStep",
    "ExportSettings",
    "Extension",
    "LatePenalty",
    "ServiceLimits",
    "StudentOutcome",
    "apply_policy",
    "credit_for",
    "extension_for",
    "final_score",
    "format_duration",
    "load_policy",
    "parse_duration",
    "show_time",
]
