"""The score that counts: late penalties, extensions, grace days shared between assignments, last or best.

Pure functions of their arguments (no clock, no files), so ``grader batch`` and ``grader serve`` compute
the same number from the same attempts and can never disagree:

- :func:`credit_for`: the percent of the points a submission that is ``late_s`` seconds late keeps;
- :func:`final_score`: one assignment's counted score from its attempts, given an extension and a number
  of grace days it may use;
- :func:`apply_policy`: a student's counted scores over all assignments, with their grace days placed
  where they save the most points.

An extension moves the student's due date (timeline steps move with it) and never costs grace days;
grace days are whole days, spent only on lateness that is left after the extension. A submission whose
time is unknown is never late: it is shown as unknown, and no penalty is made up.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo

from grader.policy.durations import format_duration
from grader.policy.model import DAY_S, AssignmentPolicy, CoursePolicy

_EPS = 1e-9


@dataclass(frozen=True)
class Attempt:
    """One graded attempt at an assignment: its points (TA overrides included) and when it came in."""

    points: float
    max_points: float
    submitted_at: datetime | None = None
    """An aware datetime; None when the intake could not know it (then it is never late)."""
    source: str = ""
    """Where the time came from, e.g. ``upload``, ``Moodle file time``, ``commit 3f2a1b0c9d``."""
    label: str = ""
    """How to name it to the student, e.g. ``attempt 3`` (default: its position)."""


@dataclass(frozen=True)
class Extension:
    """A student's personal due date for one assignment (or all of them); it never costs grace days."""

    student: str
    due: datetime
    """Aware datetime: the student's due date."""
    assignment: str | None = None
    """None: every assignment."""
    comment: str = ""
    origin: str = ""
    """Where it was written, e.g. ``extensions.csv:4``."""


@dataclass(frozen=True)
class Counted:
    """One assignment's counted score and the reasons, for the gradebook and the student's report."""

    assignment: str
    points: float | None
    """The points that count; None when there is no attempt."""
    max_points: float
    raw_points: float | None = None
    """The counted attempt's points before the late penalty."""
    credit: float = 100.0
    """Percent of ``raw_points`` that counts."""
    attempt: int | None = None
    """Index of the counted attempt in the attempts given."""
    attempts: int = 0
    submitted_at: datetime | None = None
    source: str = ""
    due: datetime | None = None
    """The course's due date for this assignment."""
    effective_due: datetime | None = None
    """The student's due date: the extension's if any, plus the grace days used."""
    extension: Extension | None = None
    grace_days: int = 0
    """Grace days this assignment uses (the fewest that give its score)."""
    late_s: float | None = None
    """How late the counted attempt is after the extension and grace days (0 when on time; None: unknown)."""
    late_s_before_grace: float | None = None
    ignored: int = 0
    """Attempts past ``max_attempts``: shown, never counted."""
    explanation: str = ""


@dataclass(frozen=True)
class StudentOutcome:
    """A student's counted scores over all assignments and their grace days."""

    counted: dict[str, Counted]
    grace_days: int
    """The student's pool of grace days."""
    notes: list[str] = field(default_factory=list)

    @property
    def grace_days_used(self) -> int:
        """Grace days spent over all assignments."""
        return sum(c.grace_days for c in self.counted.values())

    @property
    def grace_days_left(self) -> int:
        """Grace days still available."""
        return self.grace_days - self.grace_days_used


def credit_for(rule: AssignmentPolicy, late_s: float) -> float:
    """Percent of the points that count for a submission ``late_s`` seconds after its (effective) due date."""
    if late_s <= 0 or rule.late is None:
        return 100.0
    late = rule.late
    if late.timeline is not None:
        for until, credit in rule.credit_steps():
            if late_s <= until:
                return credit
        return 0.0
    if late.no_credit_after is not None and late_s > late.no_credit_after:
        return 0.0
    assert late.percent is not None  # the model requires it for per-period penalties
    periods = math.ceil(late_s / (DAY_S if late.per == "day" else 3600.0) - _EPS)
    return max(0.0, 100.0 - min(late.max_percent, periods * late.percent))


def show_time(when: datetime, tz: tzinfo) -> str:
    """A time as the course reads it: ``2026-12-01 23:59 MSK``."""
    return when.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z").strip()


def _pts(value: float) -> str:
    return f"{round(value, 2):g}"


def _days(n: int) -> str:
    return f"{n} grace day{'s' if n != 1 else ''}"


