"""JUnit XML (the Jenkins xUnit ``junit-10.xsd`` dialect that pytest writes), through a small pydantic model.

One ``<testsuite>`` per assignment, one ``<testcase>`` per check plus one for the student's program
(``run: <entrypoint>``), which carries the program's real wall time and its captured output in
``<system-out>``/``<system-err>``; it fails only when the program could not be started or was
killed at its time limit, and counts no points. A failed check is ``<failure>`` (the student's
fault), a grader error is ``<error>`` (not the student's fault), a skipped check ``<skipped>``.
``<testsuites>`` carries only the attributes the XSD allows (no ``skipped``).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from grader.report.text import GRADER_ERROR_PREFIX, NOT_YOUR_FAULT, check_feedback, clean_output
from grader.results import AssignmentResult, CheckResult, ExecRecord, Status, SubmissionResult

# Characters XML 1.0 cannot hold even escaped (NUL, most C0 controls such as ANSI ESC, lone surrogates).
_XML_INVALID = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str) -> str:
    """ANSI codes and characters XML 1.0 cannot represent removed (ElementTree escapes the rest)."""
    return _XML_INVALID.sub("", clean_output(text))


def _seconds(value: float) -> str:
    """A ``SUREFIRE_TIME``: plain decimal seconds, microsecond precision (checks take milliseconds)."""
    return f"{max(0.0, value):.6f}"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class JUnitOutcome(_Model):
    """The child that makes a test case not passed."""

    tag: Literal["failure", "error", "skipped"]
    message: str
    type: str
    text: str = ""


class JUnitCase(_Model):
    """One ``<testcase>``."""

    classname: str
    name: str = Field(min_length=1)
    time: float = Field(ge=0)
    outcome: JUnitOutcome | None = None
    system_out: str = ""
    system_err: str = ""


class JUnitSuite(_Model):
    """One ``<testsuite>``: an assignment."""

    name: str = Field(min_length=1)
    time: float = Field(ge=0)
    timestamp: str
    properties: dict[str, str] = Field(default_factory=dict)
    cases: list[JUnitCase] = Field(default_factory=list)
    system_out: str = ""

    def _count(self, tag: str) -> int:
        return sum(1 for c in self.cases if c.outcome is not None and c.outcome.tag == tag)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def tests(self) -> int:
        return len(self.cases)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def failures(self) -> int:
        return self._count("failure")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def errors(self) -> int:
        return self._count("error")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def skipped(self) -> int:
        return self._count("skipped")


class JUnitReport(_Model):
    """``<testsuites>``: one grading run."""

    name: str
    time: float = Field(ge=0)
    suites: list[JUnitSuite] = Field(default_factory=list)


def _first_line(text: str, fallback: str) -> str:
    return (text.strip().splitlines() or [fallback])[0]


def _check_case(assignment: AssignmentResult, check: CheckResult) -> JUnitCase:
    outcome = None
    tag = {Status.FAILED: "failure", Status.ERROR: "error", Status.SKIPPED: "skipped"}.get(check.status)
    if tag is not None:
        kind = "grader-error" if check.status is Status.ERROR else check.status.value
        outcome = JUnitOutcome(
            tag=tag,  # type: ignore[arg-type]
            message=_first_line(check.message, check.status.value),
            type=kind,
            text=check_feedback(check, details=True, limit=64_000),
        )
    return JUnitCase(
        classname=assignment.id, name=f"{check.id}: {check.title}", time=check.duration_s, outcome=outcome
    )


def _stream(runs: list[ExecRecord], attr: Literal["stdout", "stderr"]) -> str:
    parts = []
    for r in runs:
        text = getattr(r, attr)
        cut = getattr(r, f"{attr}_truncated_bytes")
        header = f"--- {r.label}: {' '.join(r.command)} ({attr}" + (f", {cut} bytes cut" if cut else "") + ")"
        parts.append(f"{header}\n{text}")
    return "\n".join(parts)


def _run_case(assignment: AssignmentResult) -> JUnitCase | None:
    """The student's program as a test case: its real time and output; fails if it never ran or hung."""
    if not assignment.runs:
        return None
    outcome = None
    broken = [r for r in assignment.runs if r.returncode is None or (r.timed_out and not r.killed_by_grader)]
    if broken:
        r = broken[0]
        why = "could not be started" if r.returncode is None else "was killed at its time limit"
        outcome = JUnitOutcome(
            tag="failure", message=f"{r.label}: your program {why}", type="run", text=r.stderr[-4000:]
        )
    return JUnitCase(
        classname=assignment.id,
        name=f"run: {assignment.entrypoint or 'entrypoint'}",
        time=sum(r.duration_s for r in assignment.runs),
        outcome=outcome,
        system_out=_stream(assignment.runs, "stdout"),
        system_err=_stream(assignment.runs, "stderr"),
    )


