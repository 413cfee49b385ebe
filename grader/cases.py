"""An assignment's proof: the submissions in ``assignments/<id>/cases/`` and what each must get.

Each case is a folder holding what a student would hand in for that assignment (the files of
``<id>/``) and an ``expect.toml``::

    summary = "--partitions 5 instead of 6"     # the mistake, in a few words
    # alternative = true                        # a correct solution in another style: full marks
    # alone = true                              # damages its cluster: graded in a sandbox of its own
    # example = "flawed-student"                # part of that example submission (grader examples)
    # notes = ["in Kafka 4 write"]              # phrases the assignment's notes must contain
    # absent = ["wrong counts"]                 # phrases no check's message may contain
    # output_truncated = true                   # the program's output was capped

    [checks.six_partitions]                     # every check not listed must pass
    status = "failed"                           # or "skipped" (or "passed", to say so)
    message = "found 5"                         # phrase(s) the message must contain

:func:`judge` compares a graded :class:`~grader.results.AssignmentResult` with its expectation and
lists every difference; ``grader validate`` runs every case and prints which cases each check
catches (the kill matrix).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from grader.errors import SpecError
from grader.results import AssignmentResult, Status

EXPECT_FILE = "expect.toml"


class CheckExpectation(BaseModel):
    """What one check must give for a case."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["passed", "failed", "skipped"]
    message: list[str] = Field(default_factory=list)
    """Phrases its message must contain (a string is one phrase)."""

    @field_validator("message", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value


class Expectation(BaseModel):
    """A case's ``expect.toml``."""

    model_config = ConfigDict(extra="forbid")

    summary: str = Field(min_length=3)
    """The mistake (or the style, for an alternative) in a few words."""
    alternative: bool = False
    """A correct solution written another way: it must get full marks."""
    alone: bool = False
    """It damages its cluster on purpose: graded in a sandbox of its own."""
    example: str | None = None
    """The example submission (``grader examples``) this case is that assignment's part of."""
    notes: list[str] = Field(default_factory=list)
    absent: list[str] = Field(default_factory=list)
    output_truncated: bool = False
    checks: dict[str, CheckExpectation] = Field(default_factory=dict)


@dataclass(frozen=True)
class Case:
    """One case folder of an assignment."""

    assignment: str
    name: str
    folder: Path
    expect: Expectation

    @property
    def label(self) -> str:
        return f"{self.assignment}/{self.name}"


def load_case(assignment_id: str, folder: Path) -> Case:
    """Read ``folder/expect.toml``; a broken one is the course maintainer's problem (SpecError)."""
    path = folder / EXPECT_FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SpecError(f"{path}: cannot read the case's expectation: {exc}") from exc
    try:
        expect = Expectation.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}" for err in exc.errors()
        )
        raise SpecError(f"{path}: invalid expectation: {problems}") from exc
    if expect.alternative and any(c.status != "passed" for c in expect.checks.values()):
        raise SpecError(f"{path}: an alternative (a correct solution) cannot expect checks to fail")
    return Case(assignment_id, folder.name, folder, expect)


def load_cases(assignment_id: str, cases_folder: Path) -> list[Case]:
    """Every case under ``cases_folder`` (each sub-folder with an ``expect.toml``), by name."""
    if not cases_folder.is_dir():
        return []
    found = []
    for folder in sorted(p for p in cases_folder.iterdir() if p.is_dir() and not p.is_symlink()):
        if not (folder / EXPECT_FILE).is_file():
            raise SpecError(
                f"{folder}: a case needs an {EXPECT_FILE} (what it must get; see grader/cases.py)"
            )
        found.append(load_case(assignment_id, folder))
    return found


def expected_statuses(case: Case, check_ids: list[str]) -> dict[str, Status]:
    """Every check's expected status: as listed, passed otherwise."""
    return {
        c: Status(case.expect.checks[c].status) if c in case.expect.checks else Status.PASSED
        for c in check_ids
    }


def judge(case: Case, result: AssignmentResult, check_ids: list[str]) -> list[str]:
    """How ``result`` differs from what ``case`` expects; empty when it matches."""
    problems: list[str] = []
    unknown = sorted(set(case.expect.checks) - set(check_ids))
    if unknown:
        problems.append(f"expect.toml names checks the assignment does not have: {', '.join(unknown)}")
    if result.has_error:
        errors = [f"{c.id}: {c.message}" for c in result.checks if c.status is Status.ERROR]
        problems.append(f"grader error: {result.error or '; '.join(errors)}")
        return problems
    found = {c.id: c for c in result.checks}
    for check_id, want in expected_statuses(case, check_ids).items():
        got = found.get(check_id)
        if got is None:
            problems.append(f"{check_id}: expected {want.value}, but it was not reported")
            continue
        if got.status is not want:
            said = f" ({got.message.splitlines()[0][:160]})" if got.message else ""
            problems.append(f"{check_id}: expected {want.value}, got {got.status.value}{said}")
        spec = case.expect.checks.get(check_id)
        for phrase in spec.message if spec else []:
            if phrase not in got.message:
                problems.append(f"{check_id}: the message lacks {phrase!r}; it says: {got.message[:300]!r}")
    said = " ".join(c.message for c in result.checks)
    problems += [
        f"a message gives advice meant for other mistakes: {a!r}" for a in case.expect.absent if a in said
    ]
    for phrase in case.expect.notes:
        if not any(phrase in n.text for n in result.notes):
            problems.append(f"no note says {phrase!r}; notes: {[n.text for n in result.notes]}")
    if case.expect.output_truncated and not any(
        r.stdout_truncated_bytes or r.stderr_truncated_bytes for r in result.runs
    ):
        problems.append("expected the program's output to be capped, but nothing was cut")
    if not case.expect.alternative and result.points >= result.max_points:
        problems.append(f"a wrong submission got full marks ({result.points:g}/{result.max_points:g})")
    return problems
