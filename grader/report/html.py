"""The human report: one self-contained, phone-friendly HTML page rendered with Jinja2 (autoescaped)."""

from __future__ import annotations

import re
import shlex
import signal
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from grader.report.machine import fmt_points, outcome
from grader.results import SubmissionResult

TEMPLATES = Path(__file__).parent / "templates"
TEMPLATE = "report.html.j2"

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_NOT_ID = re.compile(r"[^A-Za-z0-9_.:-]+")


def clean_output(text: str) -> str:
    """Strip ANSI colour codes and other control characters from captured output."""
    return _CONTROL.sub("", _ANSI.sub("", text))


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


@cache
def environment() -> Environment:
    """The Jinja2 environment, autoescaping everything (student output may contain markup)."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(pts=fmt_points, clean=clean_output, seconds=seconds, shell=shlex.join,
                       exit_text=exit_text)
    env.globals.update(outcome=outcome, html_id=html_id, percent=percent)
    return env


def render_html(result: SubmissionResult) -> str:
    """Render ``result`` as a complete HTML page."""
    return environment().get_template(TEMPLATE).render(r=result)
