"""Our own machine-readable report: ``results.json`` (the results model, with ``"$schema"``)."""

from __future__ import annotations

import json
from typing import Any

from grader.report.junit import junit_xml, xml_safe
from grader.report.text import fmt_points
from grader.results import AssignmentResult, SubmissionResult

__all__ = [
    "dump_json",
    "fmt_points",
    "junit_xml",
    "outcome",
    "results_json",
    "results_json_bytes",
    "xml_safe",
]


def outcome(result: SubmissionResult | AssignmentResult) -> str:
    """``error`` (grader broke), ``passed`` (full marks) or ``failed``."""
    return result.outcome


def results_json(result: SubmissionResult) -> dict[str, Any]:
    """Our own schema: the model dump, computed totals included, ``"$schema"`` first."""
    return result.model_dump(mode="json", by_alias=True)


def dump_json(data: dict[str, Any]) -> bytes:
    """Pretty, UTF-8 JSON bytes with a trailing newline."""
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def results_json_bytes(result: SubmissionResult) -> bytes:
    """``results.json`` bytes."""
    return dump_json(results_json(result))
