"""``course.toml`` as a validated model: the course seed and time zone, deadlines and late penalties,
grace days, what counts among several attempts, the service's limits, exports and copy evidence.

Dates without a time zone are read in the course's ``timezone``; a date without a time means the end
of that day (23:59:59). Nothing here can give more than 100 % of an assignment's points: penalties
take away 0-100 %, a credit timeline gives 0-100 % and never more as a submission gets later.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, tzinfo
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AliasChoices,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from grader.policy.durations import parse_duration

Duration = Annotated[float, BeforeValidator(parse_duration)]
"""Seconds; TOML may write ``3600``, ``"1h"``, ``"30m"``, ``"2d"``."""

DAY_S = 86400.0


class _Strict(BaseModel):
    # Attribute docstrings document course.toml; unknown keys are typos, refused with the known ones.
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


def zone(name: str) -> tzinfo:
    """The IANA time zone ``name`` (``UTC`` included); ValueError with the fix when there is none."""
    if name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f'{name!r} is not an IANA time zone; write one like "Europe/Moscow", "Europe/Berlin" or "UTC"'
        ) from None


def localize(value: object, tz: tzinfo) -> object:
    """A TOML or text date/datetime as an aware datetime in ``tz`` (a bare date: the end of that day).

    Anything else is returned as is, for the field's own validation to refuse with its message.
    """
    if isinstance(value, str):
        text = value.strip()
        try:
            value = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
        except ValueError:
            return value
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=tz)
    if isinstance(value, date):
        return datetime.combine(value, time(23, 59, 59), tzinfo=tz)
    return value


class CourseInfo(_Strict):
    """``[course]``: what the whole course shares."""

    name: str = ""
    """Shown on the class page and in exports."""
    seed: int | None = Field(None, ge=0)
    """The course seed every student's parameters derive from (``--course-seed`` wins over it)."""
    timezone: str = "UTC"
    """IANA time zone for dates written without one (and for showing times), e.g. ``Europe/Moscow``."""
    grace_days: int = Field(0, ge=0, le=365)
    """Late days each student may spend over all assignments; used where they save the most points."""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        zone(name)
        return name

    @property
    def tz(self) -> tzinfo:
        """The course's time zone."""
        return zone(self.timezone)


class ServiceLimits(_Strict):
    """``[service]``: how often a student may submit to ``grader serve`` (a token bucket per student)."""

    attempts: int = Field(6, ge=1)
    """Bucket capacity: attempts a student may make per ``period``."""
    period_s: Duration = Field(3600.0, gt=0, validation_alias=AliasChoices("period", "period_s"))
    """The bucket refills ``attempts`` tokens over this time (TOML: ``period = "1h"``, ``"30m"``, seconds)."""
    max_pending: int = Field(1, ge=1)
    """Submissions of one student queued or running at once."""


class CreditStep(_Strict):
    """One step of a credit timeline: up to ``until`` late, the points count ``credit`` %."""

    until: Duration | AwareDatetime
    """How late (``"2d"``, ``"36h"``) or until when (a date) this credit holds."""
    credit: float = Field(ge=0, le=100)
    """Percent of the points that count (0-100)."""


class LatePenalty(_Strict):
    """``late = {...}``: either a penalty per started day or hour, or a credit timeline.

    ``{ per = "day", percent = 10, max_percent = 50 }`` takes 10 % per started day late, at most 50 %;
    ``{ timeline = [{ until = "2d", credit = 80 }, { until = "7d", credit = 50 }] }`` gives 80 % up to two
    days late, 50 % up to a week, nothing after (like PrairieLearn's 100 % / 80 % / 0 %).
    """

    per: Literal["day", "hour"] | None = None
    """Per-period style: the period."""
    percent: float | None = Field(None, gt=0, le=100)
    """Per-period style: percent of the points lost per started period late."""
    max_percent: float = Field(100.0, gt=0, le=100)
    """Per-period style: the most that lateness can take away."""
    no_credit_after: Duration | None = None
    """Per-period style: later than this (e.g. ``"7d"``), nothing counts."""
    timeline: list[CreditStep] | None = Field(None, min_length=1)
    """Timeline style: steps in order of lateness; after the last one, nothing counts."""

    @model_validator(mode="after")
    def _one_style(self) -> LatePenalty:
        per_period = self.per is not None or self.percent is not None
        if per_period and self.timeline is not None:
            raise ValueError(
                "a late penalty is either per period (per, percent, max_percent) or a timeline, not both; "
                "keep one of them"
            )
        if self.timeline is None and (self.per is None or self.percent is None):
            raise ValueError(
                'write per = "day" (or "hour") and percent = N, e.g. { per = "day", percent = 10 }, '
                'or a timeline = [{ until = "2d", credit = 80 }]'
            )
        if self.timeline is not None and self.no_credit_after is not None:
            raise ValueError("no_credit_after is for per-period penalties; a timeline ends at its last step")
        credits = [s.credit for s in self.timeline or []]
        if any(b > a for a, b in itertools.pairwise(credits)):
            raise ValueError(
                f"the timeline's credit rises with lateness ({', '.join(f'{c:g} %' for c in credits)}); "
                "order its steps from the most credit to the least"
            )
        return self