def _suite(result: SubmissionResult, assignment: AssignmentResult) -> JUnitSuite:
    cases = []
    run = _run_case(assignment)
    if run is not None:
        cases.append(run)
    cases.extend(_check_case(assignment, c) for c in assignment.checks)
    if assignment.error is not None and not assignment.checks:
        # Nothing else carries this error (the sandbox failed before any check existed).
        cases.append(
            JUnitCase(
                classname=assignment.id,
                name="grader",
                time=0.0,
                outcome=JUnitOutcome(
                    tag="error",
                    message=_first_line(assignment.error, "grader error"),
                    type="grader-error",
                    text=f"{GRADER_ERROR_PREFIX}{assignment.error}\n{NOT_YOUR_FAULT}",
                ),
            )
        )
    properties = {
        "title": assignment.title,
        "points": f"{assignment.points:g}",
        "max_points": f"{assignment.max_points:g}",
        "seed": str(result.seed),
    }
    properties.update({f"param.{k}": str(v) for k, v in assignment.params.items()})
    return JUnitSuite(
        name=assignment.id,
        time=assignment.timings.get("total", 0.0),
        timestamp=result.started_at.replace(tzinfo=None).isoformat(timespec="seconds"),
        properties=properties,
        cases=cases,
        system_out="\n".join(f"note: {n.text}" for n in assignment.notes),
    )


def junit_report(result: SubmissionResult) -> JUnitReport:
    """The validated JUnit model of ``result``."""
    return JUnitReport(
        name=result.submission,
        time=result.duration_s,
        suites=[_suite(result, a) for a in result.assignments],
    )


def _case_element(parent: ET.Element, case: JUnitCase) -> None:
    element = ET.SubElement(
        parent,
        "testcase",
        classname=xml_safe(case.classname),
        name=xml_safe(case.name),
        time=_seconds(case.time),
    )
    if case.outcome is not None:
        child = ET.SubElement(
            element,
            case.outcome.tag,
            message=xml_safe(case.outcome.message),
            type=xml_safe(case.outcome.type),
        )
        child.text = xml_safe(case.outcome.text)
    if case.system_out:
        ET.SubElement(element, "system-out").text = xml_safe(case.system_out)
    if case.system_err:
        ET.SubElement(element, "system-err").text = xml_safe(case.system_err)


def junit_xml(result: SubmissionResult) -> bytes:
    """JUnit XML bytes for ``result`` (valid against junit-10.xsd)."""
    report = junit_report(result)
    root = ET.Element("testsuites", name=xml_safe(report.name), time=_seconds(report.time))
    for attr in ("tests", "failures", "errors"):
        root.set(attr, str(sum(getattr(s, attr) for s in report.suites)))
    for suite in report.suites:
        element = ET.SubElement(
            root,
            "testsuite",
            name=xml_safe(suite.name),
            tests=str(suite.tests),
            failures=str(suite.failures),
            errors=str(suite.errors),
            skipped=str(suite.skipped),
            time=_seconds(suite.time),
            timestamp=suite.timestamp,
        )
        properties = ET.SubElement(element, "properties")
        for name, value in suite.properties.items():
            ET.SubElement(properties, "property", name=xml_safe(name), value=xml_safe(value))
        for case in suite.cases:
            _case_element(element, case)
        if suite.system_out:
            ET.SubElement(element, "system-out").text = xml_safe(suite.system_out)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
