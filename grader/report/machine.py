"""Machine-readable reports: our own ``results.json``, Gradescope's ``results.json`` and JUnit XML."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from typing import Any

from grader.results import AssignmentResult, CheckResult, Status, SubmissionResult

GRADER_ERROR_PREFIX = "GRADER ERROR: "
NOT_YOUR_FAULT = "This is not your fault; tell your TA."

# Characters XML 1.0 cannot hold even escaped (NUL, most C0 controls such as ANSI ESC, lone surrogates).
_XML_INVALID = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def fmt_points(value: float) -> str:
    """``17`` for 17.0, ``2.5`` for 2.5: points as people write them."""
    return f"{round(value, 2):g}"


def outcome(result: SubmissionResult | AssignmentResult) -> str:
    """``error`` (grader broke), ``passed`` (full marks) or ``failed``."""
    if result.has_error:
        return "error"
    return "passed" if result.passed else "failed"


def _totals(result: SubmissionResult | AssignmentResult) -> dict[str, Any]:
    """The computed properties the pydantic dump leaves out."""
    return {
        "points": result.points,
        "max_points": result.max_points,
        "passed": result.passed,
        "has_error": result.has_error,
        "outcome": outcome(result),
    }


def results_json(result: SubmissionResult) -> dict[str, Any]:
    """Our own schema: the model dump plus computed totals (extra keys validate back as ignored)."""
    data: dict[str, Any] = result.model_dump(mode="json")
    data.update(_totals(result))
    for dumped, assignment in zip(data["assignments"], result.assignments, strict=True):
        dumped.update(_totals(assignment))
    return data


def _check_output(check: CheckResult) -> str:
    """Message and (when not passed) hint, with a grader-error prefix for errored checks."""
    parts = [check.message.strip()]
    if check.status is not Status.PASSED and check.hint:
        parts.append(f"Hint: {check.hint.strip()}")
    text = "\n".join(p for p in parts if p)
    if check.status is Status.ERROR:
        return f"{GRADER_ERROR_PREFIX}{text}\n{NOT_YOUR_FAULT}".strip()
    if check.status is Status.SKIPPED:
        return f"Skipped: {text}" if text else "Skipped because an earlier check did not pass."
    return text


def _gradescope_test(assignment: AssignmentResult, check: CheckResult) -> dict[str, Any]:
    """One Gradescope test entry for one check."""
    return {
        "name": f"{assignment.title}: {check.title}",
        "score": check.points,
        "max_score": check.max_points,
        "status": "passed" if check.status is Status.PASSED else "failed",
        "output": _check_output(check),
        "visibility": "visible",
    }


def _gradescope_assignment_error(assignment: AssignmentResult) -> dict[str, Any]:
    """A test entry standing for points a grader error kept from being checked."""
    unchecked = max(0.0, assignment.max_points - sum(c.max_points for c in assignment.checks))
    return {
        "name": f"{assignment.title}: grader error",
        "score": 0.0,
        "max_score": unchecked,
        "status": "failed",
        "output": f"{GRADER_ERROR_PREFIX}{assignment.error}\n{NOT_YOUR_FAULT}",
        "visibility": "visible",
    }


def _gradescope_summary(result: SubmissionResult) -> str:
    """The short text Gradescope shows above the tests."""
    score = f"{fmt_points(result.points)} / {fmt_points(result.max_points)} points."
    lines = [f"{result.submission}: {score} Seed {result.seed}."]
    if result.has_error:
        lines.append(f"{GRADER_ERROR_PREFIX}some checks could not be graded. {NOT_YOUR_FAULT}")
    elif result.passed:
        lines.append("Every check passed.")
    else:
        lines.append("Some checks did not pass; each one below says what was expected and what to do.")
    for a in result.assignments:
        lines.append(f"- {a.title}: {fmt_points(a.points)} / {fmt_points(a.max_points)} ({outcome(a)})")
        lines.extend(f"  note: {n.text}" for n in a.notes)
    return "\n".join(lines)


def gradescope_json(result: SubmissionResult) -> dict[str, Any]:
    """Gradescope's autograder ``results.json`` format."""
    tests: list[dict[str, Any]] = []
    for a in result.assignments:
        tests.extend(_gradescope_test(a, c) for c in a.checks)
        if a.error is not None:
            tests.append(_gradescope_assignment_error(a))
    return {
        "score": result.points,
        "max_score": result.max_points,
        "execution_time": round(result.duration_s or result.timings.get("total", 0.0)),
        "output": _gradescope_summary(result),
        "visibility": "visible",
        "tests": tests,
    }