class AssignmentPolicy(_Strict):
    """``[assignments.<id>]``: the due date, late penalty and attempt rule of one assignment."""

    due: AwareDatetime | None = None
    """The due date; without one nothing is late."""
    late: LatePenalty | None = None
    """How lateness costs points; without it late work counts in full (and is shown as late)."""
    counts: Literal["last", "best"] = "last"
    """Which attempt counts: the last one, or the best after its own late penalty."""
    max_attempts: int | None = Field(None, ge=1)
    """Attempts that count (later ones are graded and shown but never count); none: no cap."""
    max_grace_days: int | None = Field(None, ge=0)
    """The most grace days this assignment may use; none: as many as the student has left."""
    canvas_column: str = ""
    """Canvas export: this assignment's column header, e.g. ``Kafka topic (12345)``."""

    @model_validator(mode="after")
    def _timeline_after_due(self) -> AssignmentPolicy:
        steps = self.late.timeline if self.late is not None else None
        if not steps:
            return self
        offsets: list[float] = []
        for step in steps:
            if isinstance(step.until, datetime):
                if self.due is None:
                    raise ValueError(
                        f"a timeline step until {step.until.isoformat()} needs the assignment's due date; "
                        'add due = ... or write the step as a lateness (until = "2d")'
                    )
                offset = (step.until - self.due).total_seconds()
                if offset <= 0:
                    raise ValueError(
                        f"a timeline step until {step.until.isoformat()} is not after the due date "
                        f"{self.due.isoformat()}; steps are for late work"
                    )
            else:
                offset = step.until
            offsets.append(offset)
        if any(b <= a for a, b in itertools.pairwise(offsets)):
            raise ValueError("the timeline's steps must get later one after another; sort them by until")
        return self

    def credit_steps(self) -> list[tuple[float, float]]:
        """The timeline as (seconds late, credit %) pairs, absolute dates made relative to ``due``."""
        steps = self.late.timeline if self.late is not None else None
        out: list[tuple[float, float]] = []
        for step in steps or []:
            if isinstance(step.until, datetime):
                assert self.due is not None  # the validator refuses an absolute step without a due date
                out.append(((step.until - self.due).total_seconds(), step.credit))
            else:
                out.append((step.until, step.credit))
        return out


class ExportSettings(_Strict):
    """``[export]``: what the LMS exports write."""

    grade: Literal["points", "percent"] = "points"
    """Moodle worksheet and Canvas: the total in points, or in percent (set the LMS's maximum to 100)."""
    canvas_column: str = ""
    """Canvas: header of the one total column (e.g. ``Kafka lab (12345)``); per-assignment columns come from
    ``[assignments.<id>] canvas_column`` instead when any is set."""


class CopySettings(_Strict):
    """``[copies]``: copy evidence for the TA (never a penalty)."""

    enabled: bool = True
    threshold: float = Field(0.6, gt=0, le=1)
    """Pairs whose entrypoints both share this fraction of their (non-boilerplate) code or more are shown."""
    min_tokens: int = Field(60, ge=1)
    """...and at least this many characters of normalised code outside the boilerplate."""
    max_common: int = Field(10, ge=2)
    """Code found in more than this many submissions is what many wrote alike, not evidence (MOSS's -m)."""
    boilerplate: list[str] = Field(default_factory=list)
    """Extra folders or files whose code is boilerplate (the template and references always are), e.g. the
    seminar's notes; relative paths are relative to course.toml."""


def _localize_tree(data: Any, tz: tzinfo) -> Any:
    """Localize the dates of ``assignments.*`` (due, timeline steps) in raw TOML data."""
    assignments = data.get("assignments") if isinstance(data, dict) else None
    if not isinstance(assignments, dict):
        return data
    fixed: dict[str, Any] = {}
    for key, entry in assignments.items():
        if isinstance(entry, dict):
            entry = dict(entry)
            if "due" in entry:
                entry["due"] = localize(entry["due"], tz)
            late = entry.get("late")
            if isinstance(late, dict) and isinstance(late.get("timeline"), list):
                late = dict(late)
                late["timeline"] = [
                    {**s, "until": _localize_until(s["until"], tz)}
                    if isinstance(s, dict) and "until" in s
                    else s
                    for s in late["timeline"]
                ]
                entry["late"] = late
        fixed[key] = entry
    return {**data, "assignments": fixed}


def _localize_until(value: object, tz: tzinfo) -> object:
    # A text may be a lateness ("2d") or a date ("2026-12-03"); only the second is localized.
    if isinstance(value, str):
        try:
            parse_duration(value)
            return value
        except ValueError:
            pass
    return localize(value, tz)


class CoursePolicy(_Strict):
    """The whole ``course.toml``; every section is optional (an empty file gives the defaults)."""

    course: CourseInfo = CourseInfo()
    service: ServiceLimits = ServiceLimits()
    assignments: dict[str, AssignmentPolicy] = Field(default_factory=dict)
    """Per assignment id (the folder name under ``assignments/``)."""
    export: ExportSettings = ExportSettings()
    copies: CopySettings = CopySettings()

    @model_validator(mode="before")
    @classmethod
    def _dates_in_course_zone(cls, data: Any) -> Any:
        course = data.get("course") if isinstance(data, dict) else None
        name = course.get("timezone", "UTC") if isinstance(course, dict) else "UTC"
        try:
            tz = zone(str(name))
        except ValueError:
            tz = UTC  # the timezone field reports the bad name; dates are not blamed for it too
        return _localize_tree(data, tz)

    @property
    def tz(self) -> tzinfo:
        """The course's time zone."""
        return self.course.tz

    def rule(self, assignment: str) -> AssignmentPolicy:
        """The policy of ``assignment`` (the defaults when course.toml says nothing about it)."""
        return self.assignments.get(assignment) or AssignmentPolicy()