def _student_due(rule: AssignmentPolicy, extension: Extension | None) -> datetime | None:
    if rule.due is None:
        return None
    if extension is None:
        return rule.due
    # An extension only ever moves the date later: an earlier one must not make anyone late.
    return max(rule.due, extension.due)


def _evaluate(
    attempts: Sequence[Attempt], rule: AssignmentPolicy, due: datetime | None, grace_days: int
) -> tuple[int, list[float], list[float | None], list[float]]:
    """(chosen index, scores, lateness, credits) of the counting attempts with ``grace_days`` spent."""
    effective = due + timedelta(days=grace_days) if due is not None else None
    scores: list[float] = []
    lateness: list[float | None] = []
    credits: list[float] = []
    for a in attempts:
        late = (a.submitted_at - effective).total_seconds() if a.submitted_at and effective else None
        credit = credit_for(rule, late) if late is not None else 100.0
        lateness.append(late)
        credits.append(credit)
        scores.append(round(a.points * credit / 100.0, 4))
    if rule.counts == "best":
        best = max(scores)
        chosen = next(i for i, s in enumerate(scores) if s >= best - _EPS)
    else:
        chosen = len(attempts) - 1
    return chosen, scores, lateness, credits


def _non_negative(seconds: float | None) -> float | None:
    return None if seconds is None else max(0.0, seconds)


def final_score(
    attempts: Sequence[Attempt],
    rule: AssignmentPolicy,
    *,
    assignment: str = "",
    max_points: float | None = None,
    extension: Extension | None = None,
    grace_days: int = 0,
    tz: tzinfo = UTC,
) -> Counted:
    """The counted score of one assignment from its attempts (in submission order).

    ``extension`` moves the due date; up to ``grace_days`` whole days are added to it where they
    raise the score (the result says how many it really needs). Attempts past ``rule.max_attempts``
    never count. ``max_points`` is only needed when there is no attempt.
    """
    top = max_points if max_points is not None else (attempts[0].max_points if attempts else 0.0)
    if not attempts:
        return Counted(assignment, None, top, explanation="nothing handed in")
    counting = list(attempts[: rule.max_attempts] if rule.max_attempts else attempts)
    ignored = len(attempts) - len(counting)
    due = _student_due(rule, extension)
    chosen, scores, _, _ = _evaluate(counting, rule, due, 0)
    used = 0
    for g in range(1, grace_days + 1):
        c, s, _, _ = _evaluate(counting, rule, due, g)
        if s[c] > scores[chosen] + _EPS:
            chosen, scores, used = c, s, g
    chosen, scores, lateness, credits = _evaluate(counting, rule, due, used)
    pick = counting[chosen]
    late_before = (
        (pick.submitted_at - due).total_seconds()
        if pick.submitted_at is not None and due is not None
        else None
    )
    counted = Counted(
        assignment=assignment,
        points=scores[chosen],
        max_points=top,
        raw_points=pick.points,
        credit=credits[chosen],
        attempt=chosen,
        attempts=len(attempts),
        submitted_at=pick.submitted_at,
        source=pick.source,
        due=rule.due,
        effective_due=due + timedelta(days=used) if due is not None else None,
        extension=extension if rule.due is not None else None,
        grace_days=used,
        late_s=_non_negative(lateness[chosen]),
        late_s_before_grace=_non_negative(late_before),
        ignored=ignored,
    )
    return _with_explanation(counted, rule, counting, tz)