def xml_safe(text: str) -> str:
    """Drop characters XML 1.0 cannot represent (ElementTree escapes the rest)."""
    return _XML_INVALID.sub("", text)


def _testcase(suite: ET.Element, assignment: AssignmentResult, check: CheckResult) -> None:
    """Append one ``<testcase>`` for ``check``, with its failure/error/skipped child."""
    case = ET.SubElement(suite, "testcase", classname=xml_safe(assignment.id),
                         name=xml_safe(f"{check.id}: {check.title}"), time=f"{check.duration_s:.3f}")
    tag = {Status.FAILED: "failure", Status.ERROR: "error", Status.SKIPPED: "skipped"}.get(check.status)
    if tag is None:
        return
    first_line = (check.message.strip().splitlines() or [check.status.value])[0]
    child = ET.SubElement(case, tag, message=xml_safe(first_line), type=check.status.value)
    body = _check_output(check)
    if check.details:
        body += f"\n\n{check.details}"
    child.text = xml_safe(body)


def _assignment_error_testcase(suite: ET.Element, assignment: AssignmentResult) -> None:
    """Append a ``<testcase>`` with an ``<error>`` for a grader error that stopped the whole assignment."""
    error = assignment.error or "grader error"
    case = ET.SubElement(suite, "testcase", classname=xml_safe(assignment.id), name="grader", time="0.000")
    first_line = (error.strip().splitlines() or ["grader error"])[0]
    err = ET.SubElement(case, "error", message=xml_safe(first_line), type="grader-error")
    err.text = xml_safe(f"{GRADER_ERROR_PREFIX}{error}\n{NOT_YOUR_FAULT}")


def _testsuite(root: ET.Element, assignment: AssignmentResult) -> None:
    """Append one ``<testsuite>`` for ``assignment``."""
    counts = {s: sum(c.status is s for c in assignment.checks) for s in Status}
    stopped = int(assignment.error is not None)
    suite = ET.SubElement(
        root, "testsuite", name=xml_safe(assignment.id), tests=str(len(assignment.checks) + stopped),
        failures=str(counts[Status.FAILED]), errors=str(counts[Status.ERROR] + stopped),
        skipped=str(counts[Status.SKIPPED]), time=f"{assignment.timings.get('total', 0.0):.3f}",
    )
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", name="title", value=xml_safe(assignment.title))
    for check in assignment.checks:
        _testcase(suite, assignment, check)
    if stopped:
        _assignment_error_testcase(suite, assignment)
    if assignment.notes:
        notes = "\n".join(f"note: {n.text}" for n in assignment.notes)
        ET.SubElement(suite, "system-out").text = xml_safe(notes)


def junit_xml(result: SubmissionResult) -> bytes:
    """JUnit XML: one testsuite per assignment, one testcase per check."""
    root = ET.Element("testsuites", name=xml_safe(result.submission), time=f"{result.duration_s:.3f}")
    for a in result.assignments:
        _testsuite(root, a)
    for attr in ("tests", "failures", "errors", "skipped"):
        root.set(attr, str(sum(int(s.get(attr, "0")) for s in root)))
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def dump_json(data: dict[str, Any]) -> bytes:
    """Pretty, UTF-8 JSON bytes with a trailing newline."""
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
