"""Results as the service stores and shows them: server paths removed, views for students and TAs.

A result comes back from :func:`grader.batch.jobs.run_job` with the paths of the worker's temp
folders in the student's output (a traceback of their own script names the folder it ran in) and
perhaps in a grader error. Before it is stored, every such path is cut to the part inside the
submission (``topic-create/create_topic.py``), and grader error texts lose paths and tracebacks.
"""

from __future__ import annotations

import json
import re
from typing import Any

from grader.report.html import student_view
from grader.results import Status, SubmissionResult
from grader.serve.security import scrub

_TEMP_ROOT = re.compile(
    r"(?:/[^\s/'\"`:]+)*/grader-(?:job|sandbox|docker|dask|kafka|submission|tests)-[^/\s'\"`:]+"
    r"(?P<rest>(?:/[^\s'\"`:]*)?)"
)


def _cut(match: re.Match[str], assignment_ids: set[str]) -> str:
    parts = [p for p in match.group("rest").split("/") if p]
    for i, part in enumerate(parts):
        if part in assignment_ids:
            return "/".join(parts[i:])
    return parts[-1] if parts else "…"


def _strip(value: Any, assignment_ids: set[str]) -> Any:
    if isinstance(value, str):
        return _TEMP_ROOT.sub(lambda m: _cut(m, assignment_ids), value)
    if isinstance(value, list):
        return [_strip(v, assignment_ids) for v in value]
    if isinstance(value, dict):
        return {k: _strip(v, assignment_ids) for k, v in value.items()}
    return value


def public_result(result: SubmissionResult, assignment_ids: list[str]) -> SubmissionResult:
    """``result`` without the grader's temp paths, and its grader errors without paths or tracebacks."""
    data = _strip(result.model_dump(mode="json", by_alias=True), set(assignment_ids))
    for a in data.get("assignments", []):
        if a.get("error"):
            a["error"] = scrub(a["error"]) or "the grader broke on this assignment"
        a["logs"] = {}  # broker logs stay on the worker: they are full of the server's paths
        for c in a.get("checks", []):
            if c.get("status") == Status.ERROR.value:
                c["message"] = scrub(c.get("message", ""))
                c["details"] = scrub(c.get("details", ""))
    return SubmissionResult.model_validate(data)


def load(result_json: str) -> SubmissionResult:
    """A stored result."""
    return SubmissionResult.model_validate_json(result_json)


def for_viewer(result: SubmissionResult, ta: bool) -> SubmissionResult:
    """What this viewer may see: everything for a TA, the student view (no hidden checks) otherwise."""
    return result if ta else student_view(result)


def check_states(result: SubmissionResult) -> dict[tuple[str, str], tuple[str, str]]:
    """(assignment id, check id) -> (status, title)."""
    return {(a.id, c.id): (c.status.value, c.title) for a in result.assignments for c in a.checks}


def changes(previous: SubmissionResult, current: SubmissionResult) -> dict[str, list[str]]:
    """Checks gained (now passed, not before) and lost (passed before, not now) between two attempts."""
    before, now = check_states(previous), check_states(current)
    gained = [
        title for key, (st, title) in now.items() if st == "passed" and before.get(key, ("",))[0] != "passed"
    ]
    lost = [
        title for key, (st, title) in now.items() if st != "passed" and before.get(key, ("",))[0] == "passed"
    ]
    return {"gained": gained, "lost": lost}


def dumps(result: SubmissionResult) -> str:
    """The stored form of a result."""
    return json.dumps(result.model_dump(mode="json", by_alias=True), separators=(",", ":"))
