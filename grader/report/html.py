"""The human report: one self-contained, phone-friendly HTML page rendered with Jinja2 (autoescaped)."""

from __future__ import annotations

import re
import shlex
import signal
from functools import cache
from pathlib import Path
from typing import Literal

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from grader.report.machine import outcome
from grader.report.text import clean_output, fmt_points
from grader.results import AssignmentResult, Note, SubmissionResult, Visibility

TEMPLATES = Path(__file__).parent / "templates"
TEMPLATE = "report.html.j2"

View = Literal["ta", "student"]

_NOT_ID = re.compile(r"[^A-Za-z0-9_.:-]+")

__all__ = ["clean_output", "render_html", "student_view"]


def html_id(*parts: str) -> str:
    """A valid, readable HTML id from ``parts`` (``check-topic-create-partitions``)."""
    return "-".join(_NOT_ID.sub("_", p) for p in parts)


def percent(points: float, max_points: float) -> int:
    """Whole-number percentage, 0 when nothing was possible."""
    return round(100 * points / max_points) if max_points > 0 else 0


def seconds(value: float) -> str:
    """``0.4 s``, ``12.3 s``, ``2 min 5 s``."""
    if value < 60:
        return f"{value:.1f} s"
    minutes, rest = divmod(round(value), 60)
    return f"{minutes} min {rest} s"


def exit_text(returncode: int | None) -> str:
    """``exit code 0``, ``killed by signal 9 (SIGKILL)`` or ``could not be started``."""
    if returncode is None:
        return "could not be started"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            return f"killed by signal {-returncode}"
        return f"killed by signal {-returncode} ({name})"
    return f"exit code {returncode}"


def strict_environment(templates: Path, extensions: tuple[str, ...] = ()) -> Environment:
    """A Jinja2 environment over ``templates`` as every page of the grader uses one: everything is
    autoescaped (student output, ids and notes may hold markup), a missing variable is an error."""
    return Environment(
        loader=FileSystemLoader(templates),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        extensions=list(extensions),
        trim_blocks=True,
        lstrip_blocks=True,
    )


@cache
def environment() -> Environment:
    """The Jinja2 environment, autoescaping everything (student output may contain markup)."""
    env = strict_environment(TEMPLATES)
    env.filters.update(
        pts=fmt_points, clean=clean_output, seconds=seconds, shell=shlex.join, exit_text=exit_text
    )
    env.globals.update(outcome=outcome, html_id=html_id, percent=percent)
    return env


def _student_assignment(a: AssignmentResult) -> AssignmentResult:
    shown = [c for c in a.checks if c.visibility is Visibility.VISIBLE]
    held = [c for c in a.checks if c.visibility is not Visibility.VISIBLE]
    if not held:
        return a
    later = sum(1 for c in held if c.visibility is Visibility.AFTER_DUE_DATE)
    worth = fmt_points(sum(c.max_points for c in held))
    when = "after the due date" if later == len(held) else "later or only to your TA"
    note = Note(text=f"{len(held)} more check(s), worth {worth} points, are graded but shown {when}.")
    return a.model_copy(
        update={
            "checks": shown,
            "max_points": a.max_points - sum(c.max_points for c in held),
            "notes": [*a.notes, note],
        }
    )


def student_view(result: SubmissionResult) -> SubmissionResult:
    """``result`` as a student may see it now: checks not visible yet are left out of list and totals."""
    return result.model_copy(update={"assignments": [_student_assignment(a) for a in result.assignments]})


def render_html(result: SubmissionResult, view: View = "ta") -> str:
    """Render ``result`` as a complete HTML page; ``view="student"`` leaves out checks not visible yet."""
    shown = student_view(result) if view == "student" else result
    return environment().get_template(TEMPLATE).render(r=shown)
