"""The results model: what a grading run found. Renderers (HTML, JSON, Gradescope) read only this.

Totals (``points``, ``max_points``, ``passed``, ``has_error``, ``outcome``) are pydantic computed
fields: they are in every dump and in the JSON Schema (read-only), and ignored when a dump is
validated back. ``grader/report/results.schema.json`` is generated from these models
(``python -m grader.report.schema``); a test fails when it drifts from them.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

SCHEMA_VERSION = 1
SCHEMA_FILE = "results.schema.json"
"""The JSON Schema's file name; ``results.json`` names it in ``"$schema"`` and it is written beside it."""

Outcome = Literal["passed", "failed", "error"]


class _Model(BaseModel):
    # Attribute docstrings become descriptions in the published JSON Schema.
    model_config = ConfigDict(use_attribute_docstrings=True)


class Visibility(StrEnum):
    """Who sees a check's result on a grading platform (the TA always sees everything)."""

    VISIBLE = "visible"
    """Students see it right away (the default)."""
    AFTER_DUE_DATE = "after_due_date"
    """Students see it once the due date has passed."""
    HIDDEN = "hidden"
    """Students never see it (its points still count)."""


class Status(StrEnum):
    """Outcome of one check."""

    PASSED = "passed"
    """The student's work meets the check."""
    FAILED = "failed"
    """The student's work does not meet the check (the student's fault; feedback says why)."""
    ERROR = "error"
    """The grader itself broke while checking: never a silent zero, always shown as a grader error."""
    SKIPPED = "skipped"
    """Not run because a check it depends on did not pass."""


class ExecRecord(_Model):
    """One student process the grader ran: command, exit, captured (capped) output, duration."""

    label: str
    """What this run was for, e.g. ``first run`` or ``restart after checkpoint``."""
    command: list[str]
    returncode: int | None
    """Exit status; negative for a signal; None if it could not be started."""
    timed_out: bool = False
    """Killed by the grader at the time limit."""
    killed_by_grader: bool = False
    """Stopped on purpose by the grader (e.g. to test a restart), not a failure by itself."""
    duration_s: float
    stdout: str = ""
    stderr: str = ""
    stdout_truncated_bytes: int = 0
    stderr_truncated_bytes: int = 0


class CheckResult(_Model):
    """The result of one check."""

    id: str
    title: str
    status: Status
    points: float
    """Points earned."""
    max_points: float
    message: str = ""
    """Expected vs found, in plain words."""
    hint: str = ""
    """What to do to pass; shown when the check did not pass."""
    details: str = ""
    """Longer evidence (a diff, a table); shown collapsed."""
    duration_s: float = 0.0
    visibility: Visibility = Visibility.VISIBLE
    """Who may see this result on a grading platform."""


class Note(_Model):
    """Advice that costs no points, e.g. a seminar-era flag the sandbox translated."""

    text: str
    kind: str = "info"


class Override(_Model):
    """A TA's change to an automatic score, from the course's overrides file (applied after every grading)."""

    check: str | None = None
    """The check it changes; None: the assignment as a whole."""
    delta: float
    """Points it adds (negative: takes away), kept within 0 and the check's or assignment's points."""
    set_to: float | None = None
    """The points the TA set, for an override that sets points (None for a +/- adjustment)."""
    comment: str
    """The TA's reason, shown to the student."""
    by: str = ""
    """Who wrote it."""
    at: str = ""
    """When, as written in the overrides file."""
    capped: bool = False
    """The adjustment would have gone below 0 or above the maximum and was kept within them."""


class Timing(_Model):
    """When the work came in against its due date and what that cost, from the course policy."""

    submitted_at: datetime | None = None
    """None: the grader does not know (then nothing is late and no penalty is made up)."""
    source: str = ""
    """Where the time came from: ``upload``, ``Moodle file time``, ``commit 3f2a1b0c9d``, ..."""
    due: datetime | None = None
    """The course's due date."""
    effective_due: datetime | None = None
    """This student's due date: an extension's, plus the grace days used."""
    extension: str | None = None
    """An extension's reason ("" when it has none); None when there is no extension."""
    grace_days: int = 0
    """Grace days this assignment uses."""
    late_s: float | None = None
    """Seconds late after the extension and grace days (0: on time; None: unknown or no due date)."""
    credit: float = Field(100.0, ge=0, le=100)
    """Percent of the points (after overrides) that count."""
    explanation: str = ""
    """The policy's reasoning in one line, for the student and the TA."""


