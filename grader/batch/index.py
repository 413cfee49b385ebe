"""The class overview page ``index.html``: histogram, what to re-teach, grader problems, every report."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment

from grader.batch.records import StudentRecord
from grader.report.html import html_id, seconds, strict_environment
from grader.report.machine import fmt_points

TEMPLATES = Path(__file__).parent / "templates"


def _pts(value: float | None) -> str:
    return "–" if value is None else fmt_points(value)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:g} %"


@cache
def environment() -> Environment:
    """Autoescaping Jinja2 environment (student ids and notes come from untrusted file names)."""
    env = strict_environment(TEMPLATES)
    env.filters.update(pts=_pts, pct=_pct, seconds=seconds)
    env.globals.update(html_id=html_id)
    return env


def render_index(records: list[StudentRecord], summary: dict[str, Any], assignment_ids: list[str]) -> str:
    """Render the class page from the records and the summary (``summary.json``'s content)."""
    peak = max((b["count"] for b in summary["histogram"]), default=0)
    return (
        environment()
        .get_template("index.html.j2")
        .render(records=records, s=summary, assignments=assignment_ids, peak=max(1, peak))
    )