def _with_explanation(c: Counted, rule: AssignmentPolicy, attempts: Sequence[Attempt], tz: tzinfo) -> Counted:
    parts: list[str] = []
    if c.attempts > 1 and c.attempt is not None:
        label = attempts[c.attempt].label or f"attempt {c.attempt + 1}"
        parts.append(f"the {rule.counts} of {len(attempts)} attempts counts: {label}")
    if c.ignored:
        parts.append(
            f"{c.ignored} attempt{'s' if c.ignored != 1 else ''} after the first {rule.max_attempts} "
            "do not count"
        )
    if c.submitted_at is None:
        parts.append("submission time unknown: no late penalty applied")
    else:
        source = f" ({c.source})" if c.source else ""
        when = f"submitted {show_time(c.submitted_at, tz)}{source}"
        if rule.due is None:
            parts.append(f"{when}; no due date")
        else:
            due = c.effective_due - timedelta(days=c.grace_days) if c.effective_due else rule.due
            if c.extension is not None:
                note = f": {c.extension.comment}" if c.extension.comment else ""
                when += f", due {show_time(due, tz)} (extended from {show_time(rule.due, tz)}{note})"
            else:
                when += f", due {show_time(due, tz)}"
            late_before = c.late_s_before_grace or 0.0
            if late_before <= 0:
                parts.append(f"{when}: on time")
            else:
                text = f"{when}: {format_duration(late_before)} late"
                if c.grace_days:
                    text += f"; {_days(c.grace_days)} used"
                    text += (
                        ", on time with them" if not c.late_s else f", still {format_duration(c.late_s)} late"
                    )
                parts.append(text)
                if c.late_s and c.credit >= 100.0:
                    parts.append("no late penalty is set for this assignment")
            if c.credit < 100.0 and c.raw_points is not None and c.points is not None:
                parts.append(f"{c.credit:g} % of {_pts(c.raw_points)} counts: {_pts(c.points)}")
    return Counted(**{**c.__dict__, "explanation": "; ".join(parts)})


def extension_for(extensions: Sequence[Extension], assignment: str) -> Extension | None:
    """The extension that applies to ``assignment``: one naming it wins over one for every assignment."""
    specific = [e for e in extensions if e.assignment == assignment]
    general = [e for e in extensions if e.assignment is None]
    chosen = specific or general
    return max(chosen, key=lambda e: e.due) if chosen else None


def apply_policy(
    policy: CoursePolicy,
    attempts: Mapping[str, Sequence[Attempt]],
    *,
    student: str | None = None,
    extensions: Sequence[Extension] = (),
    max_points: Mapping[str, float] | None = None,
    grace_days: int | None = None,
) -> StudentOutcome:
    """A student's counted score per assignment, grace days placed where they save the most points.

    ``attempts`` maps assignment id -> that assignment's attempts in submission order (an empty list: no
    attempt). ``extensions`` are the student's (with ``student``, others' are ignored); ``grace_days``
    replaces the course's pool for this student. Among the placements that give the most points the one
    spending the fewest days wins, so days are kept for later.
    """
    pool = policy.course.grace_days if grace_days is None else grace_days
    mine = [e for e in extensions if student is None or e.student == student]
    tops = max_points or {}
    ids = list(attempts)

    cache: dict[tuple[str, int], Counted] = {}

    def counted(a: str, g: int) -> Counted:
        if (a, g) not in cache:
            cache[(a, g)] = final_score(
                attempts[a], policy.rule(a), assignment=a, max_points=tops.get(a),
                extension=extension_for(mine, a), grace_days=g, tz=policy.tz,
            )  # fmt: skip
        return cache[(a, g)]

    # Points of each assignment for each number of grace days it may spend (non-decreasing in days).
    table: dict[str, list[float]] = {}
    for a in ids:
        cap = pool if policy.rule(a).max_grace_days is None else min(pool, policy.rule(a).max_grace_days or 0)
        row = [counted(a, 0).points or 0.0]
        for g in range(1, cap + 1):
            row.append(counted(a, g).points or 0.0)
            if counted(a, g).grace_days < g:
                break  # more days change nothing
        table[a] = row
    # Knapsack over assignments: days spent so far -> (points, placement); few assignments, few days.
    best: dict[int, tuple[float, tuple[int, ...]]] = {0: (0.0, ())}
    for a in ids:
        following: dict[int, tuple[float, tuple[int, ...]]] = {}
        for spent, (points, placed) in best.items():
            for g, value in enumerate(table[a]):
                if spent + g > pool:
                    break
                candidate = (points + value, (*placed, g))
                current = following.get(spent + g)
                if current is None or candidate[0] > current[0] + _EPS:
                    following[spent + g] = candidate
        best = following
    top = max(points for points, _ in best.values())
    spent = min(s for s, (points, _) in best.items() if points >= top - _EPS)
    placement = dict(zip(ids, best[spent][1], strict=True))
    result = {a: counted(a, placement[a]) for a in ids}
    notes = []
    if pool:
        used = sum(c.grace_days for c in result.values())
        where = ", ".join(f"{a} {c.grace_days}" for a, c in result.items() if c.grace_days)
        notes.append(
            f"grace days: {used} of {pool} used" + (f" ({where})" if where else "") + f", {pool - used} left"
        )
    return StudentOutcome(counted=result, grace_days=pool, notes=notes)