class AssignmentResult(_Model):
    """All checks of one assignment for one submission."""

    id: str
    title: str
    max_points: float
    """The assignment's total points (from its spec, so a grader error never shrinks it)."""
    entrypoint: str | None = None
    """The submission file that was run, relative to the submission folder."""
    params: dict[str, str | int | float] = Field(default_factory=dict)
    checks: list[CheckResult] = Field(default_factory=list)
    notes: list[Note] = Field(default_factory=list)
    runs: list[ExecRecord] = Field(default_factory=list)
    error: str | None = None
    """A grader error that stopped this assignment before its checks could run."""
    timings: dict[str, float] = Field(default_factory=dict)
    """Seconds per phase: ``cluster_start``, ``student``, ``grader``, ``total`` (and others)."""
    logs: dict[str, str] = Field(default_factory=dict)
    """Name -> path (relative to the output folder) of kept logs, e.g. broker logs on failure."""
    overrides: list[Override] = Field(default_factory=list)
    """A TA's changes to the automatic score, in the order applied."""
    timing: Timing | None = None
    """Submission time against the due date and its late penalty; None when no course policy applied."""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def autograde_points(self) -> float:
        """Points the checks earned, before overrides and late penalties."""
        return sum(c.points for c in self.checks)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def points(self) -> float:
        """Points that count: the checks' points, the TA's overrides, then the late penalty's credit."""
        if not self.overrides and self.timing is None:
            return self.autograde_points
        shown = {c.id for c in self.checks}
        # An override of a check left out of this view (e.g. one not visible to students yet) is left out too.
        delta = sum(o.delta for o in self.overrides if o.check is None or o.check in shown)
        adjusted = min(self.max_points, max(0.0, self.autograde_points + delta))
        credit = self.timing.credit if self.timing is not None else 100.0
        return round(adjusted * credit / 100.0, 4)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def has_error(self) -> bool:
        """True when the grader broke on this assignment (not the student's fault)."""
        return self.error is not None or any(c.status is Status.ERROR for c in self.checks)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def passed(self) -> bool:
        """True when every check passed and there was no grader error."""
        return (
            not self.has_error and all(c.status is Status.PASSED for c in self.checks) and bool(self.checks)
        )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def outcome(self) -> Outcome:
        """``error`` (the grader broke), ``passed`` (full marks) or ``failed``."""
        return "error" if self.has_error else "passed" if self.passed else "failed"


class SubmissionResult(_Model):
    """A whole grading run of one submission folder."""

    model_config = ConfigDict(populate_by_name=True, use_attribute_docstrings=True)

    schema_ref: str = Field(SCHEMA_FILE, alias="$schema")
    """The JSON Schema this document follows (written beside it as ``results.schema.json``)."""
    schema_version: int = SCHEMA_VERSION
    submission: str
    """The submission's name (its folder name)."""
    seed: int
    grader_version: str
    started_at: datetime
    duration_s: float = 0.0
    sandbox: str = "local"
    timings: dict[str, float] = Field(default_factory=dict)
    """Seconds: ``cluster_start``, ``student`` (their processes), ``grader`` (everything else), ``total``."""
    assignments: list[AssignmentResult] = Field(default_factory=list)
    policy_notes: list[str] = Field(default_factory=list)
    """What the course policy did across assignments, e.g. the grace days used and left."""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def points(self) -> float:
        """Points that count over every assignment (after overrides and late penalties)."""
        return sum(a.points for a in self.assignments)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def max_points(self) -> float:
        """Points possible over every assignment (from the specs)."""
        return sum(a.max_points for a in self.assignments)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def has_error(self) -> bool:
        """True when the grader broke on any assignment."""
        return any(a.has_error for a in self.assignments)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def passed(self) -> bool:
        """True when every assignment passed."""
        return bool(self.assignments) and all(a.passed for a in self.assignments)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def outcome(self) -> Outcome:
        """``error`` (the grader broke somewhere), ``passed`` (full marks) or ``failed``."""
        return "error" if self.has_error else "passed" if self.passed else "failed"
